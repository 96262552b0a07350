"""A response as the client hands it out: the head at once, the body streamed.

The body is pulled from the connection's :class:`~httpaf.BodyReader`: a piece that is
there already comes back without waiting (a small response is usually whole by the
time its head is seen), else the read waits, and while nobody reads, the connection
stops reading once ``Config.body_buffer_high_water`` bytes are held (backpressure).
Each piece is copied once, out of the read buffer. A response whose body is left
unread holds its connection until it is closed (``aclose``, ``async with``, or
garbage collection), which then closes the connection.
"""

from __future__ import annotations

import asyncio
import json as _json
from collections.abc import AsyncIterator
from typing import Any, cast

from httpaf.connection import BodyReader
from httpaf.model import Headers
from httpaf.model import Response as Head
from httpaf.net import StreamClosed

from .pooled import Exchange, PooledProtocol

__all__ = ["Response", "HTTPStatusError"]

_PENDING: Any = object()

_NO_HEADERS = Headers()


class HTTPStatusError(Exception):
    """``raise_for_status`` on a 4xx or 5xx response."""

    def __init__(self, message: str, response: Response) -> None:
        super().__init__(message)
        self.response = response


class Response(Exchange):
    """A response: ``status``, ``reason``, ``headers``, then the body.

    ``await response.read()`` gives the whole body (kept as :attr:`content`);
    ``async for chunk in response`` gives it piece by piece; :attr:`trailers` holds a
    chunked body's trailer fields once it has ended. ``async with response:`` closes
    it at the end of the block. (It is also the exchange on its connection: one object
    per request.)
    """

    __slots__ = (
        "status", "reason", "headers", "url", "method", "_content", "_body_waiter",
        "_chunk", "_body_error", "_ended", "_closed", "_collect", "__weakref__",
    )  # fmt: skip

    def __init__(
        self, proto: PooledProtocol, read_timeout: float | None, url: Any, method: str
    ) -> None:
        Exchange.__init__(self, proto, read_timeout)  # (not super(): a lookup less)
        self.status = 0
        self.reason = ""
        self.headers: Headers = _NO_HEADERS
        #: The URL requested (:class:`~httpaf.net.URL`).
        self.url = url
        self.method = method
        self._content: bytes | None = None
        self._body_waiter: asyncio.Future[Any] | None = None
        self._chunk: Any = _PENDING
        self._body_error: BaseException | None = None
        self._ended = False  # the body ended (all of it received and handed out)
        self._closed = False
        # While read() waits: the pieces so far (each arriving one is added and the
        # next read scheduled at once, so a long body costs no wakeup per piece).
        self._collect: list[bytes] | None = None

    def on_response(self, response: Head, reader: BodyReader) -> None:
        self.status = int(response.status)
        self.reason = response.reason
        self.headers = response.headers
        Exchange.on_response(self, response, reader)

    @property
    def http_version(self) -> str:
        """``"HTTP/1.1"`` or ``"HTTP/1.0"``."""
        head = self.head
        return "HTTP/1.1" if head is None else str(head.version)

    def __repr__(self) -> str:
        return f"<Response [{self.status} {self.reason}]>"

    # -- the body ------------------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The body, once :meth:`read` returned it."""
        if self._content is None:
            raise StreamClosed("the body has not been read: await response.read() first")
        return self._content

    @property
    def trailers(self) -> Headers | None:
        """A chunked body's trailer fields (after its end), else ``None``."""
        reader = self.reader
        return None if reader is None else reader.trailers

    @property
    def is_closed(self) -> bool:
        """Whether the body ended or the response was closed."""
        return self._closed

    def text(self, encoding: str | None = None) -> str:
        """The body read, decoded (the ``charset`` of ``Content-Type``, else UTF-8)."""
        return self.content.decode(encoding or self._charset() or "utf-8", "replace")

    def json(self) -> Any:
        """The body read, as JSON."""
        return _json.loads(self.content)

    def raise_for_status(self) -> Response:
        """Raise :class:`HTTPStatusError` for a 4xx or 5xx status; else the response."""
        if self.status >= 400:
            raise HTTPStatusError(f"{self.status} {self.reason} for {self.url}", self)
        return self

    async def read(self) -> bytes:
        """The whole body (kept: a second call gives it again)."""
        if self._content is not None:
            return self._content
        if self._closed:
            raise StreamClosed("the response was closed before its body was read")
        reader = self.reader
        if reader is not None and reader.at_eof:
            # The whole body is in (the usual case for a small one): the reader hands
            # all it holds over as one piece at once (or its end if it holds nothing),
            # and after that piece comes the end, without asking the reader again.
            piece = self._pull()
            if piece is not None:
                self._got_end()
            self._content = content = b"" if piece is None else piece
            return content
        pieces: list[bytes] = []
        while True:
            piece = self._pull()
            if piece is _PENDING:
                # The rest is still coming: collect it as it arrives, wake once.
                self._collect = pieces
                try:
                    await self._wait()
                finally:
                    self._collect = None
                break
            if piece is None:
                break
            pieces.append(piece)
        self._content = content = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return content

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.aiter_bytes()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body piece by piece, as it arrives (never an empty piece)."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        if self._closed:
            raise StreamClosed("the response was closed before its body was read")
        while True:
            piece = self._pull()
            if piece is _PENDING:
                piece = await self._wait()
            if piece is None:
                return
            yield piece

    async def receive(self) -> bytes | None:
        """The next piece of the body, or ``None`` at its end (no wait when it is here)."""
        piece = self._pull()
        if piece is _PENDING:
            piece = await self._wait()
        return piece  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Close the response; a body not read to its end closes its connection."""
        self._close()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._close()

    def __del__(self) -> None:
        if not self.released and not self._ended and self.head is not None:
            # Dropped unread: its connection cannot serve anyone else.
            proto = self.proto
            try:
                proto.loop.call_soon_threadsafe(proto.abandon, self)
            except RuntimeError:  # the loop is closed: so is the connection
                pass

    # -- inside --------------------------------------------------------------------------

    def _charset(self) -> str | None:
        kind = self.headers.get("content-type") or ""
        for part in kind.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset":
                return value.strip('"') or None
        return None

    def _pull(self) -> Any:
        """The next piece, ``None`` at the end, or ``_PENDING`` (a read is scheduled)."""
        if self._body_error is not None:
            raise self._body_error
        if self._ended:
            return None
        reader = self.reader
        if reader is None:
            return None
        self._chunk = _PENDING
        try:
            reader.schedule_read(self._got_piece, self._got_end)
        except Exception:
            if self._body_error is not None:
                raise self._body_error from None
            raise
        return self._chunk

    async def _wait(self) -> Any:
        waiter = self._body_waiter = self.proto.loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            self._close()
            raise
        finally:
            self._body_waiter = None

    def _got_piece(self, data: memoryview) -> None:
        whole = data.obj
        # The one copy, out of the read buffer (a piece the reader held is bytes already).
        piece = whole if type(whole) is bytes and len(whole) == data.nbytes else bytes(data)
        collect = self._collect
        if collect is not None:
            collect.append(piece)
            reader = cast(BodyReader, self.reader)
            reader.schedule_read(self._got_piece, self._got_end)  # may call back at once
            return
        waiter = self._body_waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(piece)
        else:
            self._chunk = piece

    def _got_end(self) -> None:
        self._ended = True
        self._closed = True
        if self.hold and not self.released:
            self.proto.done_with(self)
        waiter = self._body_waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        else:
            self._chunk = None

    def body_failed(self, error: BaseException) -> None:
        self._body_error = error
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.released:
            self.proto.abandon(self)
        reader = self.reader
        if reader is not None and not self._ended:
            reader.close()
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(StreamClosed("the response was closed"))
