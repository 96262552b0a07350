"""A runtime's usual pass in one call does what the general operations do in a row.

- :meth:`ServerConnection.read_steadily` must do what :meth:`~ServerConnection.read`,
  :meth:`~ServerConnection.take_output`, :meth:`~ServerConnection.is_awaiting_input`,
  :meth:`~ServerConnection.yield_writer` and :meth:`~ServerConnection.awaiting` do in
  a row: two small runtimes, alike but for that call, are fed the same bytes and must
  write the same bytes, consume the same counts and see the same states, over
  pipelining, persistence, errors and bodies.
- ``Reqd.respond_with_bytes`` and ``respond_with_string`` frame whole bodies of any
  buffer type alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from httpaf import (
    CLOSE,
    READ,
    UPGRADE,
    YIELD,
    Closed,
    Config,
    Reqd,
    Response,
    ServerConnection,
    StateError,
    Write,
)
from httpaf.connection.server import AWAIT_BODY, AWAIT_HEAD, AWAIT_REQUEST

LIMIT = 64 * 1024  # what ``take_output`` hands over in one piece


def _nothing() -> None:
    """A writer callback for tests that register their own first."""


def steady(
    conn: ServerConnection,
    buf: bytes,
    off: int,
    length: int,
    limit: int,
    on_writable: Callable[[], None],
) -> tuple[int, bytes | None, int]:
    """``read_steadily``'s output and the two fields it sets, as one tuple."""
    output = conn.read_steadily(buf, off, length, limit, on_writable)
    return conn.steady_consumed, output, conn.steady_awaiting


class Driver:
    """A synchronous twin of the asyncio runtime's driver.

    ``fast`` picks how a pass in the read state is made: one ``read_steadily``
    call, or the five calls it stands for. Everything else is the same loops.
    """

    def __init__(self, handler: Callable[[Reqd], None], fast: bool, config: Config | None = None):
        self.conn = ServerConnection(handler, None, config)
        self.fast = fast
        self.pending = b""
        self.eof = False
        self.out: list[bytes] = []
        self.trace: list[tuple[Any, ...]] = []  # (consumed, awaiting) of each pass
        self.busy = False
        self.reading = False  # the read operation is READ and bytes are awaited
        self.reader_wanted = self.writer_wanted = True
        self.reader_waiting = self.writer_waiting = False
        self.reader_done = self.writer_done = False
        self.upgraded = False
        self.pump()

    # -- wakeups (flags only while busy, as the asyncio driver) --------------------

    def wake_reader(self) -> None:
        self.reader_waiting = False
        self.reader_wanted = True
        self.pump()

    def wake_writer(self) -> None:
        self.writer_waiting = False
        self.writer_wanted = True
        self.pump()

    # -- input -----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self.pending += data
        if self.reading and not self.busy and not self.reader_done:
            self.steady_pass()
        else:
            self.reader_wanted = True
            self.pump()

    def feed_eof(self) -> None:
        self.eof = True
        self.reader_wanted = True
        self.pump()

    def steady_pass(self) -> None:
        conn = self.conn
        self.busy = True
        self.reading = False
        try:
            buf = self.pending
            if self.fast:
                consumed, data, kind = steady(
                    conn, buf, 0, len(buf), LIMIT, self.wake_writer
                )
                if kind >= 0:
                    self.writer_waiting = True
            else:
                consumed = conn.read(buf, 0, len(buf))
                data = conn.take_output(LIMIT)
                kind = -1
                if conn.is_awaiting_input():
                    if not self.writer_waiting:
                        self.writer_waiting = True
                        conn.yield_writer(self.wake_writer)
                    kind = conn.awaiting()
            self.pending = buf[consumed:]
            if data is not None:
                self.out.append(data)
            self.trace.append(("pass", consumed, kind))
        finally:
            self.busy = False
        if kind >= 0 and not self.reader_wanted:
            self.writer_wanted = False
            self.reading = True
        else:
            self.reader_wanted = self.writer_wanted = True
            self.pump()

    # -- the general loops -----------------------------------------------------------

    def pump(self) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            while True:
                if self.reader_wanted:
                    self.reader_wanted = False
                    self.drive_reader()
                if self.writer_wanted or not self.writer_waiting:
                    self.writer_wanted = False
                    self.drive_writer()
                if not self.reader_wanted and not self.writer_wanted:
                    break
        finally:
            self.busy = False

    def drive_reader(self) -> None:
        conn = self.conn
        self.reading = False
        while not self.reader_done:
            op = conn.next_read_operation()
            if op is READ:
                if self.pending or self.eof:
                    buf = self.pending
                    if self.eof:
                        consumed = conn.read_eof(buf)
                    else:
                        consumed = conn.read(buf)
                    self.pending = buf[consumed:]
                    self.trace.append(("read", consumed, self.eof))
                    if self.eof and not consumed:
                        self.reader_done = True
                        return
                    if not consumed:
                        self.reading = True
                        return
                    continue
                self.reading = True
                return
            if op is YIELD:
                if not self.reader_waiting:
                    self.reader_waiting = True
                    conn.yield_reader(self.wake_reader)
                return
            if op is CLOSE:
                self.reader_done = True
                self.trace.append(("reader closed",))
                return
            assert op is UPGRADE
            self.upgraded = True
            return

    def drive_writer(self) -> None:
        conn = self.conn
        while not self.writer_done:
            data = conn.take_output(LIMIT)
            if data is not None:
                self.out.append(data)
            op = conn.next_write_operation()
            if isinstance(op, Write):
                total = sum(len(v) for v in op.iovecs)
                self.out.append(b"".join(bytes(v) for v in op.iovecs))
                conn.report_write_result(total)
                continue
            if op is YIELD:
                if not self.writer_waiting:
                    self.writer_waiting = True
                    conn.yield_writer(self.wake_writer)
                return
            if isinstance(op, Closed):
                self.writer_done = True
                self.trace.append(("writer closed",))
                return
            assert op is UPGRADE
            self.upgraded = True
            return

    def state(self) -> tuple[Any, ...]:
        conn = self.conn
        return (
            b"".join(self.out),
            self.pending,
            self.trace,
            conn.awaiting(),
            conn.is_awaiting_input(),
            conn.is_closed,
            len(conn._queue),
            self.reader_done,
            self.writer_done,
            self.upgraded,
        )


