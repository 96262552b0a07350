"""The Faraday-style serializer (Faraday's buffering, adapted), in both implementations.

Our API: ``write`` copies, ``schedule`` queues the caller's buffer (zero-copy),
``operation()`` returns the iovecs to write (``[]`` when none), ``shift(n)`` reports
``n`` bytes written, ``flush(callback)``, ``close()``, ``drain()``.
"""

from __future__ import annotations

import array
from types import SimpleNamespace
from typing import Any

import pytest

from httpaf.model.errors import StateError
from httpaf.model.headers import Headers
from httpaf.model.message import Request, Response
from httpaf.model.version import HTTP_1_0, HTTP_1_1, Version


def out(serializer: Any) -> list[bytes]:
    return [bytes(v) for v in serializer.operation()]


def joined(serializer: Any) -> bytes:
    return b"".join(out(serializer))


def written(serializer: Any) -> bytes:
    """Everything pending, then shifted as if written."""
    data = joined(serializer)
    serializer.shift(len(data))
    return data


# -- copying and zero-copy writes ---------------------------------------------------------


def test_write_copies(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    data = bytearray(b"abc")
    s.write(data)
    data[0] = ord("X")
    s.write(memoryview(bytearray(b"de")))
    s.write(b"f")
    assert out(s) == [b"abcdef"]  # copies coalesce into one iovec


def test_schedule_is_zero_copy(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    data = bytearray(b"abc")
    s.schedule(data)
    data[0] = ord("X")  # mutated after schedule, before operation()
    assert out(s) == [b"Xbc"]
    iovecs = s.operation()
    data[1] = ord("Y")  # and the iovecs handed out are views of it too
    assert bytes(iovecs[0]) == b"XYc"
    assert iovecs[0].obj is data


def test_schedule_a_slice(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    data = bytearray(b"0123456789")
    s.schedule(memoryview(data)[2:5])
    data[3] = ord("X")
    assert out(s) == [b"2X4"]


def test_writes_after_a_schedule_keep_order(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.write(b"a")
    s.schedule(b"B")
    s.write(b"c")
    s.write(b"d")
    s.schedule(b"E")
    s.schedule(b"F")
    s.write(b"g")
    assert out(s) == [b"a", b"B", b"cd", b"E", b"F", b"g"]


def test_writev_and_schedulev(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.writev([b"a", bytearray(b"b"), memoryview(b"c")])
    s.schedulev([b"D", b"", b"E"])
    assert out(s) == [b"abc", b"D", b"E"]


def test_empty_writes_queue_nothing(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.write(b"")
    s.schedule(b"")
    s.schedule(bytearray())
    assert s.operation() == []
    assert not s.has_pending_output and s.pending_bytes == 0


def test_write_string(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.write_string("caf\xe9")
    assert out(s) == [b"caf\xe9"]
    with pytest.raises(ValueError, match="latin-1"):
        s.write_string("\u20ac")
    assert out(s) == [b"caf\xe9"]


def test_non_byte_buffers_are_written_as_bytes(wire: SimpleNamespace) -> None:
    s = wire.Serializer(buffer_size=64)
    ints = array.array("I", [1, 2])
    s.write(ints)
    s.schedule(ints)
    s.write(memoryview(ints))
    expected = ints.tobytes()
    assert out(s) == [expected, expected, expected]
    assert s.pending_bytes == 3 * len(expected)


def test_buffer_is_reused_from_its_start(wire: SimpleNamespace) -> None:
    s = wire.Serializer(buffer_size=16)
    s.write(b"abc")
    (first,) = s.operation()
    buffer = first.obj
    s.shift(3)
    s.write(b"def")
    (second,) = s.operation()
    assert second.obj is buffer
    assert bytes(buffer[:3]) == b"def"  # from the start again


def test_buffer_is_not_reused_while_bytes_are_pending(wire: SimpleNamespace) -> None:
    s = wire.Serializer(buffer_size=16)
    s.write(b"abc")
    (first,) = s.operation()
    s.shift(2)  # "c" still pending
    s.write(b"def")
    assert out(s) == [b"c", b"def"]
    assert bytes(first.obj[:6]) == b"abcdef"


def test_buffer_is_not_reused_while_copied_bytes_wait(wire: SimpleNamespace) -> None:
    s = wire.Serializer(buffer_size=16)
    s.write(b"abc")
    s.operation()
    s.write(b"de")  # copied after the operation: not yet handed out
    s.shift(3)
    s.write(b"f")
    assert out(s) == [b"def"]


def test_write_bigger_than_the_buffer_gets_its_own(wire: SimpleNamespace) -> None:
    s = wire.Serializer(buffer_size=8)
    s.write(b"ab")
    s.write(b"x" * 20)
    iovecs = s.operation()
    assert [bytes(v) for v in iovecs] == [b"ab", b"x" * 20]
    assert iovecs[0].obj is not iovecs[1].obj
    assert len(iovecs[1].obj) == 20  # the whole write, never split


def test_write_that_does_not_fit_takes_a_fresh_buffer(wire: SimpleNamespace) -> None:
    s = wire.Serializer(buffer_size=8)
    s.write(b"12345")
    first = s.operation()
    s.write(b"6789")
    assert [bytes(v) for v in s.operation()] == [b"12345", b"6789"]
    assert bytes(first[0]) == b"12345"  # what was handed out is left alone


# An idle serializer holds no copy buffer (thousands of idle keep-alive connections
# would each pin one): it gives its buffer back once everything copied is out, and the
# next writer of that size, on any connection, takes it. Sizes here are unusual so
# that no other test's buffers are around.


def test_an_idle_serializer_lends_its_buffer(wire: SimpleNamespace) -> None:
    a, b = wire.Serializer(buffer_size=23), wire.Serializer(buffer_size=23)
    a.write(b"abc")
    (first,) = a.operation()
    buffer = first.obj
    a.shift(3)  # all written: a is idle
    b.write(b"xyz")
    (second,) = b.operation()
    assert second.obj is buffer
    a.write(b"def")  # a takes another one; b's bytes stay as they are
    assert out(a) == [b"def"] and out(b) == [b"xyz"]
    assert a.operation()[0].obj is not buffer


def test_take_gives_the_buffer_back(wire: SimpleNamespace) -> None:
    a, b = wire.Serializer(buffer_size=29), wire.Serializer(buffer_size=29)
    a.write(b"head")
    assert a.take(100) == b"head"
    b.write(b"body")
    (view,) = b.operation()
    a.write(b"more")
    (other,) = a.operation()
    assert view.obj is not other.obj
    assert bytes(view) == b"body" and bytes(other) == b"more"


def test_a_buffer_with_bytes_pending_is_not_lent(wire: SimpleNamespace) -> None:
    a, b = wire.Serializer(buffer_size=31), wire.Serializer(buffer_size=31)
    a.write(b"abc")
    (first,) = a.operation()
    a.shift(2)  # "c" is still out there
    b.write(b"xyz")
    assert b.operation()[0].obj is not first.obj
    assert out(a) == [b"c"] and bytes(first) == b"abc"


def test_an_oversized_buffer_is_not_lent(wire: SimpleNamespace) -> None:
    a, b = wire.Serializer(buffer_size=37), wire.Serializer(buffer_size=37)
    a.write(b"x" * 50)  # a buffer of its own, 50 bytes
    assert a.take(100) == b"x" * 50
    b.write(b"y")
    assert len(b.operation()[0].obj) == 37


def test_the_pool_keeps_at_most_64_buffers_of_a_size(wire: SimpleNamespace) -> None:
    lenders = [wire.Serializer(buffer_size=43) for _ in range(70)]
    for s in lenders:
        s.write(b"x")  # each takes a buffer of its own: none is free meanwhile
    buffers = [s.operation()[0].obj for s in lenders]
    for s in lenders:
        s.shift(1)  # all 70 given back: 64 are kept
    borrowers = [wire.Serializer(buffer_size=43) for _ in range(70)]
    for s in borrowers:
        s.write(b"y")
    got = [s.operation()[0].obj for s in borrowers]
    assert got[:64] == buffers[63::-1]  # the last given back come first
    assert not any(any(g is b for b in buffers) for g in got[64:])


def test_buffer_size_must_be_positive(wire: SimpleNamespace) -> None:
    with pytest.raises(ValueError):
        wire.Serializer(buffer_size=0)


# -- flush callbacks ----------------------------------------------------------------------


def test_flush_with_nothing_pending_fires_at_once(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    calls: list[str] = []
    s.flush(lambda: calls.append("now"))
    assert calls == ["now"]
    s.write(b"ab")
    written(s)
    s.flush(lambda: calls.append("again"))
    assert calls == ["now", "again"]


def test_flush_fires_exactly_when_its_bytes_are_shifted(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    calls: list[int] = []
    s.write(b"12345")
    s.flush(lambda: calls.append(1))
    s.schedule(b"678")
    s.flush(lambda: calls.append(2))
    s.flush(lambda: calls.append(3))
    s.write(b"9")
    s.flush(lambda: calls.append(4))
    assert calls == []
    s.shift(4)
    assert calls == []
    s.shift(1)
    assert calls == [1]
    s.shift(2)
    assert calls == [1]
    s.shift(1)
    assert calls == [1, 2, 3]
    s.shift(1)
    assert calls == [1, 2, 3, 4]
    assert not s.has_pending_output


def test_flush_covers_bytes_written_before_it_only(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    calls: list[str] = []
    s.write(b"ab")
    s.flush(lambda: calls.append("ab"))
    s.write(b"cd")
    s.shift(2)
    assert calls == ["ab"]
    assert out(s) == [b"cd"]


def test_flush_callback_may_write(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.write(b"a")
    s.flush(lambda: s.write(b"b"))
    s.shift(1)
    assert out(s) == [b"b"]


# -- shift ------------------------------------------------------------------------------------


def test_shift_partial_iovecs(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.write(b"abc")
    s.schedule(b"defg")
    s.write(b"hi")
    s.shift(1)
    assert out(s) == [b"bc", b"defg", b"hi"]
    s.shift(3)
    assert out(s) == [b"efg", b"hi"]
    s.shift(4)
    assert out(s) == [b"i"]
    assert s.pending_bytes == 1
    s.shift(1)
    assert out(s) == []


def test_shift_zero(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.shift(0)
    s.write(b"a")
    s.shift(0)
    assert out(s) == [b"a"]


@pytest.mark.parametrize("n", [-1, 4, 100])
def test_shift_out_of_range_changes_nothing(wire: SimpleNamespace, n: int) -> None:
    s = wire.Serializer()
    calls: list[int] = []
    s.write(b"ab")
    s.schedule(b"c")
    s.flush(lambda: calls.append(1))
    with pytest.raises(ValueError):
        s.shift(n)
    assert out(s) == [b"ab", b"c"]
    assert calls == []
    s.shift(3)
    assert calls == [1]


def test_pending_bytes(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    assert (s.pending_bytes, s.has_pending_output) == (0, False)
    s.write(b"abc")
    assert (s.pending_bytes, s.has_pending_output) == (3, True)
    s.schedule(b"de")
    assert s.pending_bytes == 5
    s.operation()
    s.write(b"f")
    assert s.pending_bytes == 6
    s.shift(4)
    assert s.pending_bytes == 2
    assert out(s) == [b"e", b"f"]
    s.shift(2)
    assert (s.pending_bytes, s.has_pending_output) == (0, False)


# -- close and drain ----------------------------------------------------------------------------

WRITES = [
    ("write", lambda s: s.write(b"x")),
    ("write empty", lambda s: s.write(b"")),
    ("write_string", lambda s: s.write_string("x")),
    ("writev", lambda s: s.writev([b"x"])),
    ("schedule", lambda s: s.schedule(b"x")),
    ("schedule empty", lambda s: s.schedule(b"")),
    ("schedulev", lambda s: s.schedulev([b"x"])),
    ("write_chunk", lambda s: s.write_chunk(b"x")),
    ("write_chunk zero-copy", lambda s: s.write_chunk(b"x", copy=False)),
    ("write_last_chunk", lambda s: s.write_last_chunk()),
    ("write_response_head", lambda s: s.write_response_head(Response(200))),
    ("write_request_head", lambda s: s.write_request_head(Request("GET", "/"))),
]


@pytest.mark.parametrize("write", [w[1] for w in WRITES], ids=[w[0] for w in WRITES])
def test_writes_after_close_raise(wire: SimpleNamespace, write: Any) -> None:
    s = wire.Serializer()
    s.write(b"pending")
    s.close()
    assert s.is_closed
    with pytest.raises(StateError, match="^cannot write to closed writer$"):
        write(s)
    assert out(s) == [b"pending"]  # still handed out


def test_close_then_operation(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    assert not s.is_closed
    s.write(b"ab")
    s.close()
    s.close()  # idempotent
    assert out(s) == [b"ab"]
    s.shift(2)
    assert s.operation() == [] and s.is_closed
    calls: list[int] = []
    s.flush(lambda: calls.append(1))
    assert calls == [1]


def test_drain(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    calls: list[int] = []
    s.write(b"abc")
    s.flush(lambda: calls.append(1))
    s.schedule(b"defg")
    s.flush(lambda: calls.append(2))
    s.operation()
    s.shift(1)
    assert s.drain() == 6
    assert calls == [1, 2]
    assert s.is_closed
    assert s.operation() == [] and s.pending_bytes == 0
    assert s.drain() == 0
    with pytest.raises(StateError):
        s.write(b"x")


def test_drain_with_nothing_pending(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    assert s.drain() == 0
    assert s.is_closed


# -- heads -----------------------------------------------------------------------------------------

RESPONSE_HEADS = [
    (Response(200), None, b"HTTP/1.1 200 OK\r\n\r\n"),
    (Response(404, [("Content-Length", "0")]), None,
     b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    (Response(200, [("X-A", "1"), ("x-a", "2")]), [("Content-Length", "3")],
     b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 3\r\n\r\n"),
    (Response(200), [("Date", "today"), ("Server", "httpaf")],
     b"HTTP/1.1 200 OK\r\nDate: today\r\nServer: httpaf\r\n\r\n"),
    (Response(299), None, b"HTTP/1.1 299 Non-standard status code\r\n\r\n"),
    (Response(200, reason="Fine"), None, b"HTTP/1.1 200 Fine\r\n\r\n"),
    (Response(200, reason=""), None, b"HTTP/1.1 200 \r\n\r\n"),
    (Response(200, reason="caf\xe9 \tok"), None, b"HTTP/1.1 200 caf\xe9 \tok\r\n\r\n"),
    (Response(200, version=HTTP_1_0), None, b"HTTP/1.0 200 OK\r\n\r\n"),
    (Response(101, [("Upgrade", "websocket")]), [],
     b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
    (Response(200, [("X", ""), ("Y", "a\tb"), ("Z", "\xe9\xff")]), None,
     b"HTTP/1.1 200 OK\r\nX: \r\nY: a\tb\r\nZ: \xe9\xff\r\n\r\n"),
    (Response(200, [("!#$%&'*+-.^_`|~09azAZ", "v")]), None,
     b"HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n"),
]


@pytest.mark.parametrize(("response", "extra", "expected"), RESPONSE_HEADS)
def test_write_response_head(
    wire: SimpleNamespace, response: Response, extra: Any, expected: bytes
) -> None:
    s = wire.Serializer()
    s.write(b"<")
    s.write_response_head(response, extra)
    assert joined(s) == b"<" + expected


def test_write_response_head_with_headers_object(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.write_response_head(Response(200, Headers([("a", "b")])), Headers([("c", "d")]).to_list())
    assert joined(s) == b"HTTP/1.1 200 OK\r\na: b\r\nc: d\r\n\r\n"


REQUEST_HEADS = [
    (Request("GET", "/", [("Host", "h")]), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    (Request("POST", "/a?b=c", [("Host", "h"), ("Content-Length", "2")], HTTP_1_0),
     b"POST /a?b=c HTTP/1.0\r\nHost: h\r\nContent-Length: 2\r\n\r\n"),
    (Request("OPTIONS", "*"), b"OPTIONS * HTTP/1.1\r\n\r\n"),
    (Request("CONNECT", "h:443"), b"CONNECT h:443 HTTP/1.1\r\n\r\n"),
    (Request("get", "http://h/x"), b"get http://h/x HTTP/1.1\r\n\r\n"),
    (Request("GET", "/", [], Version(2, 0)), b"GET / HTTP/2.0\r\n\r\n"),
]


@pytest.mark.parametrize(("request_", "expected"), REQUEST_HEADS)
def test_write_request_head(wire: SimpleNamespace, request_: Request, expected: bytes) -> None:
    s = wire.Serializer()
    s.write_request_head(request_)
    assert joined(s) == expected


# -- chunks


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hello", b"5\r\nhello\r\n"),
        (b"x" * 10, b"a\r\n" + b"x" * 10 + b"\r\n"),
        (b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n"),
        (b"x" * 4096, b"1000\r\n" + b"x" * 4096 + b"\r\n"),
        (b"x" * 0xABCDE, b"abcde\r\n" + b"x" * 0xABCDE + b"\r\n"),
        (b"", b""),
        (bytearray(b"ab"), b"2\r\nab\r\n"),
        (memoryview(b"abc")[1:], b"2\r\nbc\r\n"),
    ],
)
@pytest.mark.parametrize("copy", [True, False])
def test_write_chunk(wire: SimpleNamespace, data: Any, expected: bytes, copy: bool) -> None:
    s = wire.Serializer(buffer_size=64)
    s.write_chunk(data, copy=copy)
    assert joined(s) == expected


def test_write_chunk_zero_copy(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    data = bytearray(b"abc")
    s.write_chunk(data, copy=False)
    s.write_chunk(bytearray(b"de"))
    data[0] = ord("X")
    assert out(s) == [b"3\r\n", b"Xbc", b"\r\n2\r\nde\r\n"]


def test_write_chunk_copy(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    data = bytearray(b"abc")
    s.write_chunk(data)
    data[0] = ord("X")
    assert out(s) == [b"3\r\nabc\r\n"]


@pytest.mark.parametrize(
    ("trailers", "expected"),
    [
        (None, b"0\r\n\r\n"),
        (Headers(), b"0\r\n\r\n"),
        (Headers([("X-Checksum", "abc")]), b"0\r\nX-Checksum: abc\r\n\r\n"),
        (Headers([("A", "1"), ("B", "")]), b"0\r\nA: 1\r\nB: \r\n\r\n"),
    ],
)
def test_write_last_chunk(wire: SimpleNamespace, trailers: Any, expected: bytes) -> None:
    s = wire.Serializer()
    s.write_chunk(b"x")
    s.write_last_chunk(trailers)
    assert joined(s) == b"1\r\nx\r\n" + expected


# -- refusing what could inject

CTLS = ["\r", "\n", "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"]

BAD_NAMES = [
    *[f"X{c}Y" for c in CTLS],
    "\r\nX",
    "X\r\n",
    "",
    "X Y",
    " X",
    "X ",
    "X\tY",
    "X:Y",
    "X:",
    *[f"X{c}Y" for c in '()<>@,;\\"/[]?={}'],
    "X\xe9",
    "X\xa0",
    "\u20ac",
    "Set-Cookie\r\nX-Injected",
]

BAD_VALUES = [
    *[f"a{c}b" for c in CTLS],
    "\r\nX-Injected: 1",
    "a\r\n",
    "a\n",
    "a\r",
    "\x00",
    "\u20ac",
    "a\u0100",
]

BAD_REASONS = [*[f"O{c}K" for c in CTLS], "OK\r\nX-Injected: 1", "\u20ac"]


def assert_refused(wire: SimpleNamespace, write: Any) -> None:
    s = wire.Serializer()
    s.write(b"before")
    with pytest.raises(ValueError):
        write(s)
    assert out(s) == [b"before"]  # nothing of the refused head went out


@pytest.mark.parametrize("name", BAD_NAMES)
def test_refuse_bad_field_name(wire: SimpleNamespace, name: str) -> None:
    assert_refused(wire, lambda s: s.write_response_head(Response(200, [("A", "1"), (name, "v")])))
    assert_refused(wire, lambda s: s.write_response_head(Response(200), [(name, "v")]))
    assert_refused(wire, lambda s: s.write_request_head(Request("GET", "/", [(name, "v")])))
    assert_refused(wire, lambda s: s.write_last_chunk(Headers([(name, "v")])))
    with pytest.raises(ValueError):
        wire.serializer.check_field(name, "v")


@pytest.mark.parametrize("value", BAD_VALUES)
def test_refuse_bad_field_value(wire: SimpleNamespace, value: str) -> None:
    assert_refused(wire, lambda s: s.write_response_head(Response(200, [("A", "1"), ("X", value)])))
    assert_refused(wire, lambda s: s.write_response_head(Response(200), [("X", value)]))
    assert_refused(wire, lambda s: s.write_request_head(Request("GET", "/", [("X", value)])))
    assert_refused(wire, lambda s: s.write_last_chunk(Headers([("X", value)])))
    if value.isascii() or all(ord(c) < 256 for c in value):
        with pytest.raises(ValueError):
            wire.serializer.check_field("X", value)


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_refuse_bad_reason(wire: SimpleNamespace, reason: str) -> None:
    assert_refused(wire, lambda s: s.write_response_head(Response(200, reason=reason)))


@pytest.mark.parametrize("reason", ["O\x00K", "O\rK", "O\nK", "O\x7fK"])
def test_check_reason(wire: SimpleNamespace, reason: str) -> None:
    with pytest.raises(ValueError):
        wire.serializer.check_reason(reason)
    wire.serializer.check_reason("All good \t\xe9")


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", ""),
        ("GET", "/a b"),
        ("GET", "/\r\nX: y"),
        ("GET", "/\x00"),
        ("GET", "/\x7f"),
        ("GET", "/\xe9"),
        ("GET", "/\u20ac"),
        ("", "/"),
        ("G T", "/"),
        ("GET\r\n", "/"),
        ("G(T", "/"),
        ("G\xc9T", "/"),
    ],
)
def test_refuse_bad_request_line(wire: SimpleNamespace, method: str, target: str) -> None:
    assert_refused(wire, lambda s: s.write_request_head(Request(method, target)))


@pytest.mark.parametrize("status", [0, 99, 1000, -200])
def test_refuse_bad_status(wire: SimpleNamespace, status: int) -> None:
    response = Response(200)
    response.status = status  # bypassing the constructor's check
    assert_refused(wire, lambda s: s.write_response_head(response))


def test_accept_what_is_valid(wire: SimpleNamespace) -> None:
    wire.serializer.check_field("X-Ok", "visible \t text \x80\xff")
    wire.serializer.check_field("x", "")


# -- take: the pending output as one bytes object -------------------------------------------


def test_take_joins_copies_and_scheduled_views(
    wire: SimpleNamespace,
) -> None:
    s = wire.Serializer(8)
    assert s.take(100) is None  # nothing pending
    s.write(b"head")
    s.schedule(bytearray(b"-body-"))
    s.write(b"tail")
    assert s.take(13) is None  # over the limit: nothing taken
    assert s.pending_bytes == 14
    data = s.take(14)
    assert data == b"head-body-tail" and type(data) is bytes
    assert not s.has_pending_output and s.pending_bytes == 0
    assert s.take(100) is None
    s.write(b"again")
    assert s.take(100) == b"again"


def test_take_of_copies_alone_reuses_the_buffer(wire: SimpleNamespace) -> None:
    s = wire.Serializer(16)
    s.write(b"0123456789")
    assert s.take(100) == b"0123456789"
    s.write(b"abcdefghij")  # fits again: the buffer restarted at 0
    assert out(s) == [b"abcdefghij"]


def test_take_leaves_a_strided_view_to_the_iovec_path(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.schedule(memoryview(b"a-b-c")[::2])
    assert s.take(100) is None
    assert joined(s) == b"abc"


# -- write_framed_response_head: framing and persistence decided with the head --------------

FRAMED_CASES = [
    # (status, fields, method, request version, body size, persistent, result, head
    #  fields written after the status line)
    (200, [("Content-Type", "t")], "GET", HTTP_1_1, 14, True,
     (14, False, True), "Content-Type: t\r\nContent-Length: 14\r\n"),
    (200, [("content-length", "3")], "GET", HTTP_1_1, None, True,
     (3, False, True), "content-length: 3\r\n"),
    (200, [("Connection", "Upgrade, CLOSE")], "GET", HTTP_1_1, 0, True,
     (0, False, False), "Connection: Upgrade, CLOSE\r\nContent-Length: 0\r\n"),
    (200, [], "GET", HTTP_1_0, 2, True,
     (2, False, True), "Content-Length: 2\r\nConnection: keep-alive\r\n"),
    (200, [("Connection", "keep-alive")], "GET", HTTP_1_0, 2, True,
     (2, False, True), "Connection: keep-alive\r\nContent-Length: 2\r\n"),
    (200, [], "GET", HTTP_1_1, None, True,
     (-2, False, False), "Connection: close\r\n"),  # no length: ends the connection
    (200, [("Transfer-Encoding", "gzip, chunked")], "GET", HTTP_1_1, None, True,
     (-1, False, True), "Transfer-Encoding: gzip, chunked\r\n"),
    (200, [("Transfer-Encoding", "chunked, gzip")], "GET", HTTP_1_1, None, True,
     (-2, False, False), "Transfer-Encoding: chunked, gzip\r\nConnection: close\r\n"),
    (200, [("Content-Length", "9")], "HEAD", HTTP_1_1, None, True,
     (0, True, True), "Content-Length: 9\r\n"),
    (204, [], "GET", HTTP_1_1, 0, True, (0, True, True), ""),
    (304, [], "GET", HTTP_1_1, 5, False, (0, True, False), "Connection: close\r\n"),
    (200, [], "GET", None, None, False, (-2, False, False), "Connection: close\r\n"),
    # The close is announced whatever the client asked (RFC 9112 §9.6): it asked for
    # it (not persistent), or HTTP/1.0 without keep-alive.
    (200, [], "GET", HTTP_1_1, 2, False,
     (2, False, False), "Content-Length: 2\r\nConnection: close\r\n"),
    (200, [], "GET", HTTP_1_0, 2, False,
     (2, False, False), "Content-Length: 2\r\nConnection: close\r\n"),
    (500, [("Connection", "close")], "GET", HTTP_1_1, 2, False,
     (2, False, False), "Connection: close\r\nContent-Length: 2\r\n"),
]


@pytest.mark.parametrize(
    ("status", "fields", "method", "version", "size", "persistent", "result", "head"),
    FRAMED_CASES,
)
def test_write_framed_response_head(
    wire: SimpleNamespace, status: int, fields: list[tuple[str, str]], method: str,
    version: Version | None, size: int | None, persistent: bool,
    result: tuple[int, bool, bool], head: str,
) -> None:
    s = wire.Serializer()
    response = Response(status, fields)
    assert s.write_framed_response_head(response, method, version, size, persistent) == result
    status_line = f"HTTP/1.1 {status} {response.reason}\r\n"
    assert written(s) == (status_line + head + "\r\n").encode()


DATE = "Sun, 06 Nov 1994 08:49:37 GMT"

DATE_CASES = [
    # (name, fields, body size, persistent, head fields written after the status line)
    ("added last", [("Content-Type", "t")], 2, True,
     f"Content-Type: t\r\nContent-Length: 2\r\nDate: {DATE}\r\n"),
    ("after the close", [], 2, False,
     f"Content-Length: 2\r\nConnection: close\r\nDate: {DATE}\r\n"),
    ("the response's own kept", [("date", "Tue, 15 Nov 1994 08:12:31 GMT")], 2, True,
     "date: Tue, 15 Nov 1994 08:12:31 GMT\r\nContent-Length: 2\r\n"),
    ("any spelling of the name", [("DATE", "x")], None, True,
     "DATE: x\r\nConnection: close\r\n"),
]


@pytest.mark.parametrize(
    ("fields", "size", "persistent", "head"),
    [case[1:] for case in DATE_CASES],
    ids=[case[0] for case in DATE_CASES],
)
def test_the_date_of_a_response_without_one(
    wire: SimpleNamespace, fields: list[tuple[str, str]], size: int | None, persistent: bool,
    head: str,
) -> None:
    s = wire.Serializer()
    s.date = wire.serializer.DateField(DATE)
    s.write_framed_response_head(Response(200, fields), "GET", HTTP_1_1, size, persistent)
    assert written(s) == ("HTTP/1.1 200 OK\r\n" + head + "\r\n").encode()


def test_a_reused_response_gets_the_current_date(wire: SimpleNamespace) -> None:
    """The same response framed again and again (its head is kept and copied) carries
    the date that is current each time, as does a whole response."""
    s = wire.Serializer()
    s.date = date = wire.serializer.DateField("Mon, 01 Jan 2024 00:00:00 GMT")
    response = Response(200, [("Content-Type", "t")])
    heads = []
    for when in ["00", "00", "01", "02", "02"]:
        date.set(f"Mon, 01 Jan 2024 00:00:{when} GMT")
        s.write_framed_response_head(response, "GET", HTTP_1_1, 2, True)
        heads.append(written(s))
        s.write_whole_response(response, GET, b"hi", True)
        heads.append(written(s).rpartition(b"\r\n\r\n")[0] + b"\r\n\r\n")
    for head, when in zip(heads, ["00", "00", "00", "00", "01", "01", "02", "02", "02", "02"], strict=True):
        assert head == (
            "HTTP/1.1 200 OK\r\nContent-Type: t\r\nContent-Length: 2\r\n"
            f"Date: Mon, 01 Jan 2024 00:00:{when} GMT\r\n\r\n"
        ).encode()


def test_no_date_without_a_date_field(wire: SimpleNamespace) -> None:
    s = wire.Serializer()  # (a serializer reads no clock: a runtime gives it a DateField)
    s.write_framed_response_head(Response(200), "GET", HTTP_1_1, 0, True)
    assert b"Date" not in written(s)


@pytest.mark.parametrize(
    ("fields", "version", "size", "message"),
    [
        ([("Content-Length", "1"), ("Transfer-Encoding", "chunked")], HTTP_1_1, None,
         "a response must not have both Transfer-Encoding and Content-Length"),
        ([("Content-Length", "1"), ("Content-Length", "1")], HTTP_1_1, None,
         "response multiple Content-Length fields"),
        ([("Content-Length", "+1")], HTTP_1_1, None, "response invalid Content-Length: '+1'"),
        ([("Content-Length", "4")], HTTP_1_1, 3,
         "Content-Length 4 does not match a body of 3 bytes"),
        ([("Transfer-Encoding", "chunked")], HTTP_1_0, None,
         "an HTTP/1.0 client cannot read a chunked response"),
        ([("Bad Name", "x")], HTTP_1_1, None, "invalid header field name: 'Bad Name'"),
    ],
)
def test_write_framed_response_head_refuses_and_writes_nothing(
    wire: SimpleNamespace, fields: list[tuple[str, str]], version: Version, size: int | None,
    message: str,
) -> None:
    s = wire.Serializer()
    with pytest.raises(ValueError) as caught:
        s.write_framed_response_head(Response(200, fields), "GET", version, size, True)
    assert str(caught.value) == message
    assert not s.has_pending_output


# -- a whole response in one call -------------------------------------------------------

BIG = b"b" * 3000  # above the copy limit (2048 bytes)
OK_LENGTH = "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n"
GET = Request("GET", "/")
CHUNKED_ABC = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"

# (name, fields, method, body, copy, persistent, wire bytes, iovecs, body zero-copy)
WHOLE_CASES = [
    ("small bytes beside the head", [], "GET", b"hello", False, True,
     OK_LENGTH.format(5).encode() + b"hello", 1, False),
    ("big bytes scheduled", [], "GET", BIG, False, True,
     OK_LENGTH.format(3000).encode() + BIG, 2, True),
    ("big bytes copied when asked", [], "GET", BIG, True, True,
     OK_LENGTH.format(3000).encode() + BIG, 1, False),
    ("a view scheduled", [], "GET", memoryview(b"view"), False, True,
     OK_LENGTH.format(4).encode() + b"view", 2, True),
    ("a view copied when asked", [], "GET", memoryview(b"view"), True, True,
     OK_LENGTH.format(4).encode() + b"view", 1, False),
    ("chunked: one chunk and the last", [("Transfer-Encoding", "chunked")], "GET", b"abc",
     False, True, CHUNKED_ABC, 3, True),
    ("chunked, copied when asked", [("Transfer-Encoding", "chunked")], "GET", b"abc",
     True, True, CHUNKED_ABC, 1, False),
    ("HEAD: the body is not sent", [], "HEAD", b"hello", False, True,
     OK_LENGTH.format(5).encode(), 1, False),
    ("Connection: close ends the connection", [("Connection", "close")], "GET", b"hi",
     False, False,
     b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", 1, False),
]


@pytest.mark.parametrize(
    ("fields", "method", "body", "copy", "persistent", "expected", "iovecs", "zero_copy"),
    [case[1:] for case in WHOLE_CASES],
    ids=[case[0] for case in WHOLE_CASES],
)
def test_write_whole_response(
    wire: SimpleNamespace, fields: list[tuple[str, str]], method: str, body: Any, copy: bool,
    persistent: bool, expected: bytes, iovecs: int, zero_copy: bool,
) -> None:
    s = wire.Serializer()
    response = Response(200, fields)
    assert s.write_whole_response(response, Request(method, "/"), body, True, copy) is (
        persistent
    )
    pieces = s.operation()
    assert len(pieces) == iovecs
    source = body.obj if type(body) is memoryview else body
    assert any(piece.obj is source for piece in pieces) == zero_copy
    assert written(s) == expected


class _TracedRequest(Request):
    """A Request subclass: the Cython serializer reads its fields by attribute."""

    __slots__ = ()


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (Request("HEAD", "/"), OK_LENGTH.format(2).encode()),
        (_TracedRequest("HEAD", "/"), OK_LENGTH.format(2).encode()),
        (
            _TracedRequest("GET", "/", version=HTTP_1_0),
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi",
        ),
    ],
    ids=["head", "head-subclass", "http10-subclass"],
)
def test_write_whole_response_frames_for_the_request(
    wire: SimpleNamespace, request_: Request, expected: bytes
) -> None:
    s = wire.Serializer()
    assert s.write_whole_response(Response(200), request_, b"hi", True) is True
    assert written(s) == expected


class _TracedResponse(Response):
    """A Response subclass: the Cython serializer reads its fields by attribute."""

    __slots__ = ()


@pytest.mark.parametrize(
    "response", [Response(103), _TracedResponse(100)], ids=["exact", "subclass"]
)
def test_write_whole_response_refuses_an_interim_response(
    wire: SimpleNamespace, response: Response
) -> None:
    s = wire.Serializer()
    with pytest.raises(ValueError, match="1xx"):
        s.write_whole_response(response, GET, b"", True)
    assert not s.has_pending_output


def test_write_whole_response_after_close_raises(wire: SimpleNamespace) -> None:
    s = wire.Serializer()
    s.close()
    with pytest.raises(StateError):
        s.write_whole_response(Response(200), GET, b"x", True)
    assert not s.has_pending_output


def test_write_whole_response_refuses_a_bad_head_and_writes_nothing(
    wire: SimpleNamespace,
) -> None:
    s = wire.Serializer()
    with pytest.raises(ValueError, match="does not match a body of 2 bytes"):
        s.write_whole_response(Response(200, [("Content-Length", "3")]), GET, b"hi", True)
    assert not s.has_pending_output


@pytest.mark.parametrize("body", ["text", [b"a"], 3])
def test_write_whole_response_refuses_what_is_not_a_buffer_and_writes_nothing(
    wire: SimpleNamespace, body: Any
) -> None:
    s = wire.Serializer()
    with pytest.raises(TypeError):
        s.write_whole_response(Response(200), GET, body, True)
    assert not s.has_pending_output


@pytest.mark.parametrize("copy", [True, False])
def test_write_whole_response_frames_wide_items_by_their_bytes(
    wire: SimpleNamespace, copy: bool
) -> None:
    s = wire.Serializer()
    body = array.array("I", [1, 2])
    s.write_whole_response(Response(200), GET, body, True, copy)
    assert written(s) == OK_LENGTH.format(8).encode() + body.tobytes()


def test_take_leaves_output_with_a_flush_callback_to_the_iovec_path(
    wire: SimpleNamespace,
) -> None:
    # A flush callback may act on "the bytes are out" (sendfile after a head): it
    # must not run before the runtime has handed them over.
    s = wire.Serializer()
    flushed: list[bool] = []
    s.write(b"head")
    s.flush(lambda: flushed.append(True))
    assert s.take(100) is None and flushed == []
    assert written(s) == b"head" and flushed == [True]
    s.write(b"more")
    assert s.take(100) == b"more"


@pytest.mark.parametrize("status", [10**30, 99, 1000, -200])
def test_framed_head_refuses_a_status_changed_to_a_non_status(
    wire: SimpleNamespace, status: int
) -> None:
    response = Response(200)
    response.status = status
    s = wire.Serializer()
    with pytest.raises(ValueError, match="is not a three-digit number"):
        s.write_framed_response_head(response, "GET", HTTP_1_1, 0, True)
    assert not s.has_pending_output


def test_heads_of_response_subclasses_use_their_attributes(wire: SimpleNamespace) -> None:
    # The C serializer reads a Response's slots directly only for Response itself.
    class Teapot(Response):
        @property  # type: ignore[override]
        def reason(self) -> str:
            return "Short And Stout"

        @reason.setter
        def reason(self, value: str) -> None:
            pass

    s = wire.Serializer()
    s.write_response_head(Teapot(418))
    assert written(s) == b"HTTP/1.1 418 Short And Stout\r\n\r\n"
    s.write_framed_response_head(Teapot(418), "GET", HTTP_1_1, 0, True)
    assert written(s).startswith(b"HTTP/1.1 418 Short And Stout\r\n")


def test_a_response_missing_an_attribute_is_an_attribute_error(wire: SimpleNamespace) -> None:
    response = Response.__new__(Response)  # no __init__: its slots are empty
    s = wire.Serializer()
    with pytest.raises(AttributeError):
        s.write_response_head(response)
    with pytest.raises(AttributeError):
        s.write_framed_response_head(response, "GET", HTTP_1_1, 0, True)


def test_serializers_that_never_queued_share_nothing(wire: SimpleNamespace) -> None:
    # (they share one empty queue until they queue something: it must stay empty)
    a, b = wire.Serializer(), wire.Serializer()
    a.write(b"head")
    assert a.take(100) == b"head"
    b.schedule(b"body")
    assert out(a) == [] and a.take(100) is None and not a.has_pending_output
    c = wire.Serializer()
    assert c.operation() == [] and c.pending_bytes == 0
    assert out(b) == [b"body"]


# -- a reused Response ----------------------------------------------------------------
# The Cython serializer keeps the head of a response framed twice in a row and copies
# it while nothing about the response or the request changed. Each case below frames
# one Response object over and over, changing one thing between calls; every head must
# be what the pure serializer (which keeps nothing) writes for the same call.


def _edit_fields_in_place(r: Response) -> None:
    r.headers._fields[0] = ("Content-Type", "text/html")


def _append_field(r: Response) -> None:
    r.headers._fields.append(("X-More", "1"))


def _drop_field(r: Response) -> None:
    del r.headers._fields[-1]


def _new_headers(r: Response) -> None:
    r.headers = Headers([("Content-Length", "5")])


def _new_status(r: Response) -> None:
    r.status = 404
    r.reason = "Not Found"


def _new_reason(r: Response) -> None:
    r.reason = "Fine"


def _http_1_0(r: Response) -> None:
    r.version = HTTP_1_0


REUSE_STEPS: list[tuple[str, Any, tuple[Any, ...]]] = [
    # (name, edit of the response before the call, call args after the response)
    ("same", None, ("GET", HTTP_1_1, 5, True)),
    ("same again", None, ("GET", HTTP_1_1, 5, True)),
    ("HEAD", None, ("HEAD", HTTP_1_1, 5, True)),
    ("back to GET", None, ("GET", HTTP_1_1, 5, True)),
    ("HTTP/1.0 request", None, ("GET", HTTP_1_0, 5, True)),
    ("not persistent", None, ("GET", HTTP_1_1, 5, False)),
    ("streamed body", None, ("GET", HTTP_1_1, None, True)),
    ("same", None, ("GET", HTTP_1_1, 5, True)),
    ("field edited in place", _edit_fields_in_place, ("GET", HTTP_1_1, 5, True)),
    ("same", None, ("GET", HTTP_1_1, 5, True)),
    ("field appended", _append_field, ("GET", HTTP_1_1, 5, True)),
    ("same", None, ("GET", HTTP_1_1, 5, True)),
    ("field dropped", _drop_field, ("GET", HTTP_1_1, 5, True)),
    ("new headers object", _new_headers, ("GET", HTTP_1_1, 5, True)),
    ("same", None, ("GET", HTTP_1_1, 5, True)),
    ("new status", _new_status, ("GET", HTTP_1_1, 5, True)),
    ("same", None, ("GET", HTTP_1_1, 5, True)),
    ("new reason", _new_reason, ("GET", HTTP_1_1, 5, True)),
    ("response version", _http_1_0, ("GET", HTTP_1_1, 5, True)),
    ("same", None, ("GET", HTTP_1_1, 5, True)),
]


def test_a_reused_response_is_framed_as_if_new_each_time(wire: SimpleNamespace) -> None:
    from httpaf import _serializer_pure as _serializer_py

    def fresh() -> Response:
        return Response(200, [("Content-Type", "text/plain"), ("X-A", "a")])

    ours, reference = fresh(), fresh()
    for name, edit, args in REUSE_STEPS:
        if edit is not None:
            edit(ours)
            edit(reference)
        s, expected = wire.Serializer(), _serializer_py.Serializer()
        result = s.write_framed_response_head(ours, *args)
        assert result == expected.write_framed_response_head(reference, *args), name
        assert s.take(1 << 16) == expected.take(1 << 16), name


def test_a_reused_response_with_bad_fields_still_fails(wire: SimpleNamespace) -> None:
    response = Response(200, [("X-A", "a")])
    for _ in range(3):  # framed, framed again: its head is kept
        s = wire.Serializer()
        s.write_framed_response_head(response, "GET", HTTP_1_1, 0, True)
    response.headers._fields.append(("X-B", "bad\r\nvalue"))
    s = wire.Serializer()
    with pytest.raises(ValueError, match="invalid character"):
        s.write_framed_response_head(response, "GET", HTTP_1_1, 0, True)
    assert not s.has_pending_output


def test_a_kept_head_survives_code_run_while_it_is_copied(wire: SimpleNamespace) -> None:
    # Making room for the head may run Python code (here a garbage collection's
    # callback) which frames, and keeps, another response meanwhile.
    import gc

    a = Response(200, [("Content-Type", "text/plain"), ("X-Long", "a" * 200)])
    b = Response(404, [])
    for _ in range(3):  # a's head is kept
        expected = wire.Serializer().write_framed_response_head(a, "GET", HTTP_1_1, 5, True)
    reference = wire.Serializer()
    reference.write_framed_response_head(a, "GET", HTTP_1_1, 5, True)
    head = reference.take(1 << 16)
    armed = []

    def frame_b_twice(phase: str, info: Any) -> None:
        if phase == "start" and armed and armed.pop():
            for _ in range(3):
                wire.Serializer().write_framed_response_head(b, "GET", HTTP_1_1, 0, True)

    s = wire.Serializer(16)
    s.write(b"x" * 10)  # a's head does not fit: a new buffer, views, perhaps a collection
    thresholds = gc.get_threshold()
    gc.collect()
    gc.callbacks.append(frame_b_twice)
    gc.set_threshold(1, 1, 1)
    try:
        armed.append(True)
        result = s.write_framed_response_head(a, "GET", HTTP_1_1, 5, True)
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(frame_b_twice)
    assert result == expected
    assert s.take(1 << 16) == b"x" * 10 + head


@pytest.mark.parametrize(
    ("steps", "quiet"),
    [
        ([], True),
        (["write"], False),
        (["write", "take"], True),
        (["schedule"], False),
        (["schedule", "take"], True),
        (["close"], False),
        (["write", "take", "close"], False),
    ],
)
def test_is_quiet_is_open_with_nothing_pending(
    wire: SimpleNamespace, steps: list[str], quiet: bool
) -> None:
    s = wire.Serializer()
    for step in steps:
        if step == "write":
            s.write(b"abc")
        elif step == "schedule":
            s.schedule(b"x" * 5000)
        elif step == "take":
            assert s.take(1 << 20)
        else:
            s.close()
    assert s.is_quiet() is quiet
    assert quiet is not (s.has_pending_output or s.is_closed)
