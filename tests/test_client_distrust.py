"""The client distrusts servers (SECURITY.md, "What the client refuses"):
``ClientConnection`` refuses what RFC 9112 calls faulty framing, bounds what a server can make it hold, and never takes a
short body for a complete one. Every error ends the connection; nothing after it is
read. (The suite runs in both builds; the parser rules themselves are checked in both
implementations in ``test_parser.py``, ``test_message.py`` and
``test_response_corpus.py``.)
"""

from __future__ import annotations

import pytest

from httpaf import (
    UPGRADE,
    ClientConnection,
    Config,
    ConnectionClosed,
    ParseError,
    Request,
    Response,
)

from helpers import Exchange, Runtime, response_bytes, send

GET = Request("GET", "/", [("Host", "h")])


def sent(config: Config | None = None, request: Request = GET) -> tuple[Runtime, Exchange]:
    """A connection whose one request is written out."""
    rt = Runtime(ClientConnection(config))
    ex = Exchange()
    send(rt, request, ex).close()
    rt.drain()
    return rt, ex


def refused(rt: Runtime, ex: Exchange, data: bytes, fragment: str, eof: bool = False) -> None:
    """``data`` fails the request with a ParseError naming ``fragment``; the end."""
    if eof:
        rt.read_eof(data)
    else:
        rt.read(data)
    (error,) = ex.errors
    assert isinstance(error, ParseError), error
    assert fragment in error.message, error.message
    assert not ex.eof  # never a body reported complete
    rt.poll_reader()
    rt.drain()  # what was already queued may still go out; then the writer closes
    rt.is_shutdown()


# -- framing fields ------------------------------------------------------------------


def test_content_length_with_transfer_encoding() -> None:
    rt, ex = sent()
    data = response_bytes("200 OK", [("Content-Length", "5"), ("Transfer-Encoding", "chunked")])
    refused(rt, ex, data + b"0\r\n\r\n", "both Transfer-Encoding and Content-Length")
    assert ex.response is None


@pytest.mark.parametrize(
    "fields",
    [
        [("Content-Length", "5"), ("Content-Length", "6")],
        [("Content-Length", "5"), ("Content-Length", "5")],
        [("Content-Length", "5, 6")],
        [("Content-Length", "5, 5")],
    ],
    ids=["different", "equal", "list", "equal list"],
)
def test_conflicting_content_lengths(fields: list[tuple[str, str]]) -> None:
    rt, ex = sent()
    refused(rt, ex, response_bytes("200 OK", fields) + b"hello", "Content-Length")


def test_transfer_encoding_not_ending_in_chunked_reads_to_eof() -> None:
    # RFC 9112 §6.3 item 4: the one case where a coding other than chunked is allowed
    # to frame a response: the body ends with the connection, which then closes.
    rt, ex = sent()
    rt.read(response_bytes("200 OK", [("Transfer-Encoding", "gzip")]) + b"zz")
    assert ex.response is not None and not ex.eof
    rt.read(b"more")
    rt.read_eof(b"")
    assert ex.data == b"zzmore" and ex.eof and ex.errors == []
    rt.is_shutdown()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("chunked, chunked", "chunked applied more than once"), ("chunked,", "transfer coding"),
     ("gzip;q=1, chunked", "transfer coding")],
)
def test_malformed_transfer_encoding(value: str, fragment: str) -> None:
    rt, ex = sent()
    refused(rt, ex, response_bytes("200 OK", [("Transfer-Encoding", value)]), fragment)


def test_transfer_encoding_in_http_1_0_response() -> None:
    # RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    rt, ex = sent()
    data = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    refused(rt, ex, data, "Transfer-Encoding in an HTTP/1.0 response")


# -- responses that have no body ---------------------------------------------------------


def test_body_on_a_response_to_head_is_refused() -> None:
    rt, ex = sent(request=Request("HEAD", "/", [("Host", "h")]))
    head = response_bytes("200 OK", [("Content-Length", "5")])
    rt.read(head + b"hello")
    # The head completed the exchange; "hello" came for no request.
    assert ex.response is not None and ex.eof and ex.data == b""
    rt.poll_reader()
    rt.is_shutdown()


