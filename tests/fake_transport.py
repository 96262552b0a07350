"""A transport for driving protocols in process: it keeps what is written."""

from __future__ import annotations

import asyncio
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
