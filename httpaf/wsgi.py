"""WSGI (PEP 3333) applications on the asyncio runtime, called from a bounded thread pool.

The event loop parses requests and writes responses; each request's application call
runs in a worker thread (at most ``threads`` at once, the rest wait in line):

- ``wsgi.input`` streams the request body: a read in the thread asks the loop for the
  next piece of the :class:`~httpaf.BodyReader` and waits for it, so the body is read
  only as fast as the application asks for it (the connection stops reading from the
  socket while unread bytes pile up), and ``100 Continue`` goes out on the first read;
- each chunk of the response iterable is handed to the loop and written through a
  :class:`~httpaf.BodyWriter`; the thread waits while more than ``WRITE_HIGH_WATER``
  bytes are not yet accepted by the transport, so a slow client slows the application
  down instead of filling memory;
- a response with ``Content-Length`` is sent as is (a longer body is cut at the
  declared length), one without is chunked for HTTP/1.1 and close-delimited for 1.0;
- ``wsgi.file_wrapper`` sends regular files with ``os.sendfile`` straight to the socket
  (plain TCP; TLS and other files are read in blocks);
- an exception before the response started is answered with a 500 and the connection
  goes on; after it started, the connection is cut so the client sees a truncated
  message; the iterable's ``close()`` is always called.

    from httpaf.wsgi import run
    run(app, "127.0.0.1", 8000, threads=16)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import os
import queue
import select
import socket
import ssl as _ssl
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from email.utils import formatdate
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

from . import asyncio as _runtime
from .asyncio import Server, _ServerProtocol
from .body import BodyWriter
from .config import Config
from .errors import StateError
from .headers import Headers
from .message import Response, response_has_body
from .reqd import ErrorHandler, Reqd

__all__ = [
    "ClientDisconnected",
    "FileWrapper",
    "InputStream",
    "WSGIApp",
    "WSGIServer",
    "run",
    "serve",
]

#: Bytes handed to the loop but not yet accepted by the transport before the
#: application's thread waits.
WRITE_HIGH_WATER = 65536

#: Largest piece ``os.sendfile`` is asked for at once.
_SENDFILE_CHUNK = 1 << 20
_CAN_SENDFILE = hasattr(os, "sendfile") and hasattr(select, "poll")
_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]


class WSGIApp(Protocol):
    """A PEP 3333 application."""

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]: ...


logger = logging.getLogger("httpaf.error")
access_logger = logging.getLogger("httpaf.access")

_INTERNAL_ERROR = b"Internal Server Error\n"
_UNAVAILABLE = b"Service Unavailable\n"
_TEXT_PLAIN = ("Content-Type", "text/plain; charset=utf-8")


class ClientDisconnected(ConnectionError):
    """The client went away: raised by ``wsgi.input`` reads and by response writes."""


# -- the thread pool -------------------------------------------------------------------


class _ThreadPool:
    """At most ``size`` daemon threads, started on demand, fed from one queue.

    Daemon threads, unlike ``concurrent.futures``' workers, never hold the interpreter
    open at exit if an application blocks forever.
    """

    def __init__(self, size: int, name: str = "httpaf-wsgi") -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ValueError(f"threads must be a positive int, not {size!r}")
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in a worker thread (later, if all are busy)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the thread pool is shut down")
            # _idle: idle threads minus tasks waiting for one.
            if self._idle <= 0 and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1
        self._queue.put(fn)

    def _work(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None:
                return
            try:
                fn()
            except BaseException:  # pragma: no cover - _Exchange.run catches everything
                logger.exception("uncaught error in a WSGI worker thread")
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: float | None = None) -> None:
        """Let the threads finish their work and exit; wait up to ``wait`` seconds."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            deadline = time.monotonic() + wait
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))


# -- wsgi.file_wrapper -----------------------------------------------------------------


