"""``wsgi.input``: the request body, streamed from the loop to the application's thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class BodySource(Protocol):
    """Where an :class:`InputStream` takes the body from (the request's exchange)."""

    def next_body_piece(self) -> bytes | None:
        """The next piece of the body (waiting for it), ``None`` at its end."""


__all__ = ["BodySource", "InputStream"]


class InputStream:
    """``wsgi.input``: the request body, read from the loop on demand.

    Each refill asks the loop for the next piece of the body and waits; pieces are
    bounded by the connection's body high-water mark, so at most about that much is
    held here. A client that goes away mid-body raises :class:`ClientDisconnected`.
    """

    def __init__(self, exchange: BodySource | None) -> None:
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
