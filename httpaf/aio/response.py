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
from httpaf.net import StreamClosed
from httpaf.net.response import ResponseHead

from .pooled import Exchange

__all__ = ["Response", "HTTPStatusError"]

_PENDING: Any = object()


class HTTPStatusError(Exception):
    """``raise_for_status`` on a 4xx or 5xx response."""

    def __init__(self, message: str, response: Response) -> None:
        super().__init__(message)
        self.response = response


class Response(ResponseHead):
    """A response: ``status``, ``reason``, ``headers``, then the body.

    ``await response.read()`` gives the whole body (kept as :attr:`content`);
    ``async for chunk in response`` gives it piece by piece; :attr:`trailers` holds a
    chunked body's trailer fields once it has ended. ``async with response:`` closes
    it at the end of the block. It reads its exchange on the connection (which does
    not hold it: a response dropped unread is freed and gives its connection up).
    """

    __slots__ = (
        "_exchange", "_content", "_chunk", "_ended", "_closed", "_collect", "_handed",
        "__weakref__",
    )  # fmt: skip

    def __init__(self, exchange: Exchange, url: Any, method: str) -> None:
        ResponseHead.__init__(self, exchange.head, url, method)
        self._exchange = exchange
        self._content: bytes | None = None
        self._chunk: Any = _PENDING
        self._ended = False  # the body ended (all of it received and handed out)
        self._closed = False
        # While read() waits: the pieces so far (each arriving one is added and the
        # next read scheduled at once, so a long body costs no wakeup per piece).
        self._collect: list[bytes] | None = None
        self._handed = False  # a piece went out by receive() or iteration

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
        reader = self._exchange.reader
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
        """The whole body (kept: a second call gives it again); not once part of it was
        taken by :meth:`receive` or iteration (:class:`StreamClosed`)."""
        if self._content is not None:
            return self._content
        if self._handed:
            raise StreamClosed.partly_read()
        if self._closed:
            if self._ended:  # (an empty body, its end taken by receive(): nothing else)
                self._content = b""
                return b""
            raise StreamClosed("the response was closed before its body was read")
        reader = self._exchange.reader
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
            self._handed = True
            yield piece

    async def receive(self) -> bytes | None:
        """The next piece of the body, or ``None`` at its end (no wait when it is here)."""
        piece = self._pull()
        if piece is _PENDING:
            piece = await self._wait()
        if piece is not None:
            self._handed = True
        return piece  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Close the response; a body not read to its end closes its connection."""
        self._close()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._close()

    def __del__(self) -> None:
        exchange = self._exchange
        if not exchange.released and not self._ended:
            # Dropped unread: its connection cannot serve anyone else.
            proto = exchange.proto
            try:
                proto.loop.call_soon_threadsafe(proto.abandon, exchange)
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
        exchange = self._exchange
        if exchange.error is not None:
            raise exchange.error  # (the body will not end: Exchange.body_failed)
        if self._ended:
            return None
        reader = exchange.reader
        if reader is None:
            return None
        self._chunk = _PENDING
        try:
            reader.schedule_read(self._got_piece, self._got_end)
        except Exception:
            if exchange.error is not None:
                raise exchange.error from None
            raise
        return self._chunk

    async def _wait(self) -> Any:
        exchange = self._exchange
        waiter = exchange.body_waiter = exchange.proto.loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            self._close()
            raise
        finally:
            exchange.body_waiter = None

    def _got_piece(self, data: memoryview) -> None:
        whole = data.obj
        # The one copy, out of the read buffer (a piece the reader held is bytes already).
        piece = whole if type(whole) is bytes and len(whole) == data.nbytes else bytes(data)
        collect = self._collect
        if collect is not None:
            collect.append(piece)
            reader = cast(BodyReader, self._exchange.reader)
            reader.schedule_read(self._got_piece, self._got_end)  # may call back at once
            return
        waiter = self._exchange.body_waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(piece)
        else:
            self._chunk = piece

    def _got_end(self) -> None:
        self._ended = True
        self._closed = True
        exchange = self._exchange
        if exchange.hold and not exchange.released:
            exchange.proto.done_with(exchange)
        waiter = exchange.body_waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        else:
            self._chunk = None

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        exchange = self._exchange
        if not exchange.released:
            exchange.proto.abandon(exchange)
        reader = exchange.reader
        if reader is not None and not self._ended:
            reader.close()
        waiter = exchange.body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(StreamClosed("the response was closed"))
