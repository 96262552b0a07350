"""The ``httpaf`` command: serve an ASGI or WSGI application.

    httpaf module:app --host 0.0.0.0 --port 8000 --workers 4

The parent binds the listening socket (TCP, ``--uds`` or an inherited ``--fd``). With
one worker it serves in-process; with ``--workers N`` it forks N children that share the
socket (or, with ``--reuse-port``, each bind their own with ``SO_REUSEPORT``), restarts
a child that dies, and forwards SIGTERM/SIGINT to them for a graceful shutdown. The
application is imported in each child, after the fork. ``--interface auto`` serves an
application whose ``__call__`` is a coroutine function as ASGI, any other as WSGI.
Every field of :class:`httpaf.Config` is an option (``--max-request-line`` ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import inspect
import logging
import os
import re
import select
import signal
import socket
import ssl
import stat
import sys
import time
from collections.abc import Sequence
from typing import Any

from httpaf import __version__, implementation
from httpaf.model import Config

__all__ = [
    "BOOT_ERROR",
    "AppLoadError",
    "bind_socket",
    "build_parser",
    "detect_interface",
    "load_app",
    "main",
    "start_server",
]

logger = logging.getLogger("httpaf.cli")

#: Exit status of a worker that could not start (its application failed to load).
BOOT_ERROR = 3

LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}

_LOOPS = {"auto": None, "asyncio": False, "uvloop": True}


class AppLoadError(Exception):
    """The application named on the command line cannot be loaded."""


# -- loading the application -------------------------------------------------------------


def load_app(spec: str, *, factory: bool = False, app_dir: str | None = ".") -> Any:
    """Import ``"module:attribute"`` (the attribute may be dotted); call it if ``factory``.

    ``app_dir`` is put first on ``sys.path`` (the current directory by default, so
    that ``httpaf main:app`` finds ``./main.py`` from the installed console script).
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AppLoadError(f'the application must be given as "module:attribute", not {spec!r}')
    if app_dir is not None:
        path = os.path.abspath(app_dir)
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name and not module_name.startswith(f"{error.name}."):
            raise  # something the module imports is missing: show the real error
        raise AppLoadError(f"could not import module {module_name!r}") from None
    app: Any = module
    try:
        for part in attr.split("."):
            app = getattr(app, part)
    except AttributeError:
        raise AppLoadError(f"attribute {attr!r} not found in module {module_name!r}") from None
    if factory:
        if not callable(app):
            raise AppLoadError(f"--factory: {spec} is not callable")
        app = app()
    if not callable(app):
        raise AppLoadError(f"{spec} is not callable (did it need --factory?)")
    return app


def detect_interface(app: Any) -> str:
    """``"asgi"`` when ``app`` (or its ``__call__``) is a coroutine function, else ``"wsgi"``."""
    if inspect.iscoroutinefunction(app):
        return "asgi"
    call = getattr(app, "__call__", None)  # noqa: B004 - instances with async __call__
    if call is not None and inspect.iscoroutinefunction(call):
        return "asgi"
    return "wsgi"


# -- sockets ------------------------------------------------------------------------------


def bind_socket(
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    uds: str | None = None,
    fd: int | None = None,
    backlog: int = 2048,
    reuse_port: bool = False,
    listen: bool = True,
) -> socket.socket:
    """A listening, non-blocking socket: a Unix socket at ``uds``, the inherited file
    descriptor ``fd``, or TCP on ``host:port`` (``SO_REUSEPORT`` if ``reuse_port``)."""
    if fd is not None:
        sock = socket.socket(fileno=fd)
    elif uds is not None:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(uds).st_mode):
                os.unlink(uds)  # a stale socket from an earlier run
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(uds)
        os.chmod(uds, 0o666)
    else:
        family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError:
            sock.close()
            raise
    if listen:
        sock.listen(backlog)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def describe(sock: socket.socket, scheme: str) -> str:
    """Where ``sock`` listens, as a URL (``unix:/path`` for Unix sockets)."""
    if sock.family == socket.AF_UNIX:
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


# -- options --------------------------------------------------------------------------------


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


_CONFIG_FIELDS: list[str] = []

