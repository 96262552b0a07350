"""httpaf.sync.BusyReads: a read asks without sleeping within its window; windows that
find nothing make the next reads sleep at once, 1, 2, 4, ... up to 64 of them; one that
finds bytes starts over (docs/client.md, "Busy reads")."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from httpaf.sync import BusyReads
from httpaf.sync import busy as busy_module

pytestmark = pytest.mark.skipif(not BusyReads.available, reason="no MSG_DONTWAIT here")

WINDOW = 0.001  # (long enough to loop, short enough for a test that misses often)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A TCP connection on loopback: our end blocking, as the blocking runtime leaves a
    plain socket, and the server's."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        theirs, _ = listener.accept()
    ours.settimeout(None)
    yield ours, theirs
    ours.close()
    theirs.close()


def read(busy: BusyReads, sock: socket.socket) -> tuple[int, bytes]:
    buf = bytearray(64)
    n = busy.read(sock, memoryview(buf))
    return n, bytes(buf[: max(n, 0)])


def test_bytes_already_in_are_read_without_sleeping(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    busy = BusyReads(WINDOW)
    theirs.sendall(b"answer")
    assert read(busy, ours) == (6, b"answer")


def test_the_end_of_the_stream_is_read_as_zero(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.shutdown(socket.SHUT_WR)
    assert read(BusyReads(WINDOW), ours) == (0, b"")


def test_a_reset_is_raised_not_taken_for_nothing(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    theirs.close()  # (with a zero linger: a reset)
    with pytest.raises(ConnectionResetError):
        read(BusyReads(WINDOW), ours)


def test_a_window_that_finds_nothing_leaves_the_bytes_to_a_blocking_read(
        pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    busy = BusyReads(WINDOW)
    assert read(busy, ours) == (-1, b"")
    theirs.sendall(b"late")
    # The next read sleeps at once (the caller's blocking read): the bytes stay in.
    assert read(busy, ours) == (-1, b"")
    assert ours.recv(64) == b"late"


def skips_before_the_next_window(busy: BusyReads, ours: socket.socket,
                                  theirs: socket.socket) -> int:
    """Reads that sleep at once (leaving bytes in) before one asks again and takes them."""
    theirs.sendall(b"x")
    for count in range(2 * busy_module.BACKOFF_LIMIT):
        if read(busy, ours) == (1, b"x"):
            return count
    raise AssertionError("no read asked again")


def miss(busy: BusyReads, ours: socket.socket, times: int) -> None:
    """``times`` windows that find nothing in a row, with the skips between them."""
    for streak in range(1, times + 1):
        assert read(busy, ours) == (-1, b"")  # a window
        if streak < times:
            for _ in range(min(2 ** (streak - 1), busy_module.BACKOFF_LIMIT)):
                assert read(busy, ours) == (-1, b"")  # a skip


@pytest.mark.parametrize(("misses", "skips"), [(1, 1), (2, 2), (3, 4), (4, 8), (7, 64), (9, 64)])
def test_misses_in_a_row_double_the_reads_that_sleep_at_once(
        pair: tuple[socket.socket, socket.socket], misses: int, skips: int) -> None:
    ours, theirs = pair
    busy = BusyReads(WINDOW)
    miss(busy, ours, misses)
    assert skips_before_the_next_window(busy, ours, theirs) == skips


def test_a_window_that_finds_bytes_starts_over(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    busy = BusyReads(WINDOW)
    miss(busy, ours, 4)
    assert skips_before_the_next_window(busy, ours, theirs) == 8  # (and a window found it)
    miss(busy, ours, 1)
    assert skips_before_the_next_window(busy, ours, theirs) == 1