# -- handlers ------------------------------------------------------------------------

HELLO = Response(200, [("Content-Type", "text/plain"), ("Content-Length", "13")])


def hello(reqd: Reqd) -> None:
    reqd.body.close()
    reqd.respond_with_bytes(HELLO, b"Hello, World!")


def hello_keep_body(reqd: Reqd) -> None:
    """Answers without closing the body: the connection discards it."""
    reqd.respond_with_bytes(Response(200), b"hi")


def strings(reqd: Reqd) -> None:
    reqd.respond_with_string(Response(200), reqd.request.target)


def raising(reqd: Reqd) -> None:
    if reqd.request.target == "/boom":
        raise RuntimeError("boom")
    reqd.respond_with_string(Response(200), "ok")


def chunked(reqd: Reqd) -> None:
    reqd.respond_with_bytes(Response(200, [("Transfer-Encoding", "chunked")]), b"x" * 10)


def large(reqd: Reqd) -> None:
    reqd.respond_with_bytes(Response(200), b"y" * 5000)


def streaming(reqd: Reqd) -> None:
    writer = reqd.respond_with_streaming(Response(200, [("Transfer-Encoding", "chunked")]))
    writer.write(b"part")
    writer.close()


class Echo:
    def __init__(self, reqd: Reqd) -> None:
        self.reqd = reqd
        self.chunks: list[bytes] = []
        reqd.body.schedule_read(self.on_read, self.on_eof)

    def on_read(self, data: memoryview) -> None:
        self.chunks.append(bytes(data))
        self.reqd.body.schedule_read(self.on_read, self.on_eof)

    def on_eof(self) -> None:
        self.reqd.respond_with_bytes(Response(200), b"".join(self.chunks))


class Later:
    """Keeps the requests; the test answers them afterwards."""

    def __init__(self) -> None:
        self.reqds: list[Reqd] = []

    def __call__(self, reqd: Reqd) -> None:
        self.reqds.append(reqd)

    def answer(self) -> None:
        reqds, self.reqds = self.reqds, []
        for reqd in reqds:
            reqd.body.close()
            reqd.respond_with_bytes(Response(200), reqd.request.target.encode())


def draining(reqd: Reqd) -> None:
    reqd.respond_with_string(Response(200), "bye")
    reqd._conn.close_when_idle()


def upgrading(reqd: Reqd) -> None:
    if reqd.upgradable:
        reqd.respond_with_upgrade(Response(101, [("Upgrade", "x")]), object())
    else:
        hello(reqd)