#: uvicorn's names for some :class:`Config` fields, accepted too.
_ALIASES = {"keep_alive_timeout": ["--timeout-keep-alive"]}


def _add_config_options(parser: argparse.ArgumentParser, taken: set[str]) -> None:
    """One option per field of :class:`Config`, typed from its annotation."""
    group = parser.add_argument_group(
        "limits and timeouts (httpaf.Config; 'none' for no limit where allowed)"
    )
    docs = _config_docs()
    _CONFIG_FIELDS.clear()
    for field in dataclasses.fields(Config):
        flag = "--" + field.name.replace("_", "-")
        if flag in taken:
            continue
        flags = [flag, *(a for a in _ALIASES.get(field.name, ()) if a not in taken)]
        annotation = field.type if isinstance(field.type, str) else repr(field.type)
        default = field.default
        text = docs.get(field.name, f"Config.{field.name}")
        help_text = f"{text} (default: {default})"
        if "bool" in annotation:
            group.add_argument(
                *flags,
                dest=f"config_{field.name}",
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            kind: type = float if "float" in annotation else int
            group.add_argument(
                *flags,
                dest=f"config_{field.name}",
                type=_number(kind, "None" in annotation),
                default=argparse.SUPPRESS,
                metavar=kind.__name__.upper(),
                help=help_text,
            )
        _CONFIG_FIELDS.append(field.name)


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="httpaf",
        description="Serve an ASGI or WSGI application with httpaf.",
    )
    add = parser.add_argument
    add("app", help='the application, as "module:attribute"')
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=int, default=8000, help="port to bind (default: %(default)s)")
    add("--uds", default=None, help="bind to this Unix domain socket instead")
    add("--fd", type=int, default=None, help="serve this inherited, bound socket")
    add("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    add(
        "--reuse-port",
        action="store_true",
        help="with --workers, each worker binds its own SO_REUSEPORT socket",
    )
    add("--loop", choices=sorted(_LOOPS), default="auto", help="event loop (default: auto)")
    add(
        "--interface",
        choices=["auto", "asgi", "wsgi"],
        default="auto",
        help="application interface (default: auto)",
    )
    add("--factory", action="store_true", help="the application is a factory: call it")
    add("--app-dir", default=".", help="put this directory on sys.path (default: .)")
    add("--ssl-certfile", default=None, help="TLS certificate file")
    add("--ssl-keyfile", default=None, help="TLS key file")
    add("--ssl-keyfile-password", default=None, help="password of the TLS key")
    add("--log-level", choices=list(LOG_LEVELS), default="info", help="log level")
    add(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log each request (default: on)",
    )
    add("--root-path", default="", help="the application's mount path (SCRIPT_NAME)")
    add(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="believe X-Forwarded-For/-Proto from --forwarded-allow-ips (default: on)",
    )
    add(
        "--forwarded-allow-ips",
        default=None,
        help="comma-separated proxy addresses or networks to trust, or '*' "
        "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    add("--limit-concurrency", type=int, default=None, help="503 beyond this many requests")
    add(
        "--timeout-graceful-shutdown",
        type=float,
        default=10.0,
        help="seconds in-flight requests get at shutdown (default: %(default)s)",
    )
    add(
        "--lifespan",
        choices=["auto", "on", "off"],
        default="auto",
        help="ASGI lifespan events (default: auto)",
    )
    add(
        "--server-header",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send 'Server: httpaf' (default: on)",
    )
    add(
        "--date-header",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send a Date field (default: on)",
    )
    add("--threads", type=int, default=10, help="WSGI worker threads per process (default: 10)")
    add("--backlog", type=int, default=2048, help="listen backlog (default: %(default)s)")
    add(
        "--version",
        action="version",
        version=f"httpaf {__version__} ({implementation})",
    )
    taken = set(parser._option_string_actions)
    _add_config_options(parser, taken)
    return parser


def make_config(args: argparse.Namespace) -> Config:
    """The :class:`Config` of the ``--max-...`` options given (defaults for the rest)."""
    values: dict[str, Any] = {}
    for name in _CONFIG_FIELDS:
        value = getattr(args, f"config_{name}", argparse.SUPPRESS)
        if value is not argparse.SUPPRESS:
            values[name] = value
    return Config(**values)


def make_ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """A server TLS context from ``--ssl-certfile``/``--ssl-keyfile``, or ``None``."""
    if not args.ssl_certfile:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.ssl_certfile, args.ssl_keyfile, args.ssl_keyfile_password)
    return context


