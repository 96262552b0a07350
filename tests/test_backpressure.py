"""Request-body backpressure (http/af #140, httpun #59), beyond http/af.

The reader yields while the unread bytes of the body being received exceed
``Config.body_buffer_high_water`` and no read is scheduled; taking the data (or
scheduling a read) wakes it, and the kept bytes are presented again.
"""

from __future__ import annotations

from httpaf import READ, YIELD, Config, Reqd, Response, ServerConnection

from helpers import Recorder, Runtime, get, ok, read_body, request_bytes


def post(length: int) -> bytes:
    return request_bytes("POST", "/", [("Host", "x"), ("Content-Length", str(length))])


def chunked_post() -> bytes:
    return request_bytes("POST", "/", [("Host", "x"), ("Transfer-Encoding", "chunked")])


def test_reader_yields_above_high_water_without_scheduled_read() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=10)))
    rt.read(post(100))
    rt.reader_ready()
    assert rt.read(b"x" * 8) == 8
    rt.reader_ready()  # 8 <= 10
    assert rt.read(b"y" * 8) == 8
    rt.reader_yielded()  # 16 > 10, nobody reading
    assert handler.last.body.buffered_bytes == 16
    assert rt.conn.next_read_operation() is YIELD
    assert rt.conn.read(b"z" * 10) == 0  # nothing is taken while yielding


def test_bytes_kept_while_yielding_are_presented_after_a_read() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=10)))
    head = post(40)
    # The whole body arrives in one read and crosses the mark: the end of the body
    # is still reported (it needs no more input), else the request would hang.
    consumed = rt.read(head + b"a" * 12 + b"b" * 28)
    assert consumed == len(head) + 40
    assert handler.last.body.at_eof
    rt.reader_yielded()  # the head is received, its answer awaited
    got: list[bytes] = []
    done: list[bool] = []
    read_body(handler.last.body, got, lambda: done.append(True))
    assert b"".join(got) == b"a" * 12 + b"b" * 28
    assert done == [True]
    assert rt.pending == b""


def test_backpressure_in_one_read() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=10)))
    head = post(100)
    rt.read(head)
    # The runtime hands 30 bytes in three pieces before the connection yields.
    assert rt.read(b"0123456789") == 10
    assert rt.read(b"abcdefghij") == 10
    rt.reader_yielded()
    got: list[bytes] = []
    body = handler.last.body
    body.schedule_read(lambda d: got.append(bytes(d)), lambda: None)
    # Every buffered byte comes as one piece, and the reader is woken.
    assert got == [b"0123456789abcdefghij"]
    rt.reader_ready()
    assert rt.reader_wakeups == 1


def test_scheduled_read_wakes_the_reader() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=4)))
    rt.read(post(20))
    rt.read(b"0123456789")
    rt.reader_yielded()
    body = handler.last.body
    got: list[bytes] = []
    body.schedule_read(lambda d: got.append(bytes(d)), lambda: None)  # takes the buffer
    rt.reader_ready()
    body.schedule_read(lambda d: got.append(bytes(d)), lambda: None)  # waits for more
    rt.reader_ready()
    rt.read(b"abcdefghij")  # goes straight to the scheduled read
    assert got == [b"0123456789", b"abcdefghij"]
    assert body.buffered_bytes == 0


def test_no_backpressure_while_a_read_is_scheduled() -> None:
    got: list[bytes] = []

    def handler(reqd: Reqd) -> None:
        read_body(reqd.body, got, lambda: reqd.respond_with_string(Response(200), b""))

    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=1)))
    head = post(1000)
    body = bytes(range(256)) * 3 + b"x" * 232
    assert rt.read(head + body) == len(head) + len(body)
    assert b"".join(got) == body
    rt.write(ok())


def test_chunked_body_backpressure() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=5)))
    rt.read(chunked_post())
    data = b"8\r\n01234567\r\n8\r\nabcdefgh\r\n0\r\n\r\n"
    consumed = rt.read(data)
    assert consumed < len(data)
    rt.reader_yielded()
    got: list[bytes] = []
    done: list[bool] = []
    read_body(handler.last.body, got, lambda: done.append(True))
    assert b"".join(got) == b"01234567abcdefgh"
    assert done == [True]
    assert rt.pending == b""


def test_many_tiny_pieces_do_not_recurse_deeply() -> None:
    """A body dribbled one byte per read, then read with recursive schedule_read."""
    handler = Recorder()
    n = 5000
    rt = Runtime(ServerConnection(handler))
    rt.read(post(n))
    for _ in range(n):
        rt.read(b"z")
    got: list[bytes] = []
    done: list[bool] = []
    read_body(handler.last.body, got, lambda: done.append(True))
    assert b"".join(got) == b"z" * n
    assert len(got) == 1 and done == [True]


def test_closed_body_is_discarded_without_backpressure() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=4)))
    rt.read(post(30))
    rt.read(b"0123456789")
    rt.reader_yielded()
    handler.last.body.close()
    handler.last.respond_with_string(Response(200), b"")
    rt.write(ok())
    rt.reader_ready()
    assert rt.read(b"x" * 20 + get()) == 20 + len(get())
    assert handler.count == 2


def test_backpressure_applies_to_the_body_not_to_later_requests() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(body_buffer_high_water=4)))
    head = post(10)
    consumed = rt.read(head + b"0123456789" + get(target="/next"))
    # The body ends within the read, so the next request is parsed too.
    assert consumed == len(head) + 10 + len(get(target="/next"))
    assert rt.conn.next_read_operation() in (READ, YIELD)
    handler.last.respond_with_string(Response(200), b"")
    rt.write(ok())
    assert handler.last.request.target == "/next"
