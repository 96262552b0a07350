"""Every case of http/af's ``lib_test/test_client_connection.ml``, and what our
client does beyond http/af's one-shot one: keep-alive, pipelining, interim responses.

DIFF (all cases): http/af's client closes its writer once the request is sent (one
request per connection); ours keeps the connection open for more requests, so after
the request the writer *yields*, and it closes only when a response ends persistence
or the connection ends. And while no request is in flight our reader is ``READ``,
not ``YIELD``: a server closing an idle connection is seen at once, and a byte no
request asked for is an error (``tests/test_client_distrust.py``).
"""

from __future__ import annotations

import pytest

from httpaf import (
    CLOSE,
    READ,
    YIELD,
    BodyReader,
    ClientConnection,
    Config,
    ConnectionClosed,
    ParseError,
    Request,
    Response,
    StateError,
)

from helpers import Exchange, Runtime, response_bytes, send

GET_ROOT = b"GET / HTTP/1.1\r\n\r\n"


def client(config: Config | None = None) -> Runtime:
    return Runtime(ClientConnection(config))


# 1 -------------------------------------------------------------------------------------


def test_get() -> None:
    # (a) a response without a length is delimited by the end of the connection
    rt = client()
    rt.reader_ready()  # DIFF: nothing awaited yet, yet reading (a close is seen)
    ex = Exchange()
    body = send(rt, Request("GET", "/"), ex)
    body.close()
    rt.write(GET_ROOT)
    rt.writer_yielded()  # DIFF: http/af's writer closes here
    rt.reader_ready()
    ok = b"HTTP/1.1 200 OK\r\n\r\n"
    assert rt.read(ok) == len(ok)
    assert ex.response == Response(200)
    assert not ex.eof
    assert rt.read(b"body to eof") == 11
    assert rt.read_eof(b"") == 0
    assert ex.data == b"body to eof" and ex.eof and ex.errors == []
    rt.is_shutdown()

    # (b) connection: close
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    resp = response_bytes("200 OK", [("connection", "close"), ("content-length", "0")])
    assert rt.read(resp) == len(resp)
    assert ex.response is not None and ex.eof
    rt.is_shutdown()
    assert rt.conn.next_read_operation() is CLOSE

    # (b') the same, and the server's EOF follows: nothing is left to read
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    resp = response_bytes("200 OK", [("connection", "close")])
    rt.read(resp)
    assert rt.read_eof(b"") == 0
    assert ex.eof and ex.errors == []
    rt.is_shutdown()

    # (c) chunked
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    resp = response_bytes("200 OK", [("transfer-encoding", "chunked")])
    rt.read(resp)
    chunks = b"d\r\nHello, world!\r\n0\r\n\r\n"
    assert rt.read(chunks) == len(chunks)
    assert ex.data == b"Hello, world!" and ex.eof
    rt.reader_ready()  # kept alive, waiting for a next request (and for a close)
    rt.writer_yielded()


# 2 -------------------------------------------------------------------------------------


def test_send_streaming_body() -> None:
    rt = client()
    ex = Exchange()
    body = send(rt, Request("GET", "/", [("transfer-encoding", "chunked")]), ex)
    rt.write(b"GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n")
    rt.read(response_bytes("200 OK", [("transfer-encoding", "chunked")]))
    body.write(b"hello")
    rt.writer_yielded()  # write() does not wake the writer
    body.flush()
    rt.write(b"5\r\nhello\r\n")
    body.write(b"world")
    body.close()
    # DIFF: close() frames the last chunk at once, so it goes out with "world".
    rt.write(b"5\r\nworld\r\n0\r\n\r\n")
    rt.writer_yielded()  # DIFF: kept alive; http/af's writer closes
    rt.read(b"0\r\n\r\n")
    assert ex.eof


# 3 -------------------------------------------------------------------------------------


