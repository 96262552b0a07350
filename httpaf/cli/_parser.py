"""The command line: every option of uvicorn's, httpaf's own, and one per Config field.

Each option is stored under the :class:`~._options.Options` field of the same name;
:func:`options_from_namespace` makes the :class:`~._options.Options`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
from typing import Any

from httpaf import __version__, implementation
from httpaf.model import Config

from ._logging import LOG_LEVELS
from ._options import CONFIG_FIELDS, LOOPS, WS_DEFAULTS, Options

__all__ = ["build_parser", "options_from_namespace"]

#: Prefix of the destinations of the Config options (``limit__max_body_size``).
_LIMIT = "limit__"

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _boolean(text: str) -> bool:
    """A boolean as click reads one (``true``/``false``, ``1``/``0``, ``yes``/``no``...)."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _existing(text: str) -> str:
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"{text!r} does not exist")
    return text


def _number(kind: type, optional: bool) -> Any:
    def convert(text: str) -> Any:
        if optional and text.lower() in ("none", "off", "unlimited"):
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None

    convert.__name__ = kind.__name__
    return convert


def _config_docs() -> dict[str, str]:
    """The ``#:`` comments above each field of :class:`Config`, as help texts."""
    try:
        source = inspect.getsource(Config)
    except (OSError, TypeError):  # pragma: no cover - no source (frozen)
        return {}
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and pending:
            docs[match.group(1)] = " ".join(pending)
        pending = []
    return docs