def test_body_on_a_head_response_is_not_the_next_response() -> None:
    rt = Runtime(ClientConnection())
    head, get = Exchange(), Exchange()
    send(rt, Request("HEAD", "/", [("Host", "h")]), head).close()
    send(rt, Request("GET", "/", [("Host", "h")]), get).close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "5")]) + b"hello"
            + response_bytes("200 OK", [("Content-Length", "2")], b"ok"))
    assert head.eof and head.errors == []
    (error,) = get.errors
    assert isinstance(error, ParseError) and "status line" in error.message
    rt.is_shutdown()


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified", "100 Continue"])
def test_body_after_a_bodiless_status_is_refused(status: str) -> None:
    rt, ex = sent()
    rt.read(response_bytes(status, []) + b"surprise\r\n")
    if status.startswith("100"):
        # After a 1xx the final response is awaited: "surprise" is no status line.
        (error,) = ex.errors
        assert isinstance(error, ParseError)
    else:
        assert ex.eof and ex.data == b""
    rt.poll_reader()
    rt.is_shutdown()


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        ("204 No Content", [("Content-Length", "5")]),
        ("204 No Content", [("Transfer-Encoding", "chunked")]),
        ("100 Continue", [("Content-Length", "5")]),
        ("103 Early Hints", [("Transfer-Encoding", "chunked")]),
        ("101 Switching Protocols", [("Content-Length", "4"), ("Upgrade", "x"),
                                     ("Connection", "upgrade")]),
    ],
)
def test_framing_fields_on_1xx_and_204_are_refused(
    status: str, fields: list[tuple[str, str]]
) -> None:
    rt, ex = sent()
    refused(rt, ex, response_bytes(status, fields), "framing fields")


def test_204_with_content_length_zero_and_304_with_a_length_are_accepted() -> None:
    rt, ex = sent()
    rt.read(response_bytes("204 No Content", [("Content-Length", "0")]))
    assert ex.eof and ex.errors == []
    rt, ex = sent()
    rt.read(response_bytes("304 Not Modified", [("Content-Length", "1234")]))
    assert ex.eof and ex.data == b"" and ex.errors == []
    rt.reader_ready()


# -- interim responses ---------------------------------------------------------------


def test_a_flood_of_interim_responses_is_bounded() -> None:
    rt, ex = sent(Config(max_interim_responses=3))
    rt.read(b"HTTP/1.1 103 Early Hints\r\n\r\n" * 3)
    assert ex.errors == []
    refused(rt, ex, b"HTTP/1.1 103 Early Hints\r\n\r\n", "too many interim")


def test_interim_responses_up_to_the_limit_then_the_final_one() -> None:
    rt, ex = sent(Config(max_interim_responses=3))
    rt.read(b"HTTP/1.1 100 Continue\r\n\r\n" * 3 + response_bytes("200 OK", [("Content-Length", "0")]))
    assert ex.response is not None and ex.response.status == 200 and ex.errors == []


def test_interim_handler_sees_each_1xx() -> None:
    rt = Runtime(ClientConnection())
    ex = Exchange()
    seen: list[int] = []
    rt.conn.request(GET, ex.on_response, ex.on_error, lambda r: seen.append(r.status)).close()
    rt.drain()
    rt.read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Hints\r\nLink: </a>\r\n\r\n"
            + response_bytes("200 OK", [("Content-Length", "0")]))
    assert seen == [100, 103] and ex.response is not None


def test_the_default_interim_limit() -> None:
    limit = Config().max_interim_responses
    rt, ex = sent()
    rt.read(b"HTTP/1.1 100 Continue\r\n\r\n" * limit)
    assert ex.errors == []
    refused(rt, ex, b"HTTP/1.1 100 Continue\r\n\r\n", "too many interim")


# -- limits and bytes --------------------------------------------------------------------