HANDLERS: dict[str, Callable[[], Callable[[Reqd], None]]] = {
    "hello": lambda: hello,
    "hello_keep_body": lambda: hello_keep_body,
    "strings": lambda: strings,
    "raising": lambda: raising,
    "chunked": lambda: chunked,
    "large": lambda: large,
    "streaming": lambda: streaming,
    "echo": lambda: Echo,
    "later": Later,
    "draining": lambda: draining,
    "upgrading": lambda: upgrading,
}

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
GET_A = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
GET_BOOM = b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
CLOSE_REQ = b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
HTTP10 = b"GET /10 HTTP/1.0\r\n\r\n"
HTTP10_KA = b"GET /10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
POST = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED_POST = b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
EXPECT = b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
EXPECT_GET = b"GET /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"
UPGRADE_REQ = b"GET /u HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n"
BAD = b"GET / HTTP/1.1\r\nHost: x\r\nBad Field\r\n\r\n"
NO_HOST = b"GET / HTTP/1.1\r\n\r\n"

# Each a list of steps: bytes to feed, "eof", "answer" (a ``Later`` handler answers)
# or "drain" (``close_when_idle``).
STREAMS: dict[str, list[Any]] = {
    "one": [GET],
    "two reads": [GET, GET_A],
    "pipelined": [GET + GET_A + GET],
    "pipelined and partial": [GET + GET_A[:10], GET_A[10:] + GET],
    "byte by byte": [GET[i : i + 1] for i in range(len(GET))] + [GET],
    "split head": [GET[:5], GET[5:20], GET[20:]],
    "head": [HEAD, GET],
    "connection close": [GET, CLOSE_REQ, GET],
    "close pipelined": [GET + CLOSE_REQ + GET],
    "http/1.0": [HTTP10, GET],
    "http/1.0 keep-alive": [HTTP10_KA, GET],
    "body": [POST, GET],
    "body pipelined": [POST + GET + POST],
    "body in pieces": [POST[:-3], POST[-3:], GET],
    "chunked body": [CHUNKED_POST, GET],
    "expect": [EXPECT, b"abc", GET],
    "expect without body": [EXPECT_GET, GET],
    "error": [GET_BOOM, GET],
    "error pipelined": [GET + GET_BOOM + GET],
    "bad head": [GET, BAD, GET],
    "bad head pipelined": [GET + BAD],
    "no host": [NO_HOST],
    "eof": [GET, "eof"],
    "eof mid head": [GET + GET[:7], "eof"],
    "upgrade": [UPGRADE_REQ + GET],
    "later": [GET, "answer", GET_A + GET, "answer", GET],
    "later pipelined": [GET + GET_A, "answer", "answer", GET],
    "many pipelined": [GET * 40, GET],
    "drain mid head": [GET + GET_A[:20], "drain", GET_A[20:], GET],
    "drain mid head, more": [GET + GET_A[:20], "drain", GET_A[20:] + GET],
    "drain mid body": [POST[:-2], "drain", POST[-2:] + GET],
    "drain when idle": [GET, "drain", GET],
}


def run(handler_name: str, steps: list[Any], fast: bool, config: Config | None) -> Any:
    handler = HANDLERS[handler_name]()
    driver = Driver(handler, fast, config)
    for step in steps:
        if step == "eof":
            driver.feed_eof()
        elif step == "answer":
            if isinstance(handler, Later):
                handler.answer()
        elif step == "drain":  # as the runtime's graceful shutdown does
            driver.conn.close_when_idle()
            driver.reader_wanted = driver.writer_wanted = True
            driver.pump()
        else:
            driver.feed(step)
    return driver.state()


CONFIGS = {"default": None, "two pipelined": Config(max_pipelined_requests=2)}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("handler", list(HANDLERS))
def test_read_steadily_matches_the_calls_it_replaces(handler: str, stream: str, config: str):
    steps = STREAMS[stream]
    general = run(handler, steps, False, CONFIGS[config])
    fast = run(handler, steps, True, CONFIGS[config])
    assert fast == general


def test_the_fast_pass_is_taken() -> None:
    """The differential test above compares something: passes happen, and answer."""
    driver = Driver(hello, True)
    for _ in range(3):
        driver.feed(GET)
    assert [step[0] for step in driver.trace] == ["pass", "pass", "pass"]
    assert [step[2] for step in driver.trace] == [AWAIT_REQUEST] * 3
    assert b"".join(driver.out).count(b"Hello, World!") == 3
    driver.feed(GET[:5])
    assert driver.trace[-1] == ("pass", 0, AWAIT_REQUEST)  # nothing consumed: a head
    driver.feed(GET[5:])
    assert driver.trace[-1] == ("pass", len(GET), AWAIT_REQUEST)
    driver.feed(POST[:-2])
    assert driver.trace[-1] == ("pass", len(POST) - 2, AWAIT_BODY)  # answered, discarding
    driver.feed(POST[-2:])
    assert driver.trace[-1] == ("pass", 2, AWAIT_REQUEST)

    driver = Driver(Later(), True)
    driver.feed(POST[:-2])
    assert driver.trace[-1] == ("pass", len(POST) - 2, -1)  # a request in progress
    assert driver.reading  # the general loops read its body: READ again


