"""The command and :func:`httpaf.run`: from :class:`~._options.Options` to serving processes.

In order: logging (uvicorn's look, or ``--log-config``), the ``--env-file``, the notices
about uvicorn-only options, the socket; then one process serving, a reloader
(``--reload``) or a supervisor of ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from httpaf import implementation

from ._envfile import load_env_file
from ._logging import configure_logging, read_log_config
from ._options import Options, log_notices
from ._parser import build_parser, options_from_namespace
from ._sockets import bind_socket, describe
from ._worker import BOOT_ERROR, serve_in_process

__all__ = ["main", "make_config", "run", "serve"]

logger = logging.getLogger("httpaf.cli")


def make_config(args: argparse.Namespace | Options) -> Any:
    """The :class:`httpaf.Config` of a parsed command line (or of :class:`Options`)."""
    options = options_from_namespace(args) if isinstance(args, argparse.Namespace) else args
    return options.make_config()


def serve(options: Options) -> int:
    """Serve as ``options`` say until stopped; the exit status (3: could not start)."""
    try:
        options.log_config = read_log_config(options.log_config)
        configure_logging(
            options.log_config,
            log_level=options.log_level_number(),
            use_colors=options.use_colors,
        )
    except Exception as error:  # (logging.config reports a bad file with ValueError)
        print(f"httpaf: --log-config: {error}", file=sys.stderr)
        return BOOT_ERROR
    try:
        if options.env_file is not None:
            load_env_file(options.env_file)
        workers = options.worker_count()
    except (RuntimeError, ValueError) as error:
        logger.error("%s", error)
        return BOOT_ERROR
    log_notices(options, logger)
    reload = options.reload
    if not reload and (options.reload_dirs or options.reload_includes or options.reload_excludes):
        logger.warning("--reload-dir, --reload-include and --reload-exclude need --reload")
    if (reload or workers > 1) and not isinstance(options.app, str):
        logger.error(
            "--reload and --workers need the application as an import string "
            '("module:attribute"): each process imports it'
        )
        return BOOT_ERROR
    if reload and workers > 1:
        logger.warning("--workers is ignored with --reload (one worker is reloaded)")
        workers = 1
    if reload:
        from ._reload import require_watchfiles

        try:
            require_watchfiles()
        except RuntimeError as error:
            logger.error("%s", error)
            return BOOT_ERROR
    # --reuse-port: the parent only holds the port (bound, not listening: it gets no
    # connections); each worker listens on a socket of its own.
    reuse_port = options.reuse_port and workers > 1 and options.uds is None and options.fd is None
    options.reuse_port = reuse_port
    try:
        sock = bind_socket(
            options.host,
            options.port,
            uds=options.uds,
            fd=options.fd,
            backlog=options.backlog,
            reuse_port=reuse_port,
            listen=not reuse_port,
        )
    except OSError as error:
        logger.error("cannot bind: %s", error)
        return 1
    scheme = "https" if options.ssl_certfile or options.ssl_context_factory else "http"
    where = describe(sock, scheme)
    try:
        if reload:
            from ._reload import Reloader

            print(
                f"httpaf ({implementation}) serving on {where} with reload (pid {os.getpid()})",
                flush=True,
            )
            return Reloader(options, sock).run()
        if workers == 1:
            return serve_in_process(options, sock, announce=where, multiprocess=False)
        from ._supervisor import Supervisor

        options.workers = workers
        print(
            f"httpaf ({implementation}) serving on {where} with {workers} workers "
            f"(pid {os.getpid()})",
            flush=True,
        )
        return Supervisor(options, sock).run()
    finally:
        sock.close()
        if options.uds is not None:
            with contextlib.suppress(OSError):
                os.unlink(options.uds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``httpaf`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = options_from_namespace(args)
        options.check()
    except ValueError as error:
        parser.error(str(error))
    return serve(options)


def run(app: Any, **keywords: Any) -> None:
    """Serve ``app`` as ``uvicorn.run(app, **keywords)`` would, with httpaf.

    ``app`` is the application or its import string (``"module:attribute"``; needed
    for ``reload`` and ``workers``). ``keywords`` are ``uvicorn.run``'s (``host``,
    ``port``, ``workers``, ``reload``, ``log_config``, ``ssl_certfile``, ...), httpaf's
    ``reuse_port`` and ``threads``, and any :class:`httpaf.Config` field. Returns when
    stopped by SIGINT or SIGTERM; raises ``SystemExit(3)`` if serving could not start,
    as uvicorn does.
    """
    options = Options.from_keywords(app, keywords)
    options.check()
    code = serve(options)
    if code:
        raise SystemExit(code)