def test_response_eof() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    rt.reader_ready()
    assert rt.read_eof(b"") == 0
    rt.is_shutdown()
    (error,) = ex.errors
    assert isinstance(error, ConnectionError) and "unexpected eof" in str(error)
    # Beyond http/af: the error says that the request went out and no response byte
    # came (a client may retry such a request on a new connection).
    assert isinstance(error, ConnectionClosed)
    assert error.request_sent and not error.response_started
    assert ex.response is None


# 4 -------------------------------------------------------------------------------------


def test_response_header_order() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    fields = [("a", "1"), ("b", "2"), ("c", "3"), ("content-length", "0")]
    rt.read(response_bytes("200 OK", fields))
    assert ex.response is not None
    assert ex.response.headers.to_list() == fields


# 5 -------------------------------------------------------------------------------------


def test_report_exn() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    rt.reader_ready()
    error = RuntimeError("something went wrong")
    rt.conn.report_exn(error)
    rt.poll_reader()
    rt.is_shutdown()
    assert ex.errors == [error]


# 6 -------------------------------------------------------------------------------------


def test_input_shrunk() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    assert rt.read(b"HTTP/1.1 200 OK\r\nDate") == 17
    assert rt.pending == b"Date"
    error = RuntimeError("something went wrong")
    rt.conn.report_exn(error)
    rt.poll_reader()
    rt.is_shutdown()
    assert ex.errors == [error]


# 7 -------------------------------------------------------------------------------------


def test_failed_response_parse() -> None:
    # DIFF: http/af consumes 12 bytes and reports "Malformed_response"; our status
    # line is refused whole (nothing consumed) and reported as a ParseError.
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    assert rt.read(b"HTTP/1.1 200\r\n\r\n") == 0
    rt.is_shutdown()
    (error,) = ex.errors
    assert isinstance(error, ParseError)

    # An invalid length: http/af's Invalid_response_body_length (39 bytes consumed);
    # here the head is refused after the status line.
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    assert rt.read(response_bytes("200 OK", [("content-length", "-1")])) == 17
    rt.is_shutdown()
    (error,) = ex.errors
    assert isinstance(error, ParseError) and "body length" in error.message
    assert ex.response is None


# 8 -------------------------------------------------------------------------------------


def test_schedule_read_with_data_available() -> None:
    rt = client()
    ex = Exchange(read=False)
    send(rt, Request("GET", "/"), ex).close()
    rt.write(GET_ROOT)
    rt.read(response_bytes("200 OK", [("content-length", "6")]))
    assert ex.body is not None
    body = ex.body
    got: list[object] = []
    on_read = lambda data: got.append(bytes(data))  # noqa: E731
    on_eof = lambda: got.append("eof")  # noqa: E731
    rt.read(b"Hello")
    body.schedule_read(on_read, on_eof)
    assert got == [b"Hello"]
    rt.read(b"!")
    body.schedule_read(on_read, on_eof)
    assert got == [b"Hello", b"!"]
    body.schedule_read(on_read, on_eof)
    assert got == [b"Hello", b"!", "eof"]
    rt.reader_ready()  # DIFF: http/af's reader closes; ours waits for a next request


# -- beyond http/af ---------------------------------------------------------------------


def test_keep_alive_two_requests_in_sequence() -> None:
    rt = client()
    first, second = Exchange(), Exchange()
    send(rt, Request("GET", "/a"), first).close()
    rt.write(b"GET /a HTTP/1.1\r\n\r\n")
    rt.read(response_bytes("200 OK", [("Content-Length", "3")], b"one"))
    assert first.data == b"one" and first.eof
    rt.reader_ready()
    rt.writer_yielded()
    send(rt, Request("GET", "/b"), second).close()
    rt.reader_ready()  # the new request woke the reader
    rt.write(b"GET /b HTTP/1.1\r\n\r\n")
    rt.read(response_bytes("200 OK", [("Content-Length", "3")], b"two"))
    assert second.data == b"two" and second.eof
    assert first.errors == second.errors == []
    assert rt.conn.in_flight == 0


