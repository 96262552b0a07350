"""One request and its response: the application's ``receive`` and ``send``."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from httpaf.aio import ServerProtocol
from httpaf.connection import Reqd
from httpaf.model import HTTP_1_0, Headers, Response, StateError, response_has_body

from ._scope import decode_fields
from ._settings import Settings
from ._start import next_turn
from ._types import ASGIApp, ClientDisconnected, Message, Scope

__all__ = ["Cycle", "drop_length_beside_chunked"]

_DISCONNECT = "http.disconnect"
_CHUNK = 256 * 1024  # file pieces read when sendfile cannot be used
_SMALL_FILE = 64 * 1024  # files read in the loop thread, without an executor
_SCHEDULE_MIN = 1024  # bodies at least this big are queued, not copied

# Cycle states.
_START = 0  # waiting for http.response.start
_HEAD = 1  # start received; the head goes out with the first body (or file)
_BODY = 2  # streaming the body
_TRAILERS = 3  # the body ended; waiting for http.response.trailers
_DONE = 4  # the response is complete


class Cycle:
    """One request/response: the application's ``receive`` and ``send``."""

    __slots__ = (
        "proto",
        "reqd",
        "scope",
        "settings",
        "state",
        "status",
        "headers",
        "trailers",
        "trailer_fields",
        "writer",
        "waiter",
        "message",
        "body_done",
        "disconnect_waiters",
        "task",
        "eof",
        "eager",
    )

    def __init__(self, proto: ServerProtocol, settings: Settings, reqd: Reqd, scope: Scope) -> None:
        self.proto = proto
        self.settings = settings
        self.reqd = reqd
        self.scope = scope
        self.state = self.status = _START
        self.headers: Any = ()
        self.trailer_fields: list[tuple[str, str]] | None = None
        self.writer: Any = None
        self.waiter: asyncio.Future[Message] | None = None
        self.message: Message | None = None
        self.disconnect_waiters: list[asyncio.Future[None]] | None = None
        self.task: Any = None  # set when the task is tracked without a done callback
        # eof: the client finished sending (and may be gone); eager: the call's first
        # step runs, inside the read pass.
        self.trailers = self.body_done = self.eof = self.eager = False

    # -- running the application ---------------------------------------------------

    def track(self, task: Any) -> None:
        """Count ``task``, which runs this cycle's call, among the server's tasks
        until it ends (for a graceful shutdown, and ``limit_concurrency``)."""
        settings = self.settings
        tasks = settings.tasks
        tasks.add(task)
        if settings.discard_by_callback:
            task.add_done_callback(tasks.discard)
        else:
            self.task = task  # ``run`` discards it as it ends (saves a loop turn)

    async def run(self, app: ASGIApp) -> None:
        """Call the application; answer or cut the exchange if it fails."""
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            if self._raised(exc):
                raise
        else:
            if result is not None or self.state != _DONE:
                self._returned(result)
        finally:
            task = self.task
            if task is not None:
                self.settings.tasks.discard(task)
                self.task = None  # (an idle connection keeps its last cycle, not the task)

    def _raised(self, exc: BaseException) -> bool:
        """The call raised ``exc``: answer or cut; whether ``exc`` goes on up."""
        if isinstance(exc, asyncio.CancelledError):
            if self.state != _DONE:
                self.proto.abort()
            return True
        if not (self.proto._lost and isinstance(exc, OSError)):
            self.settings.log_app_error("Exception in ASGI application\n", exc)
        self._fail(exc)
        return isinstance(exc, (KeyboardInterrupt, SystemExit))

    def _returned(self, result: Any) -> None:
        """The call returned ``result`` (not ``None``, or before the response ended)."""
        if result is not None:
            self.settings.log_app_error(
                f"ASGI callable should return None, but returned {result!r}."
            )
            self._fail(RuntimeError("the ASGI callable returned a value"))
        elif self.state != _DONE and not self.proto._lost:
            self.settings.log_app_error(
                "ASGI callable returned without starting response."
                if self.state == _START
                else "ASGI callable returned without completing response."
            )
            self._fail(RuntimeError("the ASGI callable returned early"))

    def _fail(self, exc: BaseException) -> None:
        """The application failed: answer 500 if nothing was sent, else cut."""
        state = self.state
        proto = self.proto
        if proto._lost:
            return
        if state == _START:
            if self.reqd.response is None and self.reqd.error_code is None:
                self.reqd.report_exn(exc)  # the engine's error handler answers 500
            return
        if state == _DONE:
            proto.shutdown()  # the response is whole: end after what is in flight
        elif state == _HEAD:
            proto.abort()  # nothing of the head went out
        else:
            self.reqd.report_exn(exc)  # the body stops short and the connection closes
        self._finish()

    # -- receive -------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next ASGI message: a piece of the body, or ``http.disconnect``."""
        message = self.message
        if message is not None:
            self.message = None
            return message
        if self.body_done or self.state == _DONE or self.proto._lost:
            return await self._disconnect()
        body = self.reqd.body
        if not body.is_read_scheduled:
            body.schedule_read(self._on_read, self._on_eof)
            message = self.message
            if message is not None:
                self.message = None
                return message
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        self.proto.refresh_timer()  # the body timer runs while we wait
        return await waiter

    def _deliver(self, message: Message) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.message = message
        else:
            self.waiter = None
            waiter.set_result(message)

    def _on_read(self, data: memoryview) -> None:
        owner = data.obj
        chunk = owner if type(owner) is bytes and len(owner) == data.nbytes else bytes(data)
        more = not self.reqd.body.at_eof
        if not more:
            self.body_done = True
        self._deliver({"type": "http.request", "body": chunk, "more_body": more})

    def _on_eof(self) -> None:
        self.body_done = True
        if self.reqd.body.at_eof:
            self._deliver({"type": "http.request", "body": b"", "more_body": False})
        else:  # the body was closed: the connection went away or gave up on it
            self._deliver({"type": _DISCONNECT})

    async def _disconnect(self) -> Message:
        if self.state != _DONE and not self.proto._lost and not self.eof:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiters = self.disconnect_waiters
            if waiters is None:
                self.disconnect_waiters = [waiter]
            else:
                waiters.append(waiter)
            await waiter
        return {"type": _DISCONNECT}

    def _finish(self) -> None:
        """The response is over (or the connection): wake ``http.disconnect`` waiters."""
        waiters = self.disconnect_waiters
        if waiters:
            self.disconnect_waiters = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        waiter2 = self.waiter
        if waiter2 is not None and not waiter2.done() and self.proto._lost:
            self.waiter = None
            waiter2.set_result({"type": _DISCONNECT})

    def connection_lost(self) -> None:
        self._finish()

    def peer_eof(self) -> None:
        self.eof = True
        waiters = self.disconnect_waiters
        if waiters:
            self.disconnect_waiters = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # -- send ----------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Take one ASGI message of the response."""
        proto = self.proto
        if proto._lost:
            if self.settings.raise_on_disconnect:
                raise ClientDisconnected("the client disconnected")
            return
        state = self.state
        kind = message["type"]
        try:
            if state == _START:
                if kind != "http.response.start":
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.start', but got '{kind}'."
                    )
                self.status = message["status"]
                self.headers = message.get("headers", ())
                if "trailers" in message and message["trailers"]:
                    self.trailers = True
                self.state = _HEAD
                return
            if state == _HEAD:
                if kind == "http.response.body":
                    body = message.get("body", b"")
                    if not self.trailers and not ("more_body" in message and message["more_body"]):
                        self._respond_whole(body)
                        return
                    self._start_streaming(self._response())
                    self._write(body, message.get("more_body", False))
                elif kind == "http.response.pathsend":
                    await self._send_file(message["path"])
                    return
                else:
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.body', but got '{kind}'."
                    )
            elif state == _BODY:
                if kind != "http.response.body":
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.body', but got '{kind}'."
                    )
                self._write(message.get("body", b""), message.get("more_body", False))
            elif state == _TRAILERS:
                if kind != "http.response.trailers":
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.trailers', but got '{kind}'."
                    )
                fields = self.trailer_fields
                if fields is None:
                    fields = self.trailer_fields = []
                fields.extend(decode_fields(message.get("headers", ())))
                if not message.get("more_trailers", False):
                    writer = self.writer
                    writer.close(Headers._of_list(fields) if writer.is_chunked and fields else None)
                    self._done()
            else:
                raise RuntimeError(
                    f"Unexpected ASGI message '{kind}' sent, after response already completed."
                )
        except StateError:
            if proto._lost or self.reqd.error_code is not None or proto.conn.is_closed:
                # The engine gave up on this exchange (the peer left or broke it).
                if self.settings.raise_on_disconnect:
                    raise ClientDisconnected("the connection is closed") from None
                return
            raise
        if self.eager and self.state == _BODY:
            # Output waits for the read pass to end: let it, then see whether the
            # transport is full (the rest of the call runs in a task).
            await next_turn()
        if proto._write_paused:
            waiter = proto.writable()
            if waiter is not None:
                await waiter

    def _response(self, log: bool = True) -> Response:
        """The response head of the start message, after the server's default fields."""
        settings = self.settings
        fields = settings.default_fields() + decode_fields(self.headers)
        response = Response(self.status, Headers._of_list(fields))
        if not self.reqd.persistent:
            # The exchange ends the connection: say so once (the engine adds it only
            # when the client expected the connection to stay).
            if "close" not in response.headers.get_tokens("connection"):
                fields.append(("connection", "close"))
        if log and settings.access_log:
            settings.log_access(self.scope, self.reqd.request, response.status)
        return response

    def _respond_whole(self, body: Any) -> None:
        reqd = self.reqd
        settings = self.settings
        data = body if type(body) is bytes else bytes(body)
        # A persistent exchange's head is the same for the same start message (until
        # the default fields change): made once, shared like a native handler's.
        response = None
        if reqd.persistent:
            status = self.status
            watched = settings._watched
            if (
                type(status) is int
                and status == settings._last_status
                and self.headers == settings._last_start
                and (watched is None or watched.default_headers is settings._source)
            ):
                response = settings._last_response  # the usual case: the same as last
            else:
                response = settings.shared_response(status, self.headers)
        if response is None:
            response = self._response()
        elif settings.access_log:
            settings.log_access(self.scope, self.reqd.request, response.status)
        try:
            reqd.respond_with_bytes(response, data)
        except ValueError:
            response = self._response(log=False)  # (a shared one is never changed)
            if not drop_length_beside_chunked(response):
                raise
            reqd.respond_with_bytes(response, data)
        # (_done, inline)
        self.state = _DONE
        settings.counter.total_requests += 1
        if self.disconnect_waiters:
            self._finish()

    def _start_streaming(self, response: Response) -> None:
        headers = response.headers
        has_te = headers.mem("transfer-encoding")
        if has_te:
            drop_length_beside_chunked(response)
        elif not headers.mem("content-length") and response_has_body(
            response.status, self.reqd.request.method
        ):
            if self.reqd.request.version is not HTTP_1_0:
                headers.add("transfer-encoding", "chunked")
            # (HTTP/1.0: the body ends when the connection closes.)
        self.writer = self.reqd.respond_with_streaming(response)
        self.state = _BODY

    def _write(self, body: Any, more: bool) -> None:
        writer = self.writer
        if body:
            if type(body) is bytes and len(body) >= _SCHEDULE_MIN:
                writer.schedule(body)
            else:
                writer.write(body)
        if more:
            writer.flush()
        elif self.trailers:
            self.state = _TRAILERS
            writer.flush()
        else:
            writer.close()
            self._done()

    def _done(self) -> None:
        self.state = _DONE
        self.settings.counter.total_requests += 1
        if self.disconnect_waiters:
            self._finish()

    # -- pathsend ------------------------------------------------------------------

    async def _send_file(self, path: str | os.PathLike[str]) -> None:
        """``http.response.pathsend``: the file at ``path`` as the body."""
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            response = self._response()
            headers = response.headers
            if not headers.mem("content-length") and not headers.mem("transfer-encoding"):
                headers.add("content-length", str(size))
            self._start_streaming(response)
            writer = self.writer
            proto = self.proto
            sent = 0
            if size and response_has_body(response.status, self.reqd.request.method):
                if not writer.is_chunked:
                    sent = await self._sendfile(file, size)
                if sent < size:
                    await self._send_pieces(file, sent, size)
            if proto._lost:
                raise ClientDisconnected("the client disconnected")
            writer.close()
            self._done()

    async def _sendfile(self, file: Any, size: int) -> int:
        """Send ``file`` with ``loop.sendfile`` (zero copy); 0 if it cannot be used."""
        proto = self.proto
        transport = proto._transport
        if transport is None or proto._lost:
            return 0
        loop = asyncio.get_running_loop()
        flushed: asyncio.Future[None] = loop.create_future()

        def on_flushed() -> None:
            if not flushed.done():
                flushed.set_result(None)

        self.writer.flush(on_flushed)
        await flushed  # the head (and anything before) is with the transport
        if proto._lost or transport.is_closing():
            return 0
        proto._sending_file = True
        try:
            sent = await loop.sendfile(transport, file, 0, size, fallback=False)
        except (NotImplementedError, RuntimeError):
            return 0  # no native sendfile here (uvloop, TLS): nothing was sent
        finally:
            proto._sending_file = False
            if not proto._lost:
                # loop.sendfile pauses and resumes reading itself: restore our state.
                if proto._reading_paused:
                    transport.pause_reading()
                else:
                    transport.resume_reading()
        self.writer.mark_sent(sent)
        proto._writer_wanted = True
        proto._pump()
        return int(sent)

    async def _send_pieces(self, file: Any, offset: int, size: int) -> None:
        """Send ``file[offset:size]`` read piece by piece, waiting for the transport."""
        proto = self.proto
        writer = self.writer
        loop = asyncio.get_running_loop()
        fd = file.fileno()
        while offset < size and not proto._lost:
            n = min(_CHUNK, size - offset)
            if size <= _SMALL_FILE:
                data = os.pread(fd, n, offset)
            else:
                data = await loop.run_in_executor(None, os.pread, fd, n, offset)
            if not data:
                break  # the file shrank: the body ends short and the connection closes
            writer.schedule(data)
            writer.flush()
            offset += len(data)
            waiter = proto.writable()
            if waiter is not None:
                await waiter


def drop_length_beside_chunked(response: Response) -> bool:
    """Drop Content-Length when Transfer-Encoding is also set (it wins, RFC 9112 §6.3)."""
    headers = response.headers
    if headers.mem("transfer-encoding") and headers.mem("content-length"):
        headers.remove("content-length")
        return True
    return False