# -- the writer callback ---------------------------------------------------------------


def test_writer_callback_not_called_during_the_pass_and_kept() -> None:
    calls: list[str] = []
    conn = ServerConnection(hello)
    conn.yield_writer(lambda: calls.append("writer"))
    consumed, output, awaiting = steady(conn, GET, 0, len(GET), LIMIT, _nothing)
    assert (consumed, awaiting) == (len(GET), AWAIT_REQUEST)
    assert output is not None and output.endswith(b"Hello, World!")
    assert calls == []
    with pytest.raises(Exception, match="only one callback"):
        conn.yield_writer(lambda: None)  # still registered
    conn.shutdown()
    assert calls == ["writer"]


def test_on_writable_registered_when_none_is() -> None:
    calls: list[str] = []
    conn = ServerConnection(hello)
    consumed, output, awaiting = steady(
                    conn, GET, 0, len(GET), LIMIT, lambda: calls.append("new")
    )
    assert awaiting == AWAIT_REQUEST and calls == []
    conn.shutdown()
    assert calls == ["new"]


def test_awaiting_values() -> None:
    conn = ServerConnection(hello)
    assert steady(conn, GET[:7], 0, 7, LIMIT, _nothing)[2] == AWAIT_REQUEST
    head = GET + GET[:20]  # (the first 7 bytes, not consumed, are presented again)
    consumed, _, awaiting = steady(conn, head, 0, len(head), LIMIT, _nothing)
    assert len(GET) < consumed < len(head)  # the next request line is consumed
    assert awaiting == conn.awaiting() == AWAIT_HEAD

    later = Later()
    conn = ServerConnection(later)
    consumed, output, awaiting = steady(conn, POST, 0, len(POST) - 2, LIMIT, _nothing)
    assert awaiting == -1 and output is None
    later.answer()  # answered, its body's end discarded as it comes
    rest = POST[-2:]
    consumed, output, awaiting = steady(conn, rest, 0, 2, LIMIT, _nothing)
    assert consumed == 2
    assert awaiting in (AWAIT_REQUEST, AWAIT_BODY, AWAIT_HEAD)
    assert awaiting == conn.awaiting()


def test_callback_restored_when_not_steady() -> None:
    calls: list[str] = []
    later = Later()
    conn = ServerConnection(later)
    conn.yield_writer(lambda: calls.append("writer"))
    consumed, output, awaiting = steady(conn, GET, 0, len(GET), LIMIT, _nothing)
    assert (consumed, output, awaiting) == (len(GET), None, -1)
    assert calls == []
    later.answer()  # the handler answers later: the registered callback is woken
    assert calls == ["writer"]
    assert conn.take_output(LIMIT) == b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n/"


def test_callback_restored_when_an_exception_escapes() -> None:
    def interrupted(reqd: Reqd) -> None:
        raise KeyboardInterrupt

    calls: list[str] = []
    conn = ServerConnection(interrupted)
    conn.yield_writer(lambda: calls.append("writer"))
    with pytest.raises(KeyboardInterrupt):
        conn.read_steadily(GET, 0, len(GET), LIMIT, lambda: calls.append("new"))
    conn.shutdown()
    assert calls == ["writer"]


def test_read_steadily_with_offset() -> None:
    conn = ServerConnection(hello)
    buf = b"junk" + GET + b"tail"
    consumed, output, awaiting = steady(conn, buf, 4, len(GET), LIMIT, _nothing)
    assert consumed == len(GET) and awaiting == AWAIT_REQUEST
    assert output is not None and output.startswith(b"HTTP/1.1 200 OK\r\n")


def test_parse_error_in_the_fast_pass() -> None:
    conn = ServerConnection(hello)
    consumed, output, awaiting = steady(conn, BAD, 0, len(BAD), LIMIT, _nothing)
    assert awaiting == -1
    assert output is not None and output.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert conn.next_read_operation() is CLOSE