def test_pipelining_two_requests_before_any_response() -> None:
    rt = client()
    first, second = Exchange(), Exchange()
    send(rt, Request("GET", "/a"), first).close()
    send(rt, Request("GET", "/b"), second).close()
    # The first request woke the writer (its Write is cached); the second follows.
    rt.write(b"GET /a HTTP/1.1\r\n\r\n")
    rt.write(b"GET /b HTTP/1.1\r\n\r\n")
    assert rt.conn.in_flight == 2
    both = response_bytes("200 OK", [("Content-Length", "1")], b"A") + response_bytes(
        "201 Created", [("Content-Length", "1")], b"B"
    )
    assert rt.read(both) == len(both)
    assert first.response is not None and first.response.status == 200 and first.data == b"A"
    assert second.response is not None and second.response.status == 201 and second.data == b"B"
    assert rt.conn.in_flight == 0


def test_pipelining_needs_previous_body_closed() -> None:
    rt = client()
    send(rt, Request("POST", "/", [("Content-Length", "3")]), Exchange())
    with pytest.raises(StateError):
        send(rt, Request("GET", "/"), Exchange())


def test_pipelined_head_then_get() -> None:
    """The HEAD response's Content-Length does not make the GET's bytes its body."""
    rt = client()
    head, get = Exchange(), Exchange()
    send(rt, Request("HEAD", "/"), head).close()
    send(rt, Request("GET", "/"), get).close()
    rt.drain()
    data = response_bytes("200 OK", [("Content-Length", "5")]) + response_bytes(
        "200 OK", [("Content-Length", "5")], b"hello"
    )
    assert rt.read(data) == len(data)
    assert head.eof and head.data == b""
    assert get.data == b"hello" and get.eof


def test_head_response_with_content_length_has_no_body() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("HEAD", "/"), ex).close()
    rt.write(b"HEAD / HTTP/1.1\r\n\r\n")
    resp = response_bytes("200 OK", [("Content-Length", "1000")])
    assert rt.read(resp) == len(resp)
    assert ex.eof and ex.data == b""
    assert ex.response is not None and ex.response.headers["Content-Length"] == "1000"
    rt.reader_ready()  # the next response may follow on the same connection


def test_interim_responses_are_skipped() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.drain()
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        + response_bytes("200 OK", [("Content-Length", "2")], b"ok")
    )
    assert rt.read(data) == len(data)
    assert ex.response is not None and ex.response.status == 200
    assert ex.data == b"ok" and ex.eof


def test_request_connection_close_ends_after_response() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/", [("Connection", "close")]), ex).close()
    rt.write(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    with pytest.raises(StateError):
        send(rt, Request("GET", "/"), Exchange())
    rt.read(response_bytes("200 OK", [("Content-Length", "0")]))
    rt.is_shutdown()


def test_pipelined_requests_fail_together_on_eof() -> None:
    rt = client()
    first, second = Exchange(), Exchange()
    send(rt, Request("GET", "/a"), first).close()
    send(rt, Request("GET", "/b"), second).close()
    rt.drain()
    rt.read_eof(b"")
    assert len(first.errors) == 1 and len(second.errors) == 1
    rt.is_shutdown()


def test_fixed_request_body_checked() -> None:
    rt = client()
    ex = Exchange()
    body = send(rt, Request("POST", "/", [("Content-Length", "3")]), ex)
    body.write(b"abc")
    with pytest.raises(ValueError):  # BodyLengthError
        body.write(b"d")
    body.close()
    assert rt.drain() == b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"


def test_short_request_body_fails_the_request() -> None:
    rt = client()
    ex = Exchange()
    body = send(rt, Request("POST", "/", [("Content-Length", "3")]), ex)
    body.write(b"a")
    body.close()
    assert len(ex.errors) == 1
    rt.poll_reader()
    assert rt.conn.is_closed or rt.read_op is CLOSE


def test_invalid_request_body_length_refused() -> None:
    rt = client()
    with pytest.raises(ValueError):
        send(rt, Request("POST", "/", [("Content-Length", "-1")]), Exchange())
    assert rt.conn.next_write_operation() is YIELD


def test_exception_in_response_handler_reported() -> None:
    rt = client()
    errors: list[BaseException] = []

    def boom(response: Response, body: BodyReader) -> None:
        raise RuntimeError("handler failed")

    rt.conn.request(Request("GET", "/"), boom, errors.append).close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "0")]))
    assert len(errors) == 1 and str(errors[0]) == "handler failed"
    rt.poll_reader()
    assert rt.read_op is CLOSE