def test_oversized_status_line() -> None:
    config = Config(max_request_line=64)
    rt, ex = sent(config)
    refused(rt, ex, b"HTTP/1.1 200 " + b"r" * 60, "status line too long")


def test_oversized_head() -> None:
    config = Config(max_request_line=64, max_head_size=128, max_field_size=100)
    rt, ex = sent(config)
    refused(rt, ex, b"HTTP/1.1 200 OK\r\n" + b"X-A: aaaaaaaaaaaaaaaaaaaaaa\r\n" * 5,
            "header section too large")


def test_too_many_header_fields() -> None:
    rt, ex = sent(Config(max_headers=3))
    refused(rt, ex, b"HTTP/1.1 200 OK\r\n" + b"A: 1\r\n" * 4, "too many header")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nA: 1\nContent-Length: 0\r\n\r\n", "bare LF"),
        (b"HTTP/1.1 200 OK\r\nA: 1\rB: 2\r\n\r\n", "bare CR"),
        (b"HTTP/1.1 200 O\rK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
         "obsolete line folding"),
        (b"HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n", "invalid character"),
    ],
    ids=["bare LF in status line", "bare LF in field", "bare CR in field",
         "bare CR in reason", "obs-fold", "NUL in value"],
)
def test_bare_cr_lf_and_obs_fold(data: bytes, fragment: str) -> None:
    rt, ex = sent()
    refused(rt, ex, data, fragment)


# -- bytes nobody asked for ------------------------------------------------------------


def test_a_response_before_the_request_was_sent() -> None:
    rt = Runtime(ClientConnection())
    ex = Exchange()
    send(rt, GET, ex).close()
    # The head waits in the writer: nothing was reported written yet.
    refused(rt, ex, response_bytes("200 OK", [("Content-Length", "0")]),
            "before its request was sent")


def test_response_bytes_while_idle() -> None:
    rt = Runtime(ClientConnection())
    rt.reader_ready()  # an idle connection reads, to see a close (or this)
    rt.read(response_bytes("200 OK", [("Content-Length", "0")]))
    rt.poll_reader()
    rt.is_shutdown()


def test_response_bytes_after_the_last_response() -> None:
    rt, ex = sent()
    rt.read(response_bytes("200 OK", [("Content-Length", "2")], b"ok") + b"HTTP/1.1 200 OK\r\n")
    assert ex.eof and ex.data == b"ok" and ex.errors == []
    rt.poll_reader()
    rt.is_shutdown()


def test_a_close_while_idle_is_quiet() -> None:
    rt, ex = sent()
    rt.read(response_bytes("200 OK", [("Content-Length", "2")], b"ok"))
    rt.reader_ready()
    assert rt.read_eof(b"") == 0
    assert ex.errors == [] and ex.eof
    rt.is_shutdown()


def test_bytes_after_a_closing_response_are_never_read() -> None:
    # llhttp connection.md "HTTP/1.1 with keep-alive disabled, content-length": the rest
    # is discarded, not parsed as a response.
    rt, ex = sent()
    data = response_bytes("200 OK", [("Content-Length", "5"), ("Connection", "close")])
    rt.read(data + b"hello" + b"HTTP/1.1 200 OK\r\n\r\n")
    assert ex.data == b"hello" and ex.eof and ex.errors == []
    rt.is_shutdown()


# -- a server that closes mid-body -------------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [[("Content-Length", "10")], [("Transfer-Encoding", "chunked")]],
    ids=["fixed", "chunked"],
)
def test_server_closing_mid_body_is_an_error_never_a_short_body(
    framing: list[tuple[str, str]],
) -> None:
    rt, ex = sent()
    rt.read(response_bytes("200 OK", framing))
    rt.read(b"hel" if framing[0][0] == "Content-Length" else b"3\r\nhel\r\n")
    assert ex.data == b"hel" and not ex.eof
    rt.read_eof(b"")
    (error,) = ex.errors
    assert isinstance(error, ParseError) and "unexpected end of input" in error.message
    assert not ex.eof  # on_eof never ran
    assert ex.body is not None and ex.body.error is error
    assert not ex.body.is_complete
    with pytest.raises(ParseError):
        ex.body.schedule_read(lambda data: None, lambda: None)
    rt.is_shutdown()