# -- serving ----------------------------------------------------------------------------------


async def start_server(
    app: Any,
    interface: str,
    *,
    sock: socket.socket,
    config: Config,
    ssl_context: ssl.SSLContext | None = None,
    root_path: str = "",
    proxy_headers: bool = True,
    forwarded_allow_ips: Any = None,
    access_log: bool = True,
    limit_concurrency: int | None = None,
    lifespan: str = "auto",
    threads: int = 10,
    multiprocess: bool = False,
    **extra: Any,
) -> Any:
    """Serve ``app`` on ``sock`` through :mod:`httpaf.asgi` or :mod:`httpaf.wsgi`.

    Returns the server (an :class:`httpaf.asyncio.Server`); ``extra`` goes to the
    interface's ``serve``.
    """
    common: dict[str, Any] = {
        "config": config,
        "sock": sock,
        "ssl": ssl_context,
        "root_path": root_path,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "access_log": access_log,
        "limit_concurrency": limit_concurrency,
        **extra,
    }
    if interface == "asgi":
        from httpaf import asgi

        return await asgi.serve(app, None, 0, lifespan=lifespan, **common)
    if interface == "wsgi":
        from httpaf import wsgi

        return await wsgi.serve(app, None, 0, threads=threads, multiprocess=multiprocess, **common)
    raise ValueError(f"unknown interface {interface!r}")


def _setup_logging(level_name: str) -> None:
    level = LOG_LEVELS[level_name]
    logging.addLevelName(5, "TRACE")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger().setLevel(level)


def _serve_in_process(
    args: argparse.Namespace, sock: socket.socket, *, announce: str | None, multiprocess: bool
) -> int:
    """Load the application and serve it on ``sock`` until SIGINT/SIGTERM."""
    from httpaf.aio import new_event_loop

    try:
        app = load_app(args.app, factory=args.factory, app_dir=args.app_dir)
        interface = args.interface if args.interface != "auto" else detect_interface(app)
        config = make_config(args)
        ssl_context = make_ssl_context(args)
    except (AppLoadError, ValueError, OSError, ssl.SSLError) as error:
        logger.error("%s", error)
        return BOOT_ERROR
    except Exception:
        logger.exception("could not load %s", args.app)
        return BOOT_ERROR
    loop = new_event_loop(_LOOPS[args.loop])
    asyncio.set_event_loop(loop)
    started = False

    async def main() -> None:
        nonlocal started
        server = await start_server(
            app,
            interface,
            sock=sock,
            config=config,
            ssl_context=ssl_context,
            root_path=args.root_path,
            proxy_headers=args.proxy_headers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            access_log=args.access_log,
            limit_concurrency=args.limit_concurrency,
            lifespan=args.lifespan,
            threads=args.threads,
            multiprocess=multiprocess,
            server_header=args.server_header,
            date_header=args.date_header,
        )
        started = True
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop_name = type(loop).__module__.split(".")[0]
        logger.info("worker %d serving %s (%s, %s)", os.getpid(), args.app, interface, loop_name)
        if announce is not None:
            print(
                f"httpaf ({implementation}) serving on {announce} ({interface.upper()}, "
                f"{loop_name})",
                flush=True,
            )
        await stop.wait()
        logger.info("worker %d shutting down", os.getpid())
        await server.shutdown(args.timeout_graceful_shutdown)

    try:
        loop.run_until_complete(main())
    except Exception:
        logger.exception("server error")
        return 1 if started else BOOT_ERROR
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
    return 0


