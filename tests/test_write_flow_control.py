"""Output flow control with transports whose ``writelines`` does not pause the protocol.

CPython 3.12.0 to 3.12.8 and 3.13.0 to 3.13.1 (gh-127655): the selector transport's
``writelines`` keeps what it could not send without checking its high-water mark, so
a peer that stops reading would let a streaming response pile up in the server. The
runtime makes such a transport check after each ``writelines``.
"""

from __future__ import annotations

from typing import Any

from httpaf import Config, Reqd, Response
from httpaf.aio import ServerProtocol as _ServerProtocol

from helpers import FakeLoop, FakeTransport

PIECE = b"p" * 65536
STEPS = 16
HIGH = 4 * 65536


class UnsentTransport(FakeTransport):
    """Sends nothing; ``write`` checks the high-water mark, ``writelines`` does not."""

    def __init__(self, protocol: Any) -> None:
        super().__init__()
        self.protocol = protocol
        self.buffered = 0
        self.paused = False

    def write(self, data: Any) -> None:
        super().write(data)
        self.buffered += len(data)
        self._maybe_pause()

    def writelines(self, pieces: Any) -> None:
        super().writelines(pieces)
        self.buffered += sum(map(len, pieces))  # (no check: the bug)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return HIGH // 4, HIGH

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._maybe_pause()

    def _maybe_pause(self) -> None:
        if self.buffered > HIGH and not self.paused:
            self.paused = True
            self.protocol.pause_writing()


def streamer(steps: list[int]) -> Any:
    """A handler streaming two pieces per step, the next step once a step is written."""

    def handler(reqd: Reqd) -> None:
        writer = reqd.respond_with_streaming(Response(200), flush_headers_immediately=True)

        def step() -> None:
            if len(steps) == STEPS:
                writer.close()
                return
            steps.append(len(steps))
            writer.schedule(PIECE)
            writer.schedule(PIECE)  # two iovecs: the runtime uses writelines
            writer.flush(step)

        step()

    return handler


def test_a_transport_whose_writelines_does_not_pause_is_made_to() -> None:
    steps: list[int] = []
    protocol = _ServerProtocol(streamer(steps), None, Config(), set(), FakeLoop())
    transport = UnsentTransport(protocol)
    protocol.connection_made(transport)
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    protocol.get_buffer(-1)[: len(request)] = request
    protocol.buffer_updated(len(request))
    assert transport.paused
    # Writing stopped at the first step past the mark, not at the end of the body.
    assert transport.buffered <= HIGH + 2 * len(PIECE) + 1024
    stopped_at = len(steps)
    assert stopped_at < STEPS
    transport.buffered = 0  # the peer read everything
    transport.paused = False
    protocol.resume_writing()
    assert len(steps) > stopped_at  # writing went on


class TooManyWrites(BaseException):
    """Stops a runaway writer loop (a BaseException: the runtime does not catch it)."""


class NoLimitsTransport(FakeTransport):
    """Tells its buffer size and limits, but cannot set them (``WriteTransport``'s
    default raises ``NotImplementedError``)."""

    def writelines(self, pieces: Any) -> None:
        if self.writes > 50:
            raise TooManyWrites
        super().writelines(pieces)

    def get_write_buffer_size(self) -> int:
        return len(self.data)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return 0, 1


def test_a_transport_that_cannot_set_its_limits_gets_each_write_once() -> None:
    steps: list[int] = []
    errors: list[BaseException] = []

    def on_error(reqd: Reqd, error: BaseException, start: Any) -> None:
        errors.append(error)

    protocol = _ServerProtocol(streamer(steps), on_error, Config(), set(), FakeLoop())
    transport = NoLimitsTransport()
    protocol.connection_made(transport)
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    protocol.get_buffer(-1)[: len(request)] = request
    protocol.buffer_updated(len(request))
    assert errors == []
    assert len(steps) == STEPS
    body = bytes(transport.data).partition(b"\r\n\r\n")[2]
    assert body == PIECE * (2 * STEPS)  # each write handed over once, none repeated
