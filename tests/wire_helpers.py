"""Helpers that drive a parser over bytes, as a runtime would."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from httpaf.model.errors import ParseError
from httpaf.model.message import EndOfMessage


def parse_all(parser: Any, data: bytes, eof: bool = False, split: int | None = None) -> list[Any]:
    """Feed ``data`` (in two reads if ``split``), keeping unconsumed bytes like a runtime.

    See :func:`parse_pieces` for what comes back.
    """
    pieces = [data] if split is None else [data[:split], data[split:]]
    return parse_pieces(parser, pieces, eof)


def parse_pieces(parser: Any, pieces: Iterable[bytes], eof: bool = False) -> list[Any]:
    """Feed any number of reads (``eof`` with the last one), as a runtime would.

    Returns the events, with body pieces joined into ``bytes`` and a parse error as
    ``("error", status, message)``; a trailing ``None`` marks "needs more input".
    """
    pieces = list(pieces)
    events: list[Any] = []
    pending = bytearray()
    for i, piece in enumerate(pieces):
        pending += piece
        pos = 0
        while True:
            try:
                event = parser.parse(pending, pos, len(pending), eof and i == len(pieces) - 1)
            except ParseError as error:
                events.append(("error", error.status, error.message))
                return events
            pos += parser.consumed
            if event is None:
                break
            if isinstance(event, memoryview):
                event = bytes(event)
                if events and isinstance(events[-1], bytes):
                    events[-1] += event
                    continue
            events.append(event)
        del pending[:pos]
    if not events or not isinstance(events[-1], EndOfMessage) or pending:
        events.append(None)
    return events