def test_server_closing_mid_body_drops_buffered_bytes() -> None:
    rt, ex = Runtime(ClientConnection()), Exchange(read=False)
    send(rt, GET, ex).close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "10")]) + b"hel")
    assert ex.body is not None and ex.body.buffered_bytes == 3
    rt.read_eof(b"")
    assert ex.body.buffered_bytes == 0 and ex.body.error is not None


def test_server_closing_before_any_response_byte() -> None:
    rt = Runtime(ClientConnection())
    first, second = Exchange(), Exchange()
    send(rt, GET, first).close()
    send(rt, GET, second).close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "10")]) + b"abc")
    rt.read_eof(b"")
    (error,) = first.errors
    assert isinstance(error, ParseError)
    (closed,) = second.errors
    # The pipelined request saw no byte of its response: a client may send it again.
    assert isinstance(closed, ConnectionClosed)
    assert closed.request_sent and not closed.response_started


def test_server_closing_after_an_interim_response() -> None:
    rt, ex = sent()
    rt.read(b"HTTP/1.1 100 Continue\r\n\r\n")
    rt.read_eof(b"")
    (error,) = ex.errors
    assert isinstance(error, ConnectionClosed) and error.response_started


def test_write_failure_before_the_request_went_out() -> None:
    rt = Runtime(ClientConnection())
    ex = Exchange()
    send(rt, GET, ex).close()
    rt.report_closed()
    (error,) = ex.errors
    assert isinstance(error, ConnectionClosed)
    assert not error.request_sent and not error.response_started


def test_close_delimited_body_ends_at_eof_without_error() -> None:
    rt, ex = sent()
    rt.read(response_bytes("200 OK", []) + b"all of it")
    rt.read_eof(b"")
    assert ex.data == b"all of it" and ex.eof and ex.errors == []
    assert ex.body is not None and ex.body.error is None and ex.body.is_complete


def test_is_idle() -> None:
    rt = Runtime(ClientConnection())
    conn = rt.conn
    assert conn.is_idle
    ex = Exchange()
    body = send(rt, Request("POST", "/", [("Host", "h"), ("Content-Length", "2")]), ex)
    assert not conn.is_idle
    body.write(b"ab")
    body.close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "0")]))
    assert conn.is_idle
    send(rt, Request("GET", "/", [("Host", "h"), ("Connection", "close")]), Exchange()).close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "0")]))
    assert not conn.is_idle


def test_response_handler_gets_no_response_for_faulty_framing() -> None:
    got: list[Response] = []
    rt = Runtime(ClientConnection())
    errors: list[BaseException] = []
    rt.conn.request(GET, lambda r, b: got.append(r), errors.append).close()
    rt.drain()
    rt.read(response_bytes("200 OK", [("Content-Length", "1"), ("Content-Length", "2")]))
    assert got == [] and len(errors) == 1


# -- upgrades ------------------------------------------------------------------------

UPGRADE_GET = Request("GET", "/", [("Host", "h"), ("Upgrade", "x"), ("Connection", "upgrade")])
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"


def test_a_101_to_a_request_that_offered_an_upgrade_switches() -> None:
    rt, ex = sent(request=UPGRADE_GET)
    rt.read(SWITCH + b"not http")
    assert ex.response is not None and ex.response.status == 101 and ex.errors == []
    assert rt.poll_reader() is UPGRADE  # the bytes after the head belong to the new protocol


def test_a_101_to_a_request_that_offered_none_is_refused() -> None:
    # RFC 9110 §15.2.2: a server switches only to a protocol the request offered.
    rt, ex = sent()
    refused(rt, ex, SWITCH, "offered no Upgrade")
    assert ex.response is None
