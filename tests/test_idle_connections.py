"""What an idle keep-alive connection holds: no timer handle of its own (one clock per
loop calls the due connections back), no copy buffer (serializers lend theirs), no read
buffer, no per-instance dict. Driven with a fake loop whose clock the test moves, and
fake transports, so nothing here depends on timing."""

from __future__ import annotations

import gc
import math
import tracemalloc
from typing import Any

import pytest

from httpaf import Config, Reqd, Response
from httpaf.aio import ServerProtocol as _ServerProtocol
from httpaf.aio.driver import _Clock

from helpers import FakeLoop, FakeTransport

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def hello(reqd: Reqd) -> None:
    reqd.respond_with_string(Response(200, headers=[("Content-Length", "5")]), "hello")


def connect(loop: FakeLoop, config: Config, connections: set[Any]) -> tuple[Any, FakeTransport]:
    protocol = _ServerProtocol(hello, None, config, connections, loop)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def send(protocol: Any, data: bytes) -> None:
    buffer = protocol.get_buffer(-1)
    buffer[: len(data)] = data
    protocol.buffer_updated(len(data))


def test_idle_connections_share_one_timer_handle() -> None:
    # (Without the Date ticker, the loop's other handle: see test_date_header.)
    loop, config = FakeLoop(), Config(keep_alive_timeout=5.0, date_header=False)
    connections: set[Any] = set()
    pairs = [connect(loop, config, connections) for _ in range(50)]
    for protocol, _ in pairs:
        send(protocol, REQUEST)
    assert all(t.data.endswith(b"hello") for _, t in pairs)
    assert loop.pending() == 1  # not one per connection
    loop.advance(4.9)
    assert not any(t.closed for _, t in pairs)
    loop.advance(0.1 + 5.0 / 16)  # the timeout, rounded up to its slot
    assert all(t.closed for _, t in pairs)
    assert not connections or all(p._bucket is None for p in connections)


def test_a_connection_that_keeps_working_outlives_its_first_deadline() -> None:
    loop, config, connections = FakeLoop(), Config(keep_alive_timeout=5.0), set()
    busy, busy_transport = connect(loop, config, connections)
    idle, idle_transport = connect(loop, config, connections)
    send(busy, REQUEST)
    send(idle, REQUEST)
    for _ in range(6):  # a request every 3 s: never idle for 5 s
        loop.advance(3.0)
        send(busy, REQUEST)
    assert idle_transport.closed and not busy_transport.closed
    assert busy_transport.data.count(b"hello") == 7
    loop.advance(5.0 + 1.0)
    assert busy_transport.closed


def test_a_closed_connection_leaves_the_clock() -> None:
    loop, config, connections = FakeLoop(), Config(keep_alive_timeout=5.0), set()
    protocol, transport = connect(loop, config, connections)
    send(protocol, REQUEST)
    clock = protocol._clock
    protocol.connection_lost(None)
    assert all(protocol not in bucket for bucket in clock._buckets.values())
    loop.advance(10.0)
    assert not transport.closed  # its callback never came: it had left


def test_a_timeout_of_none_needs_no_handle() -> None:
    loop, config = FakeLoop(), Config(keep_alive_timeout=None, date_header=False)
    connections: set[Any] = set()
    protocol, transport = connect(loop, config, connections)
    send(protocol, REQUEST)
    assert loop.pending() == 0
    loop.advance(3600.0)
    assert not transport.closed


@pytest.mark.parametrize(
    ("deadline", "timeout"),
    [
        (1000.0, 5.0),  # on a slot boundary
        (1000.1, 5.0),
        (0.3, 0.3),  # 0.3 / (0.3 / 16) is not exact in binary
        (12345.678, 20.0),  # steps cap at one second
        (7.0, 1e-9),
        (1e9 + 0.123, 30.0),
    ],
)
def test_a_slot_is_never_before_the_deadline_nor_a_step_after(
    deadline: float, timeout: float
) -> None:
    step = min(timeout / 16, 1.0)
    at = _Clock.slot(deadline, timeout)
    assert deadline <= at <= deadline + step * (1 + 1e-9)
    assert math.isclose(at / step, round(at / step), rel_tol=0, abs_tol=1e-6)


def test_kept_bytes_do_not_outlive_the_request() -> None:
    loop, config, connections = FakeLoop(), Config(), set()
    protocol, transport = connect(loop, config, connections)
    send(protocol, REQUEST[:10])  # a head cut in two: its start is kept
    assert len(protocol._buf) > 0
    send(protocol, REQUEST[10:])
    assert transport.data.endswith(b"hello")
    assert len(protocol._buf) == 0  # an idle connection holds no read buffer


def test_an_idle_connection_is_small() -> None:
    """Python allocations per idle keep-alive connection (the transport is a fake)."""
    loop, config, connections = FakeLoop(), Config(), set()
    warm, _ = connect(loop, config, connections)
    send(warm, REQUEST)
    kept = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(500):
            protocol, transport = connect(loop, config, connections)
            send(protocol, REQUEST)
            kept.append(protocol)
        gc.collect()
        per_connection = (tracemalloc.get_traced_memory()[0] - before) / 500
    finally:
        tracemalloc.stop()
    assert all(p._transport.data for p in kept)
    # Before the clock, the lent buffers and the slots: about 9,400 bytes.
    assert per_connection < 2000, per_connection