def test_write_closed_by_transport() -> None:
    rt = client()
    ex = Exchange()
    send(rt, Request("GET", "/"), ex).close()
    rt.report_closed()
    rt.writer_closed(len(GET_ROOT))
    assert len(ex.errors) == 1


def test_response_body_backpressure() -> None:
    rt = client(Config(body_buffer_high_water=4))
    ex = Exchange(read=False)
    send(rt, Request("GET", "/"), ex).close()
    rt.drain()
    resp = response_bytes("200 OK", [("Content-Length", "20")])
    rt.read(resp)
    assert rt.read(b"0123456789") == 10
    rt.reader_yielded()  # 10 unread bytes > 4 and no read scheduled
    assert rt.conn.next_read_operation() is YIELD
    got: list[bytes] = []
    assert ex.body is not None
    ex.body.schedule_read(lambda d: got.append(bytes(d)), lambda: None)
    assert got == [b"0123456789"]
    rt.reader_ready()
    assert rt.conn.next_read_operation() is READ


def test_response_body_crossing_high_water_still_ends() -> None:
    """The last body bytes cross the mark: the response still completes (no hang)."""
    rt = client(Config(body_buffer_high_water=4))
    ex = Exchange(read=False)
    send(rt, Request("GET", "/"), ex).close()
    rt.drain()
    data = response_bytes("200 OK", [("Content-Length", "10")], b"0123456789")
    assert rt.read(data) == len(data)
    assert rt.conn.in_flight == 0
    assert ex.body is not None and ex.body.at_eof
    got: list[object] = []
    ex.body.schedule_read(lambda d: got.append(bytes(d)), lambda: got.append("eof"))
    ex.body.schedule_read(lambda d: got.append(bytes(d)), lambda: got.append("eof"))
    assert got == [b"0123456789", "eof"]


def test_on_eof_raising_does_not_stop_error_reporting() -> None:
    rt = client()
    first, second = Exchange(read=False), Exchange()
    send(rt, Request("GET", "/a"), first).close()
    send(rt, Request("GET", "/b"), second).close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "10")]))
    assert first.body is not None

    def on_eof() -> None:
        raise RuntimeError("app failed")

    first.body.schedule_read(lambda d: None, on_eof)
    rt.conn.report_exn(RuntimeError("timeout"))
    assert len(first.errors) == 1 and len(second.errors) == 1
    rt.poll_reader()
    rt.is_shutdown()


def test_early_response_does_not_let_next_request_into_open_body() -> None:
    """The response came before the request body ended: a next request written now
    would be read by the server as the rest of that body (a desync)."""
    rt = client()
    early = Exchange()
    body = send(rt, Request("POST", "/", [("Content-Length", "10")]), early)
    body.write(b"abc")
    body.flush()
    assert rt.drain() == b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"
    rt.read(response_bytes("413 Payload Too Large", [("Content-Length", "0")]))
    assert early.response is not None and rt.conn.in_flight == 0
    with pytest.raises(StateError, match="previous request's body"):
        send(rt, Request("GET", "/admin"), Exchange())
    body.write(b"defghij")
    body.close()
    rt.write(b"defghij")
    later = Exchange()
    send(rt, Request("GET", "/admin"), later).close()
    rt.write(b"GET /admin HTTP/1.1\r\n\r\n")
