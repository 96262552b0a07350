"""``Expect: 100-continue`` (not in http/af; httpun #150 was never merged).

``HTTP/1.1 100 Continue`` goes out when the handler first schedules a read of the
body; never once a final response has started (the connection then ends after that
response, since the client may or may not send the body); never for HTTP/1.0.
"""

from __future__ import annotations

import pytest

from httpaf import Reqd, Response, ServerConnection

from helpers import Recorder, Runtime, get, ok, read_body, request_bytes

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def expect_post(length: int = 5, version: str = "HTTP/1.1", *extra: tuple[str, str]) -> bytes:
    return request_bytes(
        "POST",
        "/upload",
        [("Host", "x"), ("Expect", "100-continue"), ("Content-Length", str(length)), *extra],
        version=version,
    )


def test_continue_sent_on_first_read() -> None:
    got: list[bytes] = []
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post())
    rt.writer_yielded()  # nothing before the handler reads
    reqd = handler.last
    read_body(reqd.body, got, lambda: reqd.respond_with_string(Response(200), b"thanks"))
    rt.write(CONTINUE)
    rt.read(b"hello")
    assert got == [b"hello"]
    rt.write(ok(b"thanks"))
    # The connection persists: the body was read.
    rt.read(get())
    handler.last.respond_with_string(Response(200), b"")
    rt.write(ok())


def test_continue_sent_once() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post(10))
    body = handler.last.body
    got: list[bytes] = []

    def on_read(data: memoryview) -> None:
        got.append(bytes(data))

    body.schedule_read(on_read, lambda: None)
    rt.write(CONTINUE)
    rt.read(b"01234")
    body.schedule_read(on_read, lambda: None)
    rt.writer_yielded()
    rt.read(b"56789")
    assert got == [b"01234", b"56789"]


def test_synchronous_read_in_handler() -> None:
    def handler(reqd: Reqd) -> None:
        got: list[bytes] = []
        read_body(reqd.body, got, lambda: reqd.respond_with_string(Response(200), b"".join(got)))

    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post())
    rt.write(CONTINUE)
    rt.read(b"hello")
    rt.write(ok(b"hello"))
    rt.reader_ready()


def test_no_continue_after_final_response() -> None:
    def reject(reqd: Reqd) -> None:
        reqd.respond_with_string(Response(413), b"")
        reqd.body.schedule_read(lambda d: None, lambda: None)  # too late for 100

    handler = Recorder(reject)
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post())
    # No 100; the client wanted the connection kept, but it ends: it is told so.
    rt.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    rt.writer_closed(0)
    # Whatever the client sends next (the body, or not) is never taken as a request.
    rt.read_eof(b"hello" + get())
    assert handler.count == 1
    rt.is_shutdown()


def test_body_closed_unread_ends_the_connection() -> None:
    """Closing the body does not receive it: the client may still send it or not."""

    def refuse(reqd: Reqd) -> None:
        reqd.body.close()
        reqd.respond_with_string(Response(403), b"")

    handler = Recorder(refuse)
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post())
    rt.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    # The body is given up and the connection ends: nothing more is read.
    rt.is_shutdown()
    assert handler.count == 1


def test_body_sent_without_waiting() -> None:
    """The client sent the body at once: the first read still sends 100 (as uvicorn
    and h11 do; the client ignores it), and the connection persists."""
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post() + b"hello")
    reqd = handler.last
    got: list[bytes] = []
    read_body(reqd.body, got, lambda: reqd.respond_with_string(Response(200), b""))
    assert got == [b"hello"]
    rt.write(CONTINUE)
    rt.write(ok())
    rt.reader_ready()
    rt.writer_yielded()


def test_never_for_http10() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post(5, "HTTP/1.0"))
    body = handler.last.body
    body.schedule_read(lambda d: None, lambda: None)
    rt.writer_yielded()  # no 100 Continue to an HTTP/1.0 client


def test_never_without_body() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post(0))
    handler.last.body.schedule_read(lambda d: None, lambda: None)
    rt.writer_yielded()
    handler.last.respond_with_string(Response(200), b"")
    rt.write(ok())
    rt.reader_ready()


@pytest.mark.parametrize("value", ["100-Continue", "100-CONTINUE"])
def test_expect_value_is_case_insensitive(value: str) -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(
        request_bytes(
            "POST", "/", [("Host", "x"), ("Expect", value), ("Content-Length", "1")]
        )
    )
    handler.last.body.schedule_read(lambda d: None, lambda: None)
    rt.write(CONTINUE)


def test_chunked_expect() -> None:
    got: list[bytes] = []
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(
        request_bytes(
            "POST",
            "/",
            [("Host", "x"), ("Expect", "100-continue"), ("Transfer-Encoding", "chunked")],
        )
    )
    reqd = handler.last
    read_body(reqd.body, got, lambda: reqd.respond_with_string(Response(200), b""))
    rt.write(CONTINUE)
    rt.read(b"5\r\nhello\r\n0\r\n\r\n")
    assert got == [b"hello"]
    rt.write(ok())
    rt.reader_ready()


def test_error_before_read_sends_no_continue() -> None:
    handler = Recorder(lambda reqd: reqd.report_exn(RuntimeError("nope")))
    rt = Runtime(ServerConnection(handler))
    rt.read(expect_post())
    out = rt.drain()
    assert not out.startswith(CONTINUE)
    assert out.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    rt.writer_closed(0)