class BrokenTimer(_ServerProtocol):
    __slots__ = ()

    def _expire(self, kind: int) -> None:
        raise RuntimeError("boom")


def test_a_failing_timer_callback_spares_the_others() -> None:
    loop, config, connections = FakeLoop(), Config(keep_alive_timeout=5.0), set()
    errors: list[dict[str, Any]] = []
    loop.call_exception_handler = errors.append  # type: ignore[attr-defined]
    broken = BrokenTimer(hello, None, config, connections, loop)
    broken.connection_made(FakeTransport())
    pairs = [connect(loop, config, connections) for _ in range(2)]
    for protocol in [broken] + [p for p, _ in pairs]:
        send(protocol, REQUEST)
    loop.advance(6.0)
    assert [type(e["exception"]) for e in errors] == [RuntimeError]
    assert [t.closed for _, t in pairs] == [True, True]


class Leaver(_ServerProtocol):
    """Its timeout makes other connections of the same slot leave (a handler could)."""

    __slots__ = ("victims",)

    def _expire(self, kind: int) -> None:
        for victim in self.victims:
            victim.connection_lost(None)
        super()._expire(kind)


def test_a_timer_callback_may_end_other_connections_of_its_slot() -> None:
    loop, config, connections = FakeLoop(), Config(keep_alive_timeout=5.0), set()
    others = [connect(loop, config, connections) for _ in range(5)]
    leaver = Leaver(hello, None, config, connections, loop)
    leaver.victims = [p for p, _ in others]
    transport = FakeTransport()
    leaver.connection_made(transport)
    for protocol in [leaver] + leaver.victims:
        send(protocol, REQUEST)
    loop.advance(6.0)  # whatever the order, no "set changed size during iteration"
    assert transport.closed
    assert all(p._bucket is None for p in leaver.victims)


# An idle connection lends its parser (a parser between messages holds nothing of the
# connection): connections that take turns must still parse each their own requests,
# with their own limits.


def test_connections_taking_turns_with_cut_heads_parse_their_own_requests() -> None:
    loop, config, connections = FakeLoop(), Config(), set()
    seen: list[str] = []

    def target(reqd: Reqd) -> None:
        seen.append(reqd.request.target)
        reqd.respond_with_string(Response(200, headers=[("Content-Length", "2")]), "ok")

    pairs = []
    for _ in range(3):
        protocol = _ServerProtocol(target, None, config, connections, loop)
        transport = FakeTransport()
        protocol.connection_made(transport)
        pairs.append((protocol, transport))
    heads = [f"GET /{i} HTTP/1.1\r\nHost: x\r\nX-N: {i}\r\n\r\n".encode() for i in range(3)]
    for cut in (3, 12, 20, 30):  # in the request line, in the fields
        seen.clear()
        for (protocol, _), head in zip(pairs, heads, strict=True):
            send(protocol, head[:cut])
        for (protocol, _), head in zip(reversed(pairs), reversed(heads), strict=True):
            send(protocol, head[cut:])
        assert seen == ["/2", "/1", "/0"]
    assert all(t.data.count(b"HTTP/1.1 200 OK") == 4 for _, t in pairs)


def test_a_borrowed_parser_has_the_borrowers_limits() -> None:
    loop, connections = FakeLoop(), set()
    strict, lax = Config(max_headers=2), Config(max_headers=20)
    fields = "".join(f"X-{i}: v\r\n" for i in range(5))
    request = f"GET / HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode()
    a, a_out = connect(loop, strict, connections)
    b, b_out = connect(loop, lax, connections)
    for _ in range(2):  # each lends its parser after a request the other can see
        send(b, REQUEST)
        send(a, REQUEST)
    before = len(b_out.data)
    send(b, request)
    assert b_out.data[before:].startswith(b"HTTP/1.1 200")
    before = len(a_out.data)
    send(a, request)
    assert a_out.data[before:].startswith(b"HTTP/1.1 431")


def test_the_head_timer_restarts_for_each_new_head() -> None:
    # Every read finishes a request and starts the next one's head: each head is
    # younger than head_timeout, so no 408 however long the traffic goes on.
    loop = FakeLoop()
    config, connections = Config(head_timeout=2.0, keep_alive_timeout=5.0), set()
    protocol, transport = connect(loop, config, connections)
    send(protocol, REQUEST + REQUEST[:10])
    for _ in range(20):  # 10 s of steady traffic
        loop.advance(0.5)
        send(protocol, REQUEST[10:] + REQUEST[:10])
    assert b" 408 " not in transport.data and not transport.closed
    assert transport.data.count(b"hello") == 21
    loop.advance(2.0 + 2.0 / 16)  # the last head, cut: it times out
    assert b" 408 " in transport.data