class FileWrapper:
    """``wsgi.file_wrapper``: a file sent with ``os.sendfile`` when it is a regular file.

    Iterating yields ``block_size`` pieces (the fallback); ``close()`` closes the file.
    """

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        size = self.block_size
        while True:
            data = read(size)
            if not data:
                return
            yield data

    def close(self) -> None:
        """Close the file (when it has ``close``)."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def regular_fd(self) -> int | None:
        """The file descriptor of a regular file, or ``None`` (then iterate)."""
        fileno = getattr(self.filelike, "fileno", None)
        if fileno is None:
            return None
        try:
            fd = int(fileno())
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        return fd


# -- wsgi.input ------------------------------------------------------------------------


class InputStream:
    """``wsgi.input``: the request body, read from the loop on demand.

    Each refill asks the loop for the next piece of the body and waits; pieces are
    bounded by the connection's body high-water mark, so at most about that much is
    held here. A client that goes away mid-body raises :class:`ClientDisconnected`.
    """

    def __init__(self, exchange: _Exchange | None) -> None:
        self._x = exchange
        self._buf = b""  # the current piece; its bytes before _pos are consumed
        self._pos = 0
        self._eof = exchange is None

    def _next(self) -> bytes | None:
        """The next piece of the body from the loop, or ``None`` at its end."""
        x = self._x
        if self._eof or x is None:
            return None
        data = x.next_body_piece()
        if data is None:
            self._eof = True
        return data

    def _take(self) -> bytes:
        """The unconsumed rest of the current piece (which is then consumed)."""
        buf, pos = self._buf, self._pos
        self._buf, self._pos = b"", 0
        return buf[pos:] if pos else buf

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all the rest when ``size`` is negative or ``None``)."""
        if size is None or size < 0:
            parts = [self._take()]
            while (piece := self._next()) is not None:
                parts.append(piece)
            return b"".join(parts)
        pos = self._pos
        available = len(self._buf) - pos
        if available >= size:
            self._pos = pos + size
            return self._buf[pos : pos + size]
        parts = [self._take()]
        need = size - available
        while need > 0:
            piece = self._next()
            if piece is None:
                break
            if len(piece) > need:
                parts.append(piece[:need])
                self._buf, self._pos = piece, need
                break
            parts.append(piece)
            need -= len(piece)
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        """What is buffered, or else the next piece: at most ``size`` bytes."""
        if self._pos >= len(self._buf):
            piece = self._next()
            if piece is None:
                return b""
            self._buf, self._pos = piece, 0
        pos = self._pos
        end = len(self._buf) if size is None or size < 0 else pos + size
        data = self._buf[pos:end]
        self._pos = pos + len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        """One line, ``\\n`` included; at most ``size`` bytes when ``size`` >= 0."""
        limit = -1 if size is None else size
        parts: list[bytes] = []
        total = 0
        while True:
            buf, pos = self._buf, self._pos
            end = len(buf) if limit < 0 else min(len(buf), pos + limit - total)
            nl = buf.find(b"\n", pos, end)
            if nl >= 0:
                parts.append(buf[pos : nl + 1])
                self._pos = nl + 1
                break
            parts.append(buf[pos:end])
            total += end - pos
            self._pos = end
            if 0 <= limit <= total:
                break
            piece = self._next()
            if piece is None:
                break
            self._buf, self._pos = piece, 0
        return b"".join(parts)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Lines until the end (or until ``hint`` bytes were read)."""
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def readable(self) -> bool:
        """``True``."""
        return True

    def close(self) -> None:
        """Nothing to do: the server owns the body."""


# -- the server-wide state --------------------------------------------------------------


def _parse_trusted(value: str | Iterable[str] | None) -> tuple[bool, frozenset[str], list[Any]]:
    """``(trust_all, hosts, networks)`` from a comma-separated list or a list."""
    if value is None:
        value = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    hosts: set[str] = set()
    networks: list[Any] = []
    trust_all = False
    for item in items:
        if not item:
            continue
        if item == "*":
            trust_all = True
        elif "/" in item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"forwarded_allow_ips: bad network {item!r}") from None
        else:
            hosts.add(item)
    return trust_all, frozenset(hosts), networks


class _DateCache:
    """The ``Date`` field value, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def get(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._value = formatdate(now, usegmt=True)
        return self._value


class _AppState:
    """What every connection of one server shares."""

    def __init__(
        self,
        app: WSGIApp,
        loop: asyncio.AbstractEventLoop,
        pool: _ThreadPool,
        *,
        root_path: str,
        proxy_headers: bool,
        forwarded_allow_ips: str | Iterable[str] | None,
        access_log: bool,
        limit_concurrency: int | None,
        multiprocess: bool,
        header_underscores: str,
        server_header: bool,
        date_header: bool,
    ) -> None:
        if header_underscores not in ("refuse", "drop"):
            raise ValueError("header_underscores must be 'refuse' or 'drop'")
        if limit_concurrency is not None and (
            not isinstance(limit_concurrency, int) or limit_concurrency <= 0
        ):
            raise ValueError(f"limit_concurrency must be a positive int, not {limit_concurrency!r}")
        self.app = app
        self.loop = loop
        self.pool = pool
        self.root_path = root_path.rstrip("/")
        self.proxy_headers = proxy_headers
        self.trust_all, self.trusted_hosts, self.trusted_networks = _parse_trusted(
            forwarded_allow_ips
        )
        self.access_log = access_log
        self.limit_concurrency = limit_concurrency
        self.multiprocess = multiprocess
        self.refuse_underscores = header_underscores == "refuse"
        self.server_header = server_header
        self.date_header = date_header
        self.dates = _DateCache()
        self.active = 0  # requests being answered (loop thread only)
        self.keys: dict[str, str | None] = {}  # header name -> environ key (None: refused)

    def is_trusted(self, host: str) -> bool:
        """Whether a peer may set ``X-Forwarded-For``/``-Proto``."""
        if self.trust_all or host in self.trusted_hosts:
            return True
        if self.trusted_networks:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return False
            return any(address in network for network in self.trusted_networks)
        return False

    def environ_key(self, name: str) -> str | None:
        """``HTTP_NAME`` for a field name; ``None`` for a name with an underscore."""
        key = self.keys.get(name)
        if key is None and name not in self.keys:
            key = None if "_" in name else "HTTP_" + name.upper().replace("-", "_")
            if len(self.keys) < 1024:
                self.keys[name] = key
        return key


# -- one request -------------------------------------------------------------------------


class _HeadOnly(Exception):
    """A request the server answers itself (a header it refuses)."""

    def __init__(self, status: int, message: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.message = message


class _Exchange:
    """One request's application call: the loop's side and the thread's side.

    Methods named ``_loop_*`` run in the event loop; the others in the worker thread.
    ``cond`` guards what both touch: the input pieces and the unflushed byte count.
    """

    def __init__(self, proto: _WSGIProtocol, reqd: Reqd) -> None:
        self.proto = proto
        self.state = proto.state
        self.loop = proto.state.loop
        self.reqd = reqd
        self.cond = threading.Condition(threading.Lock())
        # input (guarded by cond)
        self.pieces: deque[bytes] = deque()
        self.in_eof = False
        self.in_error: BaseException | None = None
        self.in_pending = False
        # output
        self.status: str | None = None
        self.response: Response | None = None
        self.remaining = -1  # bytes left of the application's Content-Length (-1: none)
        self.headers_sent = False  # the head was handed to the loop (thread side)
        self.writer: BodyWriter | None = None  # loop side
        self.unflushed = 0  # guarded by cond
        self.lost = False  # the connection is gone (set under cond)
        self.sent = 0
        self.status_code = 0
        self.finished = False  # the loop saw the last call (loop side)

    # -- the loop side: starting ----------------------------------------------------

    def loop_start(self) -> None:
        """Hand the request to the pool (or answer 503 when over the limit)."""
        state = self.state
        limit = state.limit_concurrency
        if limit is not None and state.active >= limit:
            self.finished = True
            self.reqd.respond_with_string(
                Response(503, [_TEXT_PLAIN, ("Connection", "close")]), _UNAVAILABLE
            )
            return
        state.active += 1
        self.proto.exchanges.add(self)
        body = self.reqd.body
        if body.at_eof and body.buffered_bytes == 0:
            self.in_eof = True  # no body: reads never need the loop
        elif not self.reqd.request.headers.mem("expect"):
            # Prefetch the first piece: a small body is usually there already, and
            # the thread then reads it without a round trip through the loop.
            self.in_pending = True
            self._loop_schedule_read()
        try:
            state.pool.submit(self.run)
        except RuntimeError:  # shut down
            self._loop_done()
            raise

    def _loop_done(self) -> None:
        if not self.finished:
            self.finished = True
            self.state.active -= 1
            self.proto.exchanges.discard(self)
            body = self.reqd.body
            if not body.is_complete:
                # The application is done and did not read the whole body: discard
                # the rest as it arrives, so the connection can go on.
                with contextlib.suppress(Exception):
                    body.close()

    def loop_lost(self) -> None:
        """The connection closed: wake the thread wherever it waits."""
        with self.cond:
            self.lost = True
            if self.in_pending:
                self.in_pending = False
                self.in_error = ClientDisconnected("the client closed the connection")
            self.cond.notify_all()

    # -- the loop side: the request body --------------------------------------------

    def _loop_schedule_read(self) -> None:
        body = self.reqd.body
        try:
            body.schedule_read(self._loop_on_read, self._loop_on_eof)
        except Exception as error:
            with self.cond:
                self.in_error = error
                self.in_pending = False
                self.cond.notify_all()

    def _loop_on_read(self, data: memoryview) -> None:
        piece = bytes(data)  # data points into the read buffer
        with self.cond:
            self.pieces.append(piece)
            self.in_pending = False
            self.cond.notify_all()

    def _loop_on_eof(self) -> None:
        with self.cond:
            if not self.reqd.body.at_eof and not self.finished:
                self.in_error = ClientDisconnected("the request body ended early")
            self.in_eof = True
            self.in_pending = False
            self.cond.notify_all()

    # -- the thread side: the request body ------------------------------------------

    def next_body_piece(self) -> bytes | None:
        """The next piece of the body, waiting for the loop; ``None`` at its end."""
        with self.cond:
            while True:
                if self.pieces:
                    return self.pieces.popleft()
                if self.in_error is not None:
                    raise self.in_error
                if self.in_eof:
                    return None
                if not self.in_pending:
                    self.in_pending = True
                    self.loop.call_soon_threadsafe(self._loop_schedule_read)
                self.cond.wait()

    # -- the thread side: environ ----------------------------------------------------

    def environ(self) -> dict[str, Any]:
        """The PEP 3333 environ of the request."""
        state = self.state
        proto = self.proto
        request = self.reqd.request
        target = request.target
        if target.startswith("/"):
            path, _, query = target.partition("?")
        elif target == "*":
            path, query = "*", ""
        elif "://" in target:  # absolute-form
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            path, _, query = (rest[slash:] if slash >= 0 else "/").partition("?")
        else:  # authority-form (CONNECT)
            path, query = "", ""
        if "%" in path:
            path = unquote_to_bytes(path).decode("latin-1")
        script_name = state.root_path
        if script_name and (path == script_name or path.startswith(script_name + "/")):
            path = path[len(script_name) :]
        version = request.version
        environ: dict[str, Any] = {
            "REQUEST_METHOD": str(request.method),
            "SCRIPT_NAME": script_name,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "RAW_URI": target,
            "SERVER_NAME": proto.server_name,
            "SERVER_PORT": proto.server_port,
            "SERVER_PROTOCOL": f"HTTP/{version.major}.{version.minor}",
            "REMOTE_ADDR": proto.remote_addr,
            "REMOTE_PORT": proto.remote_port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": proto.scheme,
            "wsgi.input": InputStream(None if self.in_eof and not self.pieces else self),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": state.multiprocess,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
        }
        forwarded_for: str | None = None
        forwarded_proto: str | None = None
        for name, value in request.headers:
            key = state.environ_key(name)
            if key is None:
                if state.refuse_underscores:
                    raise _HeadOnly(400, b"Bad Request: underscore in a header field name\n")
                continue
            if key == "HTTP_CONTENT_TYPE":
                key = "CONTENT_TYPE"
            elif key == "HTTP_CONTENT_LENGTH":
                key = "CONTENT_LENGTH"
            elif key == "HTTP_X_FORWARDED_FOR":
                forwarded_for = value if forwarded_for is None else f"{forwarded_for}, {value}"
            elif key == "HTTP_X_FORWARDED_PROTO":
                forwarded_proto = value
            old = environ.get(key)
            if old is None:
                environ[key] = value
            else:
                environ[key] = f"{old}; {value}" if key == "HTTP_COOKIE" else f"{old}, {value}"
        if state.proxy_headers and (forwarded_for or forwarded_proto):
            self._apply_proxy_headers(environ, forwarded_for, forwarded_proto)
        return environ

    def _apply_proxy_headers(
        self, environ: dict[str, Any], forwarded_for: str | None, forwarded_proto: str | None
    ) -> None:
        state = self.state
        if not state.is_trusted(environ["REMOTE_ADDR"]):
            return
        if forwarded_proto:
            scheme = forwarded_proto.rsplit(",", 1)[-1].strip().lower()
            if scheme in ("http", "https"):
                environ["wsgi.url_scheme"] = scheme
        if forwarded_for:
            hosts = [h.strip() for h in forwarded_for.split(",") if h.strip()]
            client = None
            for host in reversed(hosts):
                if not state.is_trusted(host):
                    client = host
                    break
            if client is None and hosts:
                client = hosts[0]
            if client is not None:
                environ["REMOTE_ADDR"] = client
                environ["REMOTE_PORT"] = "0"

    # -- the thread side: start_response --------------------------------------------

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        """PEP 3333 ``start_response``."""
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise RuntimeError("start_response was already called (without exc_info)")
        if not isinstance(status, str):
            raise TypeError(f"status must be a str, not {type(status).__name__}")
        code_text, _, reason = status.partition(" ")
        if len(code_text) != 3 or not code_text.isdigit() or code_text[0] == "0":
            raise ValueError(f"status must start with a three-digit code: {status!r}")
        code = int(code_text)
        if code < 200:
            raise ValueError(f"a WSGI application cannot send a {code} response")
        fields: list[tuple[str, str]] = []
        remaining = -1
        has_date = has_server = False
        for field in headers:
            if type(field) is not tuple or len(field) != 2:
                raise TypeError(f"a header must be a (name, value) tuple, not {field!r}")
            name, value = field
            if type(name) is not str or type(value) is not str:
                raise TypeError(f"header names and values must be str: {field!r}")
            lower = name.lower()
            if lower == "content-length":
                text = value.strip()
                if not text.isdigit() or not text.isascii():
                    raise ValueError(f"bad Content-Length {value!r}")
                remaining = int(text)
            elif lower == "date":
                has_date = True
            elif lower == "server":
                has_server = True
            fields.append(field)
        state = self.state
        if state.date_header and not has_date:
            fields.append(("Date", state.dates.get()))
        if state.server_header and not has_server:
            fields.append(("Server", "httpaf"))
        # The serializer checks names and values once more (tokens, no CTLs) in the
        # loop; a head refused there still becomes a 500.
        self.status = status
        self.status_code = code
        self.response = Response(code, Headers._of_list(fields), reason)
        self.remaining = remaining
        return self.write

    # -- the thread side: the response body -----------------------------------------

    def _wait_credit(self) -> None:
        with self.cond:
            while self.unflushed > WRITE_HIGH_WATER and not self.lost:
                self.cond.wait()
            if self.lost:
                raise ClientDisconnected("the client closed the connection")

    def _trim(self, data: bytes) -> bytes:
        """Cut what goes beyond the application's Content-Length."""
        remaining = self.remaining
        if remaining >= 0 and len(data) > remaining:
            logger.warning(
                "WSGI application sent more than its Content-Length (%d); the rest is dropped",
                self.remaining + self.sent,
            )
            data = data[:remaining]
        return data

    def write(self, data: bytes) -> None:
        """Send ``data`` (start_response's ``write`` callable and the iterable's chunks)."""
        if self.response is None:
            raise RuntimeError("start_response must be called before writing the body")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a WSGI body is made of bytes, not {type(data).__name__}")
        if self.lost:
            raise ClientDisconnected("the client closed the connection")
        if not data:
            return
        data = self._trim(bytes(data) if type(data) is not bytes else data)
        if not data:
            return
        n = len(data)
        if self.remaining >= 0:
            self.remaining -= n
        self.sent += n
        with self.cond:
            self.unflushed += n
        if self.headers_sent:
            self.loop.call_soon_threadsafe(self._loop_write, data)
        else:
            self._send_head(data)
        self._wait_credit()

    def _send_head(self, data: bytes) -> None:
        """Start a streamed response: chunked when it has no length (HTTP/1.1)."""
        response = self.response
        if response is None:  # pragma: no cover - checked by the callers
            raise RuntimeError("start_response must be called before writing the body")
        request = self.reqd.request
        if (
            self.remaining < 0
            and request.version.minor >= 1
            and not response.headers.mem("transfer-encoding")
            and response_has_body(response.status, str(request.method))
        ):
            response.headers.add("Transfer-Encoding", "chunked")
        self.headers_sent = True
        self.loop.call_soon_threadsafe(self._loop_start_stream, response, data)

    def _flushed(self, n: int) -> Callable[[], None]:
        def done() -> None:
            with self.cond:
                self.unflushed -= n
                self.cond.notify_all()

        return done

    def _loop_start_stream(self, response: Response, data: bytes) -> None:
        reqd = self.reqd
        try:
            writer = reqd.respond_with_streaming(response)
        except Exception as error:
            self._loop_refused(error)
            return
        self.writer = writer
        self._loop_write(data)

    def _loop_write(self, data: bytes) -> None:
        writer = self.writer
        if writer is None or self.lost:
            self._flushed(len(data))()
            return
        try:
            writer.schedule(data)  # bytes never change: zero-copy
            writer.flush(self._flushed(len(data)))
        except Exception as error:
            self._flushed(len(data))()
            self._loop_failed(error)

    def _loop_refused(self, error: BaseException) -> None:
        """The head was refused (or the connection is gone) before anything went out."""
        if isinstance(error, StateError) or self.proto.conn.is_closed:
            self.loop_lost()
            self._loop_done()
            return
        logger.error("WSGI response refused: %s", error)
        self._loop_error_response()
        with self.cond:
            self.lost = True  # stop the application's writes: its response is replaced
            self.cond.notify_all()

    def _loop_failed(self, error: BaseException) -> None:
        """A write failed after the head went out: cut the connection."""
        if not isinstance(error, StateError):
            logger.error("WSGI response failed: %s", error)
        self.loop_lost()
        with contextlib.suppress(Exception):
            self.reqd.report_exn(error)

    def _loop_error_response(self, status: int = 500, message: bytes = _INTERNAL_ERROR) -> None:
        """Answer ``status`` if nothing went out yet (the connection goes on)."""
        reqd = self.reqd
        if reqd.response is None and not self.proto.conn.is_closed:
            try:
                reqd.respond_with_string(Response(status, [_TEXT_PLAIN]), message)
            except Exception as error:  # pragma: no cover - a plain head is never refused
                with contextlib.suppress(Exception):
                    reqd.report_exn(error)
        self._loop_done()

    def _loop_whole(self, response: Response, data: bytes) -> None:
        """A whole response in one call: the common case of a list body."""
        try:
            self.reqd.respond_with_bytes(response, data)
        except Exception as error:
            self._loop_refused(error)
            return
        self._loop_done()

    def _loop_close(self) -> None:
        writer = self.writer
        if writer is None:
            self._loop_error_response()  # nothing went out: a 500, if still possible
            return
        if not self.lost:
            try:
                writer.close()
            except Exception as error:
                self._loop_failed(error)
        self._loop_done()

    def _loop_abort(self, error: BaseException) -> None:
        """The application failed after its response started: cut the connection."""
        if self.writer is None and self.reqd.response is None:
            self._loop_error_response()
            return
        with contextlib.suppress(Exception):
            self.reqd.report_exn(error)
        self._loop_done()

    # -- the thread side: sendfile ----------------------------------------------------

    def _send_file(self, wrapper: FileWrapper) -> bool:
        """Send a regular file with ``os.sendfile``; ``False`` when it cannot be done."""
        response = self.response
        if response is None or not _CAN_SENDFILE:
            return False
        fd = wrapper.regular_fd()
        if fd is None or response.headers.mem("transfer-encoding"):
            return False  # not a file, or the application chose chunks
        try:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
            size = max(0, os.fstat(fd).st_size - offset)
        except OSError:
            return False
        if self.remaining >= 0:
            count = min(self.remaining, size)
        else:
            count = size
            if response.status not in (204, 304):
                response.headers.add("Content-Length", str(size))
            self.remaining = size
        if not response_has_body(response.status, str(self.reqd.request.method)):
            self._whole(b"")  # HEAD, 204, 304: the head alone (HEAD with the length)
            return True
        # The head goes out through the loop; once the transport has nothing left to
        # send, the thread owns the socket's output until the file is out.
        self.headers_sent = True
        result: list[int | None] = []
        ready = threading.Event()
        self.loop.call_soon_threadsafe(self._loop_start_sendfile, response, result, ready)
        ready.wait()
        sock_fd = result[0] if result else None
        if sock_fd is None:
            if self.lost:
                raise ClientDisconnected("the client closed the connection")
            self.remaining = count  # iterate instead (the head is out, unflushed = 0)
            return False
        sent = 0
        try:
            poller = select.poll()
            poller.register(sock_fd, select.POLLOUT)
            while sent < count:
                if self.lost:
                    raise ClientDisconnected("the client closed the connection")
                try:
                    n = os.sendfile(sock_fd, fd, offset + sent, min(count - sent, _SENDFILE_CHUNK))
                except BlockingIOError:
                    poller.poll(1000)
                    continue
                except OSError as error:
                    raise ClientDisconnected(str(error)) from error
                if n == 0:
                    raise OSError("the file ended before its announced size")
                sent += n
        finally:
            os.close(sock_fd)
            self.sent += sent
            self.remaining -= sent
        self.loop.call_soon_threadsafe(self._loop_after_sendfile, sent)
        self.loop.call_soon_threadsafe(self._loop_close)
        with contextlib.suppress(OSError):
            os.lseek(fd, offset + sent, os.SEEK_SET)
        return True

    def _loop_start_sendfile(
        self, response: Response, result: list[int | None], ready: threading.Event
    ) -> None:
        def head_written() -> None:
            transport = self.proto._transport
            fd = None
            if (
                transport is not None
                and not self.lost
                and not transport.is_closing()
                and transport.get_extra_info("sslcontext") is None
                and transport.get_write_buffer_size() == 0
            ):
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError, ValueError):
                        fd = os.dup(sock.fileno())  # ours even if the transport closes
            result.append(fd)
            ready.set()

        try:
            writer = self.reqd.respond_with_streaming(response)
        except Exception as error:
            self._loop_refused(error)
            result.append(None)
            ready.set()
            return
        self.writer = writer
        try:
            writer.flush(head_written)
        except Exception as error:  # pragma: no cover - flushing a fresh head
            self._loop_failed(error)
            if not ready.is_set():
                result.append(None)
                ready.set()

    def _loop_after_sendfile(self, sent: int) -> None:
        writer = self.writer
        if writer is not None and not writer.is_closed:
            try:
                writer.mark_sent(sent)  # the bytes went around the serializer
            except Exception as error:
                self._loop_failed(error)

    # -- the thread side: the whole call ----------------------------------------------

    def run(self) -> None:
        """Call the application and send its response (in a worker thread)."""
        loop = self.loop
        result: Iterable[bytes] | None = None
        try:
            try:
                environ = self.environ()
            except _HeadOnly as refusal:
                loop.call_soon_threadsafe(
                    self._loop_error_response, refusal.status, refusal.message
                )
                self.status_code = refusal.status
                if self.state.access_log:
                    self._log_access()
                return
            result = self.state.app(environ, self.start_response)
            self._send_result(result)
        except ClientDisconnected:
            logger.debug("client disconnected while the WSGI application answered")
            loop.call_soon_threadsafe(self._loop_close)
        except BaseException as error:
            if not isinstance(error, Exception):
                logger.error("WSGI application raised %r", error)
            else:
                logger.exception("error in WSGI application")
            if self.headers_sent:
                loop.call_soon_threadsafe(self._loop_abort, error)
            else:
                self.status_code = 500
                loop.call_soon_threadsafe(self._loop_error_response)
            if not isinstance(error, Exception):
                raise
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    logger.exception("error closing a WSGI response iterable")
        if self.state.access_log:
            self._log_access()

    def _send_result(self, result: Iterable[bytes]) -> None:
        loop = self.loop
        if isinstance(result, FileWrapper) and self.response is not None and not self.headers_sent:
            if self._send_file(result):
                return
        elif type(result) is list or type(result) is tuple:
            if not self.headers_sent:
                # A whole body: one call to the loop, with its length.
                if self.response is None:
                    raise RuntimeError("the WSGI application did not call start_response")
                body = b"".join(result)
                self._whole(body)
                return
        for chunk in result:
            if chunk:
                self.write(chunk)
        if self.response is None:
            raise RuntimeError("the WSGI application did not call start_response")
        if self.headers_sent:
            loop.call_soon_threadsafe(self._loop_close)
        else:
            self._whole(b"")

    def _whole(self, body: bytes) -> None:
        response = self.response
        if response is None:  # pragma: no cover - checked by the callers
            raise RuntimeError("the WSGI application did not call start_response")
        remaining = self.remaining
        if remaining >= 0 and len(body) != remaining:
            if len(body) > remaining:
                body = self._trim(body)
            elif response_has_body(response.status, str(self.reqd.request.method)):
                # Short of its Content-Length: send it as a stream, so the connection
                # ends after it instead of the framing lying to the client.
                self.sent = len(body)
                self._send_head(body)
                self.loop.call_soon_threadsafe(self._loop_close)
                return
        self.sent = len(body)
        self.headers_sent = True
        self.loop.call_soon_threadsafe(self._loop_whole, response, body)

    def _log_access(self) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        request = self.reqd.request
        version = request.version
        access_logger.info(
            '%s - "%s %s HTTP/%d.%d" %d',
            _printable(f"{self.proto.remote_addr}:{self.proto.remote_port}"),
            _printable(str(request.method)),
            _printable(request.target),
            version.major,
            version.minor,
            self.status_code,
        )


def _printable(text: str) -> str:
    """``text`` with control characters escaped (no log injection)."""
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


# -- the connection ----------------------------------------------------------------------


class _WSGIProtocol(_ServerProtocol):
    """A server connection whose requests go to the WSGI application."""

    __slots__ = (
        "state", "exchanges", "remote_addr", "remote_port", "server_name", "server_port",
        "scheme",
    )  # fmt: skip

    def __init__(
        self,
        state: _AppState,
        error_handler: ErrorHandler | None,
        config: Config,
        connections: set[Any],
    ) -> None:
        super().__init__(self._handle, error_handler, config, connections)
        self.state = state
        self.exchanges: set[_Exchange] = set()
        self.remote_addr = ""
        self.remote_port = "0"
        self.server_name = "localhost"
        self.server_port = "0"
        self.scheme = "http"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.remote_addr, self.remote_port = str(peer[0]), str(peer[1])
        here = transport.get_extra_info("sockname")
        if isinstance(here, tuple) and len(here) >= 2:
            self.server_name, self.server_port = str(here[0]), str(here[1])
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        for exchange in list(self.exchanges):
            exchange.loop_lost()
        super().connection_lost(exc)

    def _handle(self, reqd: Reqd) -> None:
        _Exchange(self, reqd).loop_start()


# -- the server --------------------------------------------------------------------------


class WSGIServer(Server):
    """A listening WSGI server: an :class:`httpaf.asyncio.Server` with its thread pool."""

    def __init__(
        self,
        server: asyncio.AbstractServer,
        connections: set[Any],
        pool: _ThreadPool,
        shutdown_timeout: float | None = 10.0,
    ) -> None:
        super().__init__(server, connections, shutdown_timeout=shutdown_timeout)
        self._pool = pool

    async def shutdown(self, timeout: float | None = -1.0) -> None:
        """Stop accepting, let in-flight requests finish (up to ``timeout`` seconds;
        by default :attr:`shutdown_timeout`), then close and stop the threads."""
        try:
            await super().shutdown(timeout)
        finally:
            self._pool.shutdown()


async def serve(
    app: WSGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    config: Config | None = None,
    threads: int = 10,
    root_path: str = "",
    proxy_headers: bool = True,
    forwarded_allow_ips: str | Iterable[str] | None = None,
    access_log: bool = True,
    limit_concurrency: int | None = None,
    multiprocess: bool = False,
    header_underscores: str = "refuse",
    server_header: bool = True,
    date_header: bool = True,
    error_handler: ErrorHandler | None = None,
    reuse_port: bool = False,
    ssl: _ssl.SSLContext | None = None,
    backlog: int = 1024,
    sock: socket.socket | None = None,
    uds: str | None = None,
    timeout_graceful_shutdown: float | None = 10.0,
    **config_options: Any,
) -> WSGIServer:
    """Start serving the WSGI application ``app``; return the listening server.

    ``threads`` bounds the application calls running at once; ``root_path`` becomes
    ``SCRIPT_NAME`` (and is removed from the front of ``PATH_INFO``);
    ``X-Forwarded-For``/``-Proto`` are believed from ``forwarded_allow_ips`` (a
    comma-separated string or a list of addresses or networks, ``"*"`` for all; by
    default ``$FORWARDED_ALLOW_IPS`` or ``127.0.0.1``) when ``proxy_headers`` is on;
    over ``limit_concurrency`` requests in progress, new ones get a 503. A request
    field name with an underscore is answered with 400 (``header_underscores=
    "refuse"``) or left out (``"drop"``), never mapped to the ``HTTP_*`` key of a
    dashed name. ``sock`` serves an already bound socket, ``uds`` a Unix socket path.
    :meth:`WSGIServer.shutdown` gives in-flight requests ``timeout_graceful_shutdown``
    seconds by default. Limits and timeouts (keep-alive, head, body) come from
    ``config``; any :class:`~httpaf.Config` field given as an option
    (``keep_alive_timeout=2``) is applied over it.
    """
    config = config if config is not None else Config()
    unknown = set(config_options) - _CONFIG_FIELDS
    if unknown:
        raise TypeError(f"httpaf.wsgi.serve: unknown options {sorted(unknown)}")
    if config_options:
        config = dataclasses.replace(config, **config_options)
    loop = asyncio.get_running_loop()
    pool = _ThreadPool(threads)
    state = _AppState(
        app,
        loop,
        pool,
        root_path=root_path,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=access_log,
        limit_concurrency=limit_concurrency,
        multiprocess=multiprocess,
        header_underscores=header_underscores,
        server_header=server_header,
        date_header=date_header,
    )
    connections: set[Any] = set()

    def factory() -> _WSGIProtocol:
        return _WSGIProtocol(state, error_handler, config, connections)

    if sock is not None:
        server = await loop.create_server(factory, sock=sock, ssl=ssl, backlog=backlog)
    elif uds is not None:
        server = await loop.create_unix_server(factory, uds, ssl=ssl, backlog=backlog)
    else:
        server = await loop.create_server(
            factory, host, port, reuse_port=reuse_port or None, ssl=ssl, backlog=backlog
        )
    return WSGIServer(server, connections, pool, timeout_graceful_shutdown)


def run(
    app: WSGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    use_uvloop: bool | None = None,
    ready: Callable[[WSGIServer], None] | None = None,
    **options: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully.

    ``options`` are those of :func:`serve` (``timeout_graceful_shutdown`` included);
    ``ready(server)`` is called once listening.
    """
    _runtime._run_until_signal(
        lambda: serve(app, host, port, **options),
        use_uvloop,
        ready,  # type: ignore[arg-type]
    )