def _add_uvicorn_options(parser: argparse.ArgumentParser) -> None:
    """uvicorn's options, in the order of its ``--help``, with its defaults."""
    bind = parser.add_argument_group("where to listen")
    bind.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    bind.add_argument(
        "--port", type=int, default=8000, help="port to bind; 0 picks a free one (default: 8000)"
    )
    bind.add_argument("--uds", default=None, help="bind this Unix domain socket instead")
    bind.add_argument("--fd", type=int, default=None, help="serve this inherited, bound socket")
    bind.add_argument(
        "--backlog", type=int, default=2048, help="listen backlog (default: %(default)s)"
    )

    reload = parser.add_argument_group("reloading (needs httpaf[reload]: watchfiles)")
    reload.add_argument(
        "--reload", action="store_true", help="restart the worker when a watched file changes"
    )
    reload.add_argument(
        "--reload-dir",
        dest="reload_dirs",
        action="append",
        type=_existing,
        metavar="PATH",
        help="a directory to watch (repeatable; default: the current directory)",
    )
    reload.add_argument(
        "--reload-include",
        dest="reload_includes",
        action="append",
        metavar="GLOB",
        help="a pattern of files to watch (repeatable; default: *.py, unless excluded)",
    )
    reload.add_argument(
        "--reload-exclude",
        dest="reload_excludes",
        action="append",
        metavar="GLOB",
        help="a pattern of files or directories not to watch (repeatable; default: "
        "'.*', '.py[cod]', '.sw.*', '~*', unless included)",
    )
    reload.add_argument(
        "--reload-delay",
        type=float,
        default=0.25,
        metavar="FLOAT",
        help="seconds between two looks at the changes (default: %(default)s)",
    )

    procs = parser.add_argument_group("processes and event loop")
    procs.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: $WEB_CONCURRENCY, or 1); ignored with --reload",
    )
    procs.add_argument(
        "--loop",
        default="auto",
        metavar="{auto,asyncio,uvloop,none,module:factory}",
        help="event loop (default: auto: uvloop when installed); zuvloop is taken as auto",
    )
    procs.add_argument(
        "--limit-max-requests",
        type=int,
        default=None,
        metavar="N",
        help="a worker stops gracefully after N requests (a supervisor starts another)",
    )
    procs.add_argument(
        "--limit-max-requests-jitter",
        type=int,
        default=0,
        metavar="N",
        help="add a random 0..N to --limit-max-requests per worker (default: 0)",
    )
    procs.add_argument(
        "--timeout-worker-healthcheck",
        type=float,
        default=5,
        metavar="SECONDS",
        help="kill a worker that leaves a health check unanswered this long; a new "
        "worker must listen within it on SIGHUP (default: 5)",
    )
    procs.add_argument(
        "--timeout-graceful-shutdown",
        type=_number(float, True),
        default=None,
        metavar="SECONDS",
        help="seconds in-flight requests get at shutdown (default: no limit)",
    )

    proto = parser.add_argument_group("protocols")
    proto.add_argument(
        "--http",
        default="auto",
        metavar="{auto,h11,httptools,zttp,...}",
        help="uvicorn's HTTP implementation: accepted, and httpaf's own parser is used",
    )
    proto.add_argument("--http2", action="store_true", help="refused: httpaf serves HTTP/1.1 only")
    proto.add_argument(
        "--h11-max-incomplete-event-size",
        type=int,
        default=None,
        metavar="BYTES",
        help="h11's head limit: accepted; httpaf uses --max-head-size and --max-field-size",
    )
    proto.add_argument(
        "--ws",
        default=WS_DEFAULTS["ws"],
        metavar="{auto,none,websockets,websockets-sansio,wsproto}",
        help="uvicorn's WebSocket implementation (or module:Class): accepted, and httpaf's "
        "own serves WebSocket; none: upgrade requests reach the application as HTTP "
        "(ASGI; default: auto)",
    )
    proto.add_argument(
        "--ws-max-size",
        type=int,
        default=WS_DEFAULTS["ws_max_size"],
        metavar="BYTES",
        help="largest WebSocket message (default: %(default)s)",
    )
    proto.add_argument(
        "--ws-max-queue",
        type=int,
        default=WS_DEFAULTS["ws_max_queue"],
        metavar="N",
        help="WebSocket messages queued for the application (default: %(default)s)",
    )
    proto.add_argument(
        "--ws-ping-interval",
        type=_number(float, True),
        default=WS_DEFAULTS["ws_ping_interval"],
        metavar="SECONDS",
        help="seconds between WebSocket pings (default: %(default)s)",
    )
    proto.add_argument(
        "--ws-ping-timeout",
        type=_number(float, True),
        default=WS_DEFAULTS["ws_ping_timeout"],
        metavar="SECONDS",
        help="seconds to wait for a WebSocket pong (default: %(default)s)",
    )
    proto.add_argument(
        "--ws-per-message-deflate",
        type=_boolean,
        default=WS_DEFAULTS["ws_per_message_deflate"],
        metavar="BOOLEAN",
        help="offer WebSocket per-message compression (default: %(default)s)",
    )

    app = parser.add_argument_group("the application")
    app.add_argument(
        "--interface",
        choices=["auto", "asgi3", "asgi2", "asgi", "wsgi"],
        default="auto",
        help="auto: ASGI 3 when __call__ is a coroutine function, ASGI 2 for a class "
        "made with the scope, else WSGI (default: auto)",
    )
    app.add_argument(
        "--lifespan",
        choices=["auto", "on", "off"],
        default="auto",
        help="ASGI lifespan events (default: auto)",
    )
    app.add_argument("--factory", action="store_true", help="the application is a factory: call it")
    app.add_argument(
        "--app-dir",
        default="",
        help="look for the application in this directory (default: the current one)",
    )
    app.add_argument(
        "--env-file",
        type=_existing,
        default=None,
        metavar="PATH",
        help="set environment variables from this dotenv file (needs httpaf[dotenv])",
    )
    app.add_argument("--root-path", default="", help="the application's mount path")
    app.add_argument(
        "--reset-contextvars",
        action="store_true",
        help="run each ASGI request in an empty contextvars context",
    )
    app.add_argument(
        "--limit-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="503 beyond this many running requests or open connections",
    )

    logs = parser.add_argument_group("logging")
    logs.add_argument(
        "--log-config",
        type=_existing,
        default=None,
        metavar="PATH",
        help="logging configuration: .json or .yaml (dictConfig), else .ini (fileConfig)",
    )
    logs.add_argument(
        "--log-level",
        choices=list(LOG_LEVELS),
        default=None,
        help="level of httpaf's loggers (default: info)",
    )
    logs.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a line per response on httpaf.access (default: on)",
    )
    logs.add_argument(
        "--use-colors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="colored level names (default: when writing to a terminal)",
    )

    heads = parser.add_argument_group("headers and proxies")
    heads.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="believe X-Forwarded-For/-Proto from --forwarded-allow-ips (default: on)",
    )
    heads.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="comma-separated proxy addresses or networks to trust, or '*' "
        "(default: $FORWARDED_ALLOW_IPS, or 127.0.0.1,::1)",
    )
    heads.add_argument(
        "--server-header",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send 'Server: httpaf' (default: on)",
    )
    heads.add_argument(
        "--date-header",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send a Date field (default: on)",
    )
    heads.add_argument(
        "--header",
        dest="headers",
        action="append",
        metavar="NAME:VALUE",
        help="a field added to every response (repeatable)",
    )

    tls = parser.add_argument_group("TLS")
    tls.add_argument("--ssl-keyfile", default=None, help="TLS key file")
    tls.add_argument("--ssl-certfile", default=None, help="TLS certificate file")
    tls.add_argument("--ssl-keyfile-password", default=None, help="password of the TLS key")
    tls.add_argument(
        "--ssl-version",
        type=int,
        default=Options.ssl_version,
        help="ssl module protocol number (default: %(default)s, PROTOCOL_TLS_SERVER)",
    )
    tls.add_argument(
        "--ssl-cert-reqs",
        type=int,
        default=Options.ssl_cert_reqs,
        help="client certificates: 0 none, 1 optional, 2 required (default: %(default)s)",
    )
    tls.add_argument("--ssl-ca-certs", default=None, help="CA certificates of the clients")
    tls.add_argument("--ssl-ciphers", default=None, help="OpenSSL cipher list")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of :class:`Config`, typed from its annotation."""
    group = parser.add_argument_group(
        "limits and timeouts (httpaf.Config; 'none' for no limit where allowed)"
    )
    docs = _config_docs()
    for field in dataclasses.fields(Config):
        if field.name == "date_header":
            continue  # uvicorn's --date-header/--no-date-header, among the server options
        flag = "--" + field.name.replace("_", "-")
        annotation = field.type if isinstance(field.type, str) else repr(field.type)
        text = docs.get(field.name, f"Config.{field.name}")
        if field.name == "keep_alive_timeout":  # uvicorn's --timeout-keep-alive
            group.add_argument(
                "--timeout-keep-alive",
                flag,
                dest="timeout_keep_alive",
                type=_number(float, True),
                default=Options.timeout_keep_alive,
                metavar="SECONDS",
                help=f"{text} (default: 5)",
            )
            continue
        help_text = f"{text} (default: {field.default})"
        if "bool" in annotation:
            group.add_argument(
                flag,
                dest=_LIMIT + field.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            kind: type = float if "float" in annotation else int
            group.add_argument(
                flag,
                dest=_LIMIT + field.name,
                type=_number(kind, "None" in annotation),
                default=argparse.SUPPRESS,
                metavar=kind.__name__.upper(),
                help=help_text,
            )


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="httpaf",
        description="Serve an ASGI or WSGI application with httpaf. Every option of "
        "uvicorn's command is accepted with the same meaning (docs/cli.md).",
    )
    parser.add_argument("app", help='the application, as "module:attribute"')
    _add_uvicorn_options(parser)
    own = parser.add_argument_group("httpaf's own")
    own.add_argument(
        "--reuse-port",
        action="store_true",
        help="with --workers, each worker binds its own SO_REUSEPORT socket",
    )
    own.add_argument(
        "--threads", type=int, default=10, help="WSGI worker threads per process (default: 10)"
    )
    own.add_argument(
        "--version", action="version", version=f"httpaf {__version__} ({implementation})"
    )
    _add_config_options(parser)
    return parser


def options_from_namespace(args: argparse.Namespace) -> Options:
    """The :class:`Options` of a parsed command line."""
    values = vars(args)
    names = {f.name for f in dataclasses.fields(Options)} - {"limits", "log_config"}
    given = {name: values[name] for name in names if name in values}
    limits = {name: values[_LIMIT + name] for name in CONFIG_FIELDS if _LIMIT + name in values}
    options = Options(**given, limits=limits)
    if values.get("log_config") is not None:  # else uvicorn's look (the default)
        options.log_config = values["log_config"]
    if options.loop not in LOOPS and ":" not in options.loop:
        raise ValueError(f"--loop: unknown event loop {options.loop!r}")
    return options