def test_queue_is_a_list() -> None:
    """(Not a deque: an empty deque costs about 760 bytes per idle connection.)"""
    conn = ServerConnection(hello)
    assert type(conn._queue) is list
    driver = Driver(Later(), True)
    driver.feed(GET + GET_A + GET)
    assert len(driver.conn._queue) == 3


# -- respond_with_bytes inline against _respond_whole --------------------------------


def _answer(request: bytes, respond: Callable[[Reqd], None]) -> tuple[bytes, Any, Any]:
    """What the connection writes for ``request``, how much it reads, what next."""
    conn = ServerConnection(respond)
    out: list[bytes] = []
    consumed = 0
    for _ in range(5):
        if conn.next_read_operation() is READ and consumed < len(request):
            consumed += conn.read(request, consumed)
        while True:
            op = conn.next_write_operation()
            if not isinstance(op, Write):
                break
            data = b"".join(bytes(v) for v in op.iovecs)
            out.append(data)
            conn.report_write_result(len(data))
    return b"".join(out), consumed, conn.next_read_operation()


RESPONSES = {
    "plain": Response(200),
    "length": Response(200, [("Content-Length", "5")]),
    "chunked": Response(200, [("Transfer-Encoding", "chunked")]),
    "no content": Response(204),
    "not modified": Response(304),
    "close": Response(200, [("Connection", "close")]),
}
REQUESTS = {
    "get": GET,
    "head": HEAD,
    "http/1.0": HTTP10,
    "http/1.0 keep-alive": HTTP10_KA,
    "close": CLOSE_REQ,
    "expect, body unread": EXPECT,
    "expect, no body": EXPECT_GET,
}


@pytest.mark.parametrize("size", [0, 5, 3000])
@pytest.mark.parametrize("response", list(RESPONSES))
@pytest.mark.parametrize("request_name", list(REQUESTS))
def test_respond_with_bytes_inline_matches_the_general_path(
    request_name: str, response: str, size: int
) -> None:
    body = b"z" * size
    resp = RESPONSES[response]
    if response == "length" and size != 5:
        resp = Response(200, [("Content-Length", str(size))])
    request = REQUESTS[request_name]

    def inline(reqd: Reqd) -> None:
        reqd.respond_with_bytes(resp, body)

    def view(reqd: Reqd) -> None:
        reqd.respond_with_bytes(resp, memoryview(bytearray(body)))

    def string(reqd: Reqd) -> None:
        reqd.respond_with_string(resp, body)

    expected = _answer(request, view)
    assert _answer(request, inline) == expected
    assert _answer(request, string) == expected


def test_respond_with_bytes_errors_as_before() -> None:
    errors: list[BaseException] = []

    def twice(reqd: Reqd) -> None:
        reqd.respond_with_bytes(Response(200), b"a")
        try:
            reqd.respond_with_bytes(Response(200), b"b")
        except StateError as error:
            errors.append(error)

    def informational(reqd: Reqd) -> None:
        with pytest.raises(ValueError, match="1xx"):
            reqd.respond_with_bytes(Response(103), b"")
        reqd.respond_with_bytes(Response(200), b"ok")

    out, _, _ = _answer(GET, informational)
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    out, _, _ = _answer(GET, twice)
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
    assert len(errors) == 1 and "already complete" in str(errors[0])


def test_continue_then_answer_keeps_the_connection() -> None:
    """After the 100 went out, the client sends its body: the connection may persist."""

    def after_body(reqd: Reqd) -> None:
        def on_eof() -> None:
            reqd.respond_with_bytes(Response(200), b"done")

        def on_read(data: memoryview) -> None:
            reqd.body.schedule_read(on_read, on_eof)

        reqd.body.schedule_read(on_read, on_eof)

    def before_body(reqd: Reqd) -> None:
        reqd.respond_with_bytes(Response(200), b"done")

    out, consumed, read_op = _answer(EXPECT + b"abc", after_body)
    assert out == b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"
    assert read_op is READ
    out, consumed, read_op = _answer(EXPECT, before_body)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nConnection: close\r\n" in out


def test_awaiting_head_value() -> None:
    """(The ``AWAIT_HEAD`` case: a head whose request line was consumed.)"""
    conn = ServerConnection(hello, None, Config())
    part = b"GET / HTTP/1.1\r\nHost"
    consumed, _, awaiting = steady(conn, part, 0, len(part), LIMIT, _nothing)
    assert awaiting == conn.awaiting()
    assert awaiting in (AWAIT_REQUEST, AWAIT_HEAD)
