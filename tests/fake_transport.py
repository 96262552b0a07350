"""A transport and a loop for driving protocols in process: the transport keeps what is
written, the loop's clock moves only when told to."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from typing import Any


class FakeTransport(asyncio.Transport):
    """What the runtime's protocols need of a transport; ``data`` is what they wrote."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.writes = 0
        self.closed = False

    def write(self, data: Any) -> None:
        self.data += data
        self.writes += 1

    def writelines(self, pieces: Any) -> None:
        for piece in pieces:
            self.data += piece
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )


class FakeHandle:
    def __init__(self, loop: FakeLoop, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False
        self.loop = loop

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: FakeHandle) -> bool:
        return self.when < other.when


class FakeLoop:
    """``time`` and ``call_later`` on a clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.handles: list[FakeHandle] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle(self, self.now + delay, callback)
        heapq.heappush(self.handles, handle)
        return handle

    def call_soon(self, callback: Callable[[], None]) -> FakeHandle:
        return self.call_later(0, callback)

    def pending(self) -> int:
        return sum(not h.cancelled for h in self.handles)

    def advance(self, seconds: float) -> None:
        """Move the clock, running each handle that comes due, in order."""
        self.now += seconds
        while self.handles and self.handles[0].when <= self.now:
            handle = heapq.heappop(self.handles)
            if not handle.cancelled:
                handle.callback()