class _Supervisor:
    """The parent of ``--workers N``: forks, restarts, and stops the workers.

    Signals are recorded by tiny handlers and noticed through ``signal.set_wakeup_fd``
    (portable to every Unix, unlike ``sigtimedwait``).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP)

    def __init__(self, args: argparse.Namespace, sock: socket.socket) -> None:
        self.args = args
        self.sock = sock
        self.children: dict[int, float] = {}  # pid -> start time
        self.stopping = False
        self.exit_code = 0
        self.received: list[int] = []
        self._pipe: tuple[int, int] | None = None

    def _record(self, signum: int, frame: object) -> None:
        self.received.append(signum)

    def spawn(self) -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                if self._pipe is not None:
                    for fd in self._pipe:
                        os.close(fd)
                for sig in self.SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                sock = self.sock
                if self.args.reuse_port:
                    host, port = sock.getsockname()[:2]
                    sock = bind_socket(host, port, backlog=self.args.backlog, reuse_port=True)
                code = _serve_in_process(self.args, sock, announce=None, multiprocess=True)
            except BaseException:
                logger.exception("worker failed")
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = time.monotonic()

    def run(self) -> int:
        read_fd, write_fd = self._pipe = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd)
        for sig in self.SIGNALS:
            signal.signal(sig, self._record)
        try:
            for _ in range(self.args.workers):
                self.spawn()
            return self._supervise(read_fd)
        finally:
            signal.set_wakeup_fd(-1)
            for sig in self.SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            os.close(read_fd)
            os.close(write_fd)

    def _supervise(self, read_fd: int) -> int:
        deadline: float | None = None
        while self.children:
            timeout = 1.0 if deadline is None else max(0.05, deadline - time.monotonic())
            select.select([read_fd], [], [], timeout)
            with contextlib.suppress(BlockingIOError):
                while os.read(read_fd, 512):
                    pass
            received, self.received = self.received, []
            for signum in received:
                if signum in (signal.SIGINT, signal.SIGTERM):
                    if self.stopping:
                        self.kill(signal.SIGKILL)  # a second signal: now
                    else:
                        logger.info("stopping the workers")
                        self.stopping = True
                        deadline = time.monotonic() + self.args.timeout_graceful_shutdown + 5
                        self.kill(signal.SIGTERM)
                elif signum == signal.SIGHUP and not self.stopping:
                    logger.info("SIGHUP: restarting the workers")
                    self.kill(signal.SIGTERM)  # each is replaced once it has exited
            self.reap()
            if self.stopping and deadline is None:  # a worker could not boot
                deadline = time.monotonic() + self.args.timeout_graceful_shutdown + 5
            if deadline is not None and time.monotonic() >= deadline and self.children:
                logger.warning("workers did not stop in time: killing them")
                self.kill(signal.SIGKILL)
                deadline = time.monotonic() + 5
        return self.exit_code

    def kill(self, sig: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            started = self.children.pop(pid, None)
            if started is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                continue
            if code == BOOT_ERROR:
                logger.error("worker %d could not start: stopping", pid)
                self.exit_code = BOOT_ERROR
                self.stopping = True
                self.kill(signal.SIGTERM)
                continue
            logger.warning("worker %d exited (%s): starting another", pid, code)
            if time.monotonic() - started < 1.0:
                time.sleep(0.5)  # do not spin on a worker that dies at once
            self.spawn()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``httpaf`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        make_config(args)
    except ValueError as error:
        parser.error(str(error))
    if args.ssl_keyfile and not args.ssl_certfile:
        parser.error("--ssl-keyfile needs --ssl-certfile")
    scheme = "https" if args.ssl_certfile else "http"
    # --reuse-port: the parent only holds the port (bound, not listening: it gets no
    # connections); each worker listens on a socket of its own.
    args.reuse_port = args.reuse_port and args.workers > 1 and args.uds is None and args.fd is None
    try:
        sock = bind_socket(
            args.host,
            args.port,
            uds=args.uds,
            fd=args.fd,
            backlog=args.backlog,
            reuse_port=args.reuse_port,
            listen=not args.reuse_port,
        )
    except OSError as error:
        logger.error("cannot bind: %s", error)
        return 1
    where = describe(sock, scheme)
    try:
        if args.workers == 1:
            return _serve_in_process(args, sock, announce=where, multiprocess=False)
        print(
            f"httpaf ({implementation}) serving on {where} with {args.workers} workers "
            f"(pid {os.getpid()})",
            flush=True,
        )
        return _Supervisor(args, sock).run()
    finally:
        sock.close()
        if args.uds is not None:
            with contextlib.suppress(OSError):
                os.unlink(args.uds)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
