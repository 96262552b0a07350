"""One request's application call, between the loop and a worker thread."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

from httpaf._logs import access_logger, escape
from httpaf._logs import error_logger as logger
from httpaf.connection import BodyWriter, Reqd
from httpaf.model import Headers, Response, StateError, response_has_body

from ._files import FileWrapper
from ._input import InputStream
from ._state import AppState
from ._types import ClientDisconnected, ExcInfo

__all__ = ["Exchange", "WRITE_HIGH_WATER"]


#: Bytes handed to the loop but not yet accepted by the transport before the
#: application's thread waits.
WRITE_HIGH_WATER = 65536

#: Largest piece ``os.sendfile`` is asked for at once.
_SENDFILE_CHUNK = 1 << 20
_CAN_SENDFILE = hasattr(os, "sendfile") and hasattr(select, "poll")

_INTERNAL_ERROR = b"Internal Server Error\n"
_UNAVAILABLE = b"Service Unavailable\n"
_TEXT_PLAIN = ("Content-Type", "text/plain; charset=utf-8")


class _HeadOnly(Exception):
    """A request the server answers itself (a header it refuses)."""

    def __init__(self, status: int, message: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.message = message


class Connection(Protocol):
    """What an exchange uses of its connection (a ``WSGIProtocol``)."""

    state: AppState
    exchanges: set[Exchange]
    conn: Any
    _transport: Any
    remote_addr: str
    remote_port: str
    server_name: str
    server_port: str
    scheme: str


class Exchange:
    """One request's application call: the loop's side and the thread's side.

    Methods named ``_loop_*`` run in the event loop; the others in the worker thread.
    ``cond`` guards what both touch: the input pieces and the unflushed byte count.
    """

    def __init__(self, proto: Connection, reqd: Reqd) -> None:
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
        has_server = False
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
            elif lower == "server":
                has_server = True
            fields.append(field)
        state = self.state
        # (The runtime adds Date when the response has none: Config.date_header.)
        if state.server_header and not has_server:
            fields.append(("Server", "httpaf"))
        if state.headers:
            fields.extend(state.headers)
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
            '%s - "%s %s HTTP/%s" %d',
            escape(f"{self.proto.remote_addr}:{self.proto.remote_port}"),
            escape(str(request.method)),
            escape(request.target),
            f"{version.major}.{version.minor}",
            self.status_code,
        )
