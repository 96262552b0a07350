"""The request and response parsers, in both implementations (``wire`` fixture).

Events are written as ``parse_all`` returns them: heads, body ``bytes`` (pieces
joined), ``EndOfMessage``, ``("error", status, message)``, and a final ``None`` when the
parser waits for more input.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from httpaf.model.config import Config
from httpaf.model.errors import ParseError
from httpaf.model.headers import Headers
from httpaf.model.message import (
    CHUNKED,
    CLOSE_DELIMITED,
    END_OF_MESSAGE,
    EndOfMessage,
    Request,
    Response,
)
from httpaf.model.method import Method
from httpaf.model.version import HTTP_1_0, HTTP_1_1

from helpers import parse_all, parse_pieces

HOST = b"Host: h\r\n"
EOM = END_OF_MESSAGE


def req(method: str, target: str, fields: list[tuple[str, str]] | None = None,
        version: Any = HTTP_1_1) -> Request:
    return Request(method, target, [("Host", "h")] if fields is None else fields, version)


def chunked_head(target: str = "/") -> bytes:
    return (b"POST " + target.encode() + b" HTTP/1.1\r\n"
            b"Host: h\r\nTransfer-Encoding: chunked\r\n\r\n")


CHUNKED_REQ = req("POST", "/", [("Host", "h"), ("Transfer-Encoding", "chunked")])


def is_error(events: list[Any], status: int) -> bool:
    return bool(events) and isinstance(events[-1], tuple) and events[-1][:2] == ("error", status)


# -- valid requests --------------------------------------------------------------------

VALID_REQUESTS: list[tuple[str, bytes, list[Any]]] = [
    ("get", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", [req("GET", "/"), None]),
    ("http/1.0 without host", b"GET /x HTTP/1.0\r\n\r\n", [req("GET", "/x", [], HTTP_1_0), None]),
    ("fields in order, names as sent",
     b"GET / HTTP/1.1\r\nHost: h\r\nX-B: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n",
     [req("GET", "/", [("Host", "h"), ("X-B", "1"), ("x-a", "2"), ("X-B", "3")]), None]),
    ("values trimmed of SP and HTAB",
     b"GET / HTTP/1.1\r\nHost: h\r\nX: \t a \tb\t \r\nY:\r\nZ:   \r\n\r\n",
     [req("GET", "/", [("Host", "h"), ("X", "a \tb"), ("Y", ""), ("Z", "")]), None]),
    ("obs-text in a value", b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xe9 \x80\xff\r\n\r\n",
     [req("GET", "/", [("Host", "h"), ("X", "caf\xe9 \x80\xff")]), None]),
    ("colon in a value", b"GET / HTTP/1.1\r\nHost: h:80\r\nX: a:b\r\n\r\n",
     [req("GET", "/", [("Host", "h:80"), ("X", "a:b")]), None]),
    ("every tchar in a name", b"GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
     [req("GET", "/", [("Host", "h"), ("!#$%&'*+-.^_`|~09azAZ", "v")]), None]),
    ("leading CRLFs ignored", b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("GET", "/"), None]),
    ("lower-case method is another method", b"get / HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("get", "/"), None]),
    ("extension method", b"PATCH /a HTTP/1.1\r\nHost: h\r\n\r\n", [req("PATCH", "/a"), None]),
    ("query and odd target", b"GET /a/b?c=d&e=%20#f HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("GET", "/a/b?c=d&e=%20#f"), None]),
    ("absolute-form", b"GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n",
     [req("GET", "http://example.com/x?y", [("Host", "example.com")]), None]),
    ("asterisk-form with OPTIONS", b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("OPTIONS", "*"), None]),
    ("authority-form with CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("CONNECT", "example.com:443"), None]),
    ("content-length 0", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
     [req("POST", "/", [("Host", "h"), ("Content-Length", "0")]), None]),
    ("fixed body", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
     [req("POST", "/", [("Host", "h"), ("Content-Length", "5")]), b"hello", EOM]),
    ("fixed body with leading zeros",
     b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\n\r\nabc",
     [req("POST", "/", [("Host", "h"), ("Content-Length", "003")]), b"abc", EOM]),
    ("chunked", chunked_head() + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     [CHUNKED_REQ, b"hello world", EOM]),
    ("chunked, empty body", chunked_head() + b"0\r\n\r\n", [CHUNKED_REQ, EOM]),
    ("chunk sizes in any hex case, leading zeros",
     chunked_head() + b"a\r\n0123456789\r\n00B\r\nabcdefghijk\r\n000\r\n\r\n",
     [CHUNKED_REQ, b"0123456789abcdefghijk", EOM]),
    ("chunk extensions",
     chunked_head() + b'5;a=b;c="d \\" e" ; f\r\nhello\r\n0;last=yes\r\n\r\n',
     [CHUNKED_REQ, b"hello", EOM]),
    ("chunked with trailers",
     chunked_head() + b"3\r\nabc\r\n0\r\nX-Checksum: 12\r\nx-other:  v \r\n\r\n",
     [CHUNKED_REQ, b"abc", EndOfMessage(Headers([("X-Checksum", "12"), ("x-other", "v")]))]),
    ("chunk data holding CRLFs", chunked_head() + b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
     [CHUNKED_REQ, b"\r\n\r\n", EOM]),
    ("pipelined",
     b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("GET", "/1"), req("GET", "/2"), None]),
    ("pipelined with bodies",
     b"POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab"
     + chunked_head("/2") + b"1\r\nc\r\n0\r\n\r\n"
     + b"GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("POST", "/1", [("Host", "h"), ("Content-Length", "2")]), b"ab", EOM,
      req("POST", "/2", [("Host", "h"), ("Transfer-Encoding", "chunked")]), b"c", EOM,
      req("GET", "/3"), None]),
    ("CRLFs between pipelined requests",
     b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
     [req("GET", "/1"), req("GET", "/2"), None]),
    ("incomplete head", b"GET / HTTP/1.1\r\nHost: h\r\n", [None]),
    ("incomplete body", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhel",
     [req("POST", "/", [("Host", "h"), ("Content-Length", "5")]), b"hel", None]),
    ("incomplete chunked", chunked_head() + b"5\r\nhello\r\n0\r\n",
     [CHUNKED_REQ, b"hello", None]),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in VALID_REQUESTS],
                         ids=[c[0] for c in VALID_REQUESTS])
def test_valid_request(wire: SimpleNamespace, data: bytes, expected: list[Any]) -> None:
    assert parse_all(wire.RequestParser(), data) == expected


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in VALID_REQUESTS],
                         ids=[c[0] for c in VALID_REQUESTS])
def test_valid_request_split_anywhere(
    wire: SimpleNamespace, data: bytes, expected: list[Any]
) -> None:
    for split in range(len(data) + 1):
        assert parse_all(wire.RequestParser(), data, split=split) == expected, split


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in VALID_REQUESTS],
                         ids=[c[0] for c in VALID_REQUESTS])
def test_valid_request_byte_by_byte(
    wire: SimpleNamespace, data: bytes, expected: list[Any]
) -> None:
    pieces = [data[i : i + 1] for i in range(len(data))]
    assert parse_pieces(wire.RequestParser(), pieces) == expected


def test_request_method_is_interned(wire: SimpleNamespace) -> None:
    events = parse_all(wire.RequestParser(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert events[0].method is Method.GET
    events = parse_all(wire.RequestParser(), b"get / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert events[0].method == "get" and not isinstance(events[0].method, Method)


def test_request_head_types(wire: SimpleNamespace) -> None:
    (request, _) = parse_all(wire.RequestParser(), b"GET / HTTP/1.0\r\nX: \xe9\r\n\r\n")
    assert request.version is HTTP_1_0
    assert type(request.target) is str
    assert isinstance(request.headers, Headers)
    assert request.headers.to_list() == [("X", "\xe9")]  # latin-1 str


# -- invalid requests (the security list is in test_parser_security.py) -----------------

INVALID_REQUESTS: list[tuple[str, bytes, int]] = [
    ("missing host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("empty line as request", b"\n", 400),
    ("garbage", b"hello world\r\n", 400),
    ("no version", b"GET /\r\n", 400),
    ("bad header line", b"GET / HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    ("bad version", b"GET / HTTP/1.22\r\nHost: h\r\n\r\n", 400),
    ("unsupported version", b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    ("CL and TE", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n", 400),
    ("coding not implemented", b"POST / HTTP/1.1\r\nHost: h\r\n"
     b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("bad chunk size", chunked_head() + b"x\r\n", 400),
    ("missing CRLF after chunk", chunked_head() + b"1\r\naX", 400),
    ("forbidden trailer", chunked_head() + b"0\r\nContent-Length: 5\r\n\r\n", 400),
    ("bad trailer line", chunked_head() + b"0\r\nX : 5\r\n\r\n", 400),
    ("bare LF in body framing", chunked_head() + b"1\nx\r\n", 400),
]


@pytest.mark.parametrize(("data", "status"), [c[1:] for c in INVALID_REQUESTS],
                         ids=[c[0] for c in INVALID_REQUESTS])
def test_invalid_request(wire: SimpleNamespace, data: bytes, status: int) -> None:
    events = parse_all(wire.RequestParser(), data)
    assert is_error(events, status), events
    assert all(not isinstance(e, tuple) for e in events[:-1])


@pytest.mark.parametrize(("data", "status"), [c[1:] for c in INVALID_REQUESTS],
                         ids=[c[0] for c in INVALID_REQUESTS])
def test_invalid_request_split_anywhere(wire: SimpleNamespace, data: bytes, status: int) -> None:
    whole = parse_all(wire.RequestParser(), data)
    for split in range(len(data) + 1):
        assert parse_all(wire.RequestParser(), data, split=split) == whole, split


# -- what "consumed" counts (docs/state-machine.md) ----------------------------------------

# (request bytes, expected event kind, consumed, same count as http/af)
REQUEST_CONSUMED = [
    (b"GET / HTTP/1.1\r\n", None, 16, True),
    (b"GET /v1/b HTTP/1.1\r\nH", None, 20, True),
    # http/af: 24 (its failure position); ours: the request line, since the header
    # block is consumed only as a whole.
    (b"GET /v1/b HTTP/1.1\r\nHost : example.com\r\n\r\n", "error", 20, False),
    (b"  X\r\n\r\n", "error", 0, False),  # http/af: 2
    (b"GET / HTTP/1.1\r\nHost: h\r\n", None, 16, True),
    (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", Request, 27, True),
    (b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET", Request, 27, True),
    (b"\r\n\r\nGET / HTT", None, 4, True),
    (b"\r\n\r\n", None, 4, True),
    (b"\r\n\r", None, 2, True),
    (b"", None, 0, True),
    (b"GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\nY: 2", None, 16, True),
    (b"\r\nGET / HTTP/2.0\r\n", "error", 2, True),
]


@pytest.mark.parametrize(("data", "kind", "consumed", "same_as_http_af"), REQUEST_CONSUMED)
def test_request_consumed(
    wire: SimpleNamespace, data: bytes, kind: Any, consumed: int, same_as_http_af: bool
) -> None:
    parser = wire.RequestParser()
    # The window is [start, end) of a larger buffer: nothing outside it is looked at.
    buf = b"\xffjunk" + data + b"\x00more"
    start, end = 5, 5 + len(data)
    if kind == "error":
        with pytest.raises(ParseError):
            parser.parse(buf, start, end)
    else:
        event = parser.parse(buf, start, end)
        assert event is None if kind is None else isinstance(event, kind)
    assert parser.consumed == consumed


def test_request_consumed_through_a_fixed_body(wire: SimpleNamespace) -> None:
    parser = wire.RequestParser()
    head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n"
    buf = head + b"hello"
    assert isinstance(parser.parse(buf, 0, len(buf)), Request)
    assert parser.consumed == len(head)
    piece = parser.parse(buf, len(head), len(buf))
    assert bytes(piece) == b"hello" and parser.consumed == 5
    assert parser.parse(buf, len(buf), len(buf)) is None and parser.consumed == 0
    buf = b"abcGET"
    assert bytes(parser.parse(buf, 0, len(buf))) == b"abc" and parser.consumed == 3
    assert parser.parse(buf, 3, len(buf)) is EOM and parser.consumed == 0
    assert parser.parse(buf, 3, len(buf)) is None and parser.consumed == 0


def test_request_consumed_through_chunks(wire: SimpleNamespace) -> None:
    parser = wire.RequestParser()
    head = chunked_head()
    assert isinstance(parser.parse(head + b"5\r\nhel"), Request)
    assert parser.consumed == len(head)
    # the size line is consumed with its CRLF, together with the data after it
    piece = parser.parse(b"5\r\nhel")
    assert bytes(piece) == b"hel" and parser.consumed == 6
    piece = parser.parse(b"lo\r")
    assert bytes(piece) == b"lo" and parser.consumed == 2
    # the CRLF after the data is consumed only with the next size line
    assert parser.parse(b"\r") is None and parser.consumed == 0
    assert parser.parse(b"\r\n0") is None and parser.consumed == 0
    assert parser.parse(b"\r\n0\r\nX: 1\r\n") is None and parser.consumed == 5
    # the trailer block is consumed as a whole
    assert parser.parse(b"X: 1\r\n") is None and parser.consumed == 0
    event = parser.parse(b"X: 1\r\n\r\nGET")
    assert event == EndOfMessage(Headers([("X", "1")])) and parser.consumed == 8
    assert parser.is_idle


# (response bytes, request method, expected event kind, consumed, same count as http/af)
RESPONSE_CONSUMED = [
    (b"HTTP/1.1 200 OK\r\nDate", None, 17, True),
    (b"HTTP/1.1 200\r\n\r\n", "error", 0, False),  # http/af: 12
    # 39 bytes; http/af consumes them all, then fails on the body length
    (b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", "error", 17, False),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP", Response, 38, True),
    (b"HTTP/1.1 200 OK\r\n", None, 17, True),
]


@pytest.mark.parametrize(("data", "kind", "consumed", "same_as_http_af"), RESPONSE_CONSUMED)
def test_response_consumed(
    wire: SimpleNamespace, data: bytes, kind: Any, consumed: int, same_as_http_af: bool
) -> None:
    parser = wire.ResponseParser()
    if kind == "error":
        with pytest.raises(ParseError):
            parser.parse(data, 0, len(data))
    else:
        event = parser.parse(data, 0, len(data))
        assert event is None if kind is None else isinstance(event, kind)
    assert parser.consumed == consumed


def test_body_views_are_slices_of_the_buffer(wire: SimpleNamespace) -> None:
    parser = wire.RequestParser()
    buf = bytearray(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
    assert isinstance(parser.parse(buf), Request)
    view = parser.parse(buf, parser.consumed, len(buf))
    assert isinstance(view, memoryview)
    buf[-1] = ord("Z")
    assert bytes(view) == b"abZ"  # zero-copy: the runtime's buffer itself
    view.release()


# -- what the parser says about a head -------------------------------------------------------

# (request, body_length, keep_alive, expect_continue, upgrade)
REQUEST_ATTRIBUTES = [
    (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, True, False, False),
    (b"GET / HTTP/1.0\r\n\r\n", 0, False, False, False),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, True, False, False),
    (b"GET / HTTP/1.0\r\nConnection: Upgrade, Keep-Alive\r\n\r\n", 0, True, False, False),
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0, False, False, False),
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", 0, False, False,
     False),
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: a\r\nConnection: close\r\n\r\n", 0, False,
     False, False),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n", 12, True, False, False),
    (chunked_head(), CHUNKED, True, False, False),
    (b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 1,
     True, True, False),
    (b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", 1,
     True, True, False),
    (b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 1, False, False,
     False),
    (b"POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 0, True, False, False),
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 0,
     True, False, True),
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, upgrade\r\nUpgrade: h2c\r\n\r\n",
     0, True, False, True),
    (b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", 0, True, False, False),
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", 0, True, False, False),
    (b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 0, True, False, True),
]


@pytest.mark.parametrize(("data", "length", "keep_alive", "expect", "upgrade"), REQUEST_ATTRIBUTES)
def test_request_attributes(
    wire: SimpleNamespace, data: bytes, length: int, keep_alive: bool, expect: bool,
    upgrade: bool
) -> None:
    parser = wire.RequestParser()
    events = parse_all(parser, data)
    assert isinstance(events[0], Request)
    assert parser.body_length == length
    assert parser.keep_alive is keep_alive
    assert parser.expect_continue is expect
    assert parser.upgrade is upgrade


def test_request_attributes_are_reset_per_request(wire: SimpleNamespace) -> None:
    parser = wire.RequestParser()
    first = (b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nConnection: Upgrade\r\n"
             b"Upgrade: x\r\nContent-Length: 1\r\n\r\nx")
    events = parse_all(parser, first)
    assert (parser.body_length, parser.expect_continue, parser.upgrade) == (1, True, True)
    assert events[-1] is EOM
    events = parse_all(parser, b"GET / HTTP/1.0\r\n\r\n")
    assert isinstance(events[0], Request)
    assert (parser.body_length, parser.keep_alive, parser.expect_continue, parser.upgrade) == (
        0, False, False, False)


def test_parser_is_idle(wire: SimpleNamespace) -> None:
    parser = wire.RequestParser()
    seen = [(parser.is_idle, parser.at_message_boundary())]
    assert not parser.is_failed
    parser.parse(b"GET / HTTP/1.1\r\n")
    seen.append((parser.is_idle, parser.at_message_boundary()))
    parser.parse(b"Host: h\r\nContent-Length: 1\r\n\r\n")
    seen.append((parser.is_idle, parser.at_message_boundary()))
    parser.parse(b"x")
    seen.append((parser.is_idle, parser.at_message_boundary()))  # no EndOfMessage yet
    assert parser.parse(b"") is EOM
    seen.append((parser.is_idle, parser.at_message_boundary()))
    assert seen == [(True, True), (False, False), (False, False), (False, False), (True, True)]


# -- limits -------------------------------------------------------------------------------------


def line_of(size: int) -> bytes:
    """A request line of exactly ``size`` bytes, CRLF included."""
    return b"GET /" + b"a" * (size - 16) + b" HTTP/1.1\r\n"


def field_of(size: int, name: bytes = b"X") -> bytes:
    """A field line of exactly ``size`` bytes, CRLF included."""
    return name + b": " + b"v" * (size - len(name) - 4) + b"\r\n"


# (config, bytes, expected status or None when it parses)
LIMITS: list[tuple[str, Config, bytes, int | None]] = [
    ("request line at limit", Config(max_request_line=64),
     line_of(64) + HOST + b"\r\n", None),
    ("request line over limit", Config(max_request_line=64),
     line_of(65) + HOST + b"\r\n", 414),
    ("request line over limit, incomplete", Config(max_request_line=64), line_of(80)[:64], 414),
    ("field at limit", Config(max_field_size=64),
     b"GET / HTTP/1.1\r\n" + HOST + field_of(64) + b"\r\n", None),
    ("field over limit", Config(max_field_size=64),
     b"GET / HTTP/1.1\r\n" + HOST + field_of(65) + b"\r\n", 431),
    ("field over limit, incomplete", Config(max_field_size=64),
     b"GET / HTTP/1.1\r\n" + HOST + field_of(90)[:70], 431),
    ("head at limit", Config(max_request_line=64, max_head_size=100),
     b"GET / HTTP/1.1\r\n" + HOST + field_of(73) + b"\r\n", None),
    ("head over limit", Config(max_request_line=64, max_head_size=100),
     b"GET / HTTP/1.1\r\n" + HOST + field_of(74) + b"\r\n", 431),
    ("head over limit, incomplete", Config(max_request_line=64, max_head_size=100),
     b"GET / HTTP/1.1\r\n" + HOST + field_of(60) * 2, 431),
    ("head limit counts the request line", Config(max_request_line=100, max_head_size=100),
     line_of(90) + HOST + b"\r\n", 431),
    ("header count at limit", Config(max_headers=3),
     b"GET / HTTP/1.1\r\n" + HOST + b"A: 1\r\nB: 2\r\n\r\n", None),
    ("header count over limit", Config(max_headers=3),
     b"GET / HTTP/1.1\r\n" + HOST + b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431),
    ("body at limit", Config(max_body_size=10),
     b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", None),
    ("body over limit", Config(max_body_size=10),
     b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 413),
    ("chunked body at limit", Config(max_body_size=10),
     chunked_head() + b"6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n", None),
    ("chunked body over limit", Config(max_body_size=10),
     chunked_head() + b"6\r\n012345\r\n5\r\n", 413),
    ("one huge chunk", Config(max_body_size=10), chunked_head() + b"ffffffffffffffff\r\n", 413),
    ("chunk line at limit", Config(max_chunk_line=16),
     chunked_head() + b"1;abcdefghijkl\r\nx\r\n0\r\n\r\n", None),
    ("chunk line over limit", Config(max_chunk_line=16),
     chunked_head() + b"1;abcdefghijklm\r\nx\r\n0\r\n\r\n", 400),
    ("chunk line over limit, incomplete", Config(max_chunk_line=16),
     chunked_head() + b"1;" + b"a" * 20, 400),
    ("trailers at size limit", Config(max_trailer_size=16),
     chunked_head() + b"0\r\nX: 123456789\r\n\r\n", None),
    ("trailers over size limit", Config(max_trailer_size=16),
     chunked_head() + b"0\r\nX: 1234567890\r\n\r\n", 431),
    ("trailers over size limit, incomplete", Config(max_trailer_size=16),
     chunked_head() + b"0\r\nX: 1\r\nY: 2\r\nZ: 345", 431),
    ("trailer count at limit", Config(max_trailers=2),
     chunked_head() + b"0\r\nA: 1\r\nB: 2\r\n\r\n", None),
    ("trailer count over limit", Config(max_trailers=2),
     chunked_head() + b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431),
    ("trailer field over field limit", Config(max_field_size=32),
     chunked_head() + b"0\r\n" + field_of(33) + b"\r\n", 431),
]


@pytest.mark.parametrize(("config", "data", "status"), [c[1:] for c in LIMITS],
                         ids=[c[0] for c in LIMITS])
def test_limits(wire: SimpleNamespace, config: Config, data: bytes, status: int | None) -> None:
    for split in [None, *range(len(data) + 1)]:
        events = parse_all(wire.RequestParser(config), data, split=split)
        if status is None:
            assert isinstance(events[0], Request), split
            assert not any(isinstance(e, tuple) for e in events), (split, events)
        else:
            assert is_error(events, status), (split, events)


def test_default_limits(wire: SimpleNamespace) -> None:
    config = Config()
    ok = line_of(config.max_request_line) + HOST + b"\r\n"
    assert isinstance(parse_all(wire.RequestParser(), ok)[0], Request)
    too_long = line_of(config.max_request_line + 1) + HOST + b"\r\n"
    assert is_error(parse_all(wire.RequestParser(), too_long), 414)
    many = b"GET / HTTP/1.1\r\n" + HOST + b"X: 1\r\n" * (config.max_headers - 1) + b"\r\n"
    assert isinstance(parse_all(wire.RequestParser(), many)[0], Request)
    too_many = b"GET / HTTP/1.1\r\n" + HOST + b"X: 1\r\n" * config.max_headers + b"\r\n"
    assert is_error(parse_all(wire.RequestParser(), too_many), 431)


def test_a_dribbled_head_is_linear(wire: SimpleNamespace) -> None:
    # 60 KB of fields one byte at a time: quadratic rescanning would take minutes.
    data = b"GET / HTTP/1.1\r\n" + HOST + (b"X-Field: " + b"v" * 50 + b"\r\n") * 1000 + b"\r\n"
    parser = wire.RequestParser(Config(max_headers=2000, max_head_size=100_000))
    events = parse_pieces(parser, (data[i : i + 1] for i in range(len(data))))
    assert isinstance(events[0], Request) and len(events[0].headers) == 1001


# -- a failed parser stays failed ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        chunked_head() + b"1\r\nxGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
    ],
)
def test_failed_parser_stays_failed(wire: SimpleNamespace, data: bytes) -> None:
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
    parser = wire.RequestParser()
    events = parse_all(parser, data + smuggled)
    assert isinstance(events[-1], tuple) and events[-1][0] == "error"
    assert not any(isinstance(e, Request) and e.target == "/smuggled" for e in events)
    assert parser.is_failed and not parser.is_idle
    status = events[-1][1]
    for _ in range(2):
        with pytest.raises(ParseError) as info:
            parser.parse(smuggled)
        assert info.value.status == status
    with pytest.raises(ParseError):
        parser.parse(b"", 0, 0, True)


# -- responses --------------------------------------------------------------------------------


def resp(status: int, fields: list[tuple[str, str]] | None = None, reason: str | None = None,
         version: Any = HTTP_1_1) -> Response:
    return Response(status, fields or [], reason, version)


# (name, bytes, request method, eof, expected events)
VALID_RESPONSES: list[tuple[str, bytes, str, bool, list[Any]]] = [
    ("fixed", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", False,
     [resp(200, [("Content-Length", "5")]), b"hello", EOM]),
    ("fixed, then the next one", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
     b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "GET", False,
     [resp(200, [("Content-Length", "1")]), b"x", EOM,
      resp(404, [("Content-Length", "0")]), None]),
    ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"3;x=y\r\nabc\r\n0\r\nExpires: never\r\n\r\n", "GET", False,
     [resp(200, [("Transfer-Encoding", "chunked")]), b"abc",
      EndOfMessage(Headers([("Expires", "never")]))]),
    ("close-delimited ends at eof", b"HTTP/1.1 200 OK\r\n\r\nabc", "GET", True,
     [resp(200), b"abc", EOM]),
    ("close-delimited waits for eof", b"HTTP/1.1 200 OK\r\n\r\nabc", "GET", False,
     [resp(200), b"abc", None]),
    ("close-delimited, empty", b"HTTP/1.0 200 OK\r\n\r\n", "GET", True,
     [resp(200, version=HTTP_1_0), EOM]),
    ("TE not chunked is close-delimited", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz",
     "GET", True, [resp(200, [("Transfer-Encoding", "gzip")]), b"zz", EOM]),
    ("1xx then final",
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", False,
     [resp(100), resp(103, [("Link", "</a>")], "Early Hints"),
      resp(200, [("Content-Length", "0")]), None]),
    ("204 has no body", b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "GET", False,
     [resp(204, [("Content-Length", "0")]), None]),
    ("304 has no body, whatever its Content-Length says",
     b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", False,
     [resp(304, [("Content-Length", "10")]), None]),
    ("304 has no body", b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
     "GET", False, [resp(304, [("Transfer-Encoding", "chunked")]), None]),
    ("HEAD has no body", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", False,
     [resp(200, [("Content-Length", "5")]), None]),
    ("CONNECT 2xx is a tunnel", b"HTTP/1.1 200 Connection Established\r\n\r\nraw bytes",
     "CONNECT", True, [resp(200, reason="Connection Established"), b"raw bytes", EOM]),
    ("CONNECT refused has a body", b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
     "CONNECT", False, [resp(403, [("Content-Length", "2")]), b"no", EOM]),
    ("empty reason", b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", False,
     [resp(200, [("Content-Length", "0")], ""), None]),
    ("reason with spaces, tabs and obs-text",
     b"HTTP/1.1 200 All \tgood \xe9\r\nContent-Length: 0\r\n\r\n", "GET", False,
     [resp(200, [("Content-Length", "0")], "All \tgood \xe9"), None]),
    ("non-standard status", b"HTTP/1.1 299 Odd\r\nContent-Length: 0\r\n\r\n", "GET", False,
     [resp(299, [("Content-Length", "0")], "Odd"), None]),
]


def response_parser(wire: SimpleNamespace, method: str) -> Any:
    parser = wire.ResponseParser()
    parser.request_method = method
    return parser


@pytest.mark.parametrize(("data", "method", "eof", "expected"), [c[1:] for c in VALID_RESPONSES],
                         ids=[c[0] for c in VALID_RESPONSES])
def test_valid_response(
    wire: SimpleNamespace, data: bytes, method: str, eof: bool, expected: list[Any]
) -> None:
    assert parse_all(response_parser(wire, method), data, eof=eof) == expected
    for split in range(len(data) + 1):
        events = parse_all(response_parser(wire, method), data, eof=eof, split=split)
        assert events == expected, split


# (name, bytes, request method, expected upgrade, keep_alive, body_length)
RESPONSE_ATTRIBUTES = [
    ("1.1 fixed", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", False, True, 1),
    ("1.1 close", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", "GET",
     False, False, 1),
    ("1.0", b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", False, False, 1),
    ("1.0 keep-alive", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
     "GET", False, True, 1),
    ("close-delimited ends persistence", b"HTTP/1.1 200 OK\r\n\r\n", "GET", False, False,
     CLOSE_DELIMITED),
    ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", False, True,
     CHUNKED),
    ("101", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     b"Connection: Upgrade\r\n\r\n", "GET", True, True, 0),
    ("CONNECT 200", b"HTTP/1.1 200 OK\r\n\r\n", "CONNECT", True, False, CLOSE_DELIMITED),
    ("CONNECT 407", b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", "CONNECT", False, True, 0),
]


@pytest.mark.parametrize(("data", "method", "upgrade", "keep_alive", "length"),
                         [c[1:] for c in RESPONSE_ATTRIBUTES],
                         ids=[c[0] for c in RESPONSE_ATTRIBUTES])
def test_response_attributes(
    wire: SimpleNamespace, data: bytes, method: str, upgrade: bool, keep_alive: bool, length: int
) -> None:
    parser = response_parser(wire, method)
    events = parse_all(parser, data)
    assert isinstance(events[0], Response)
    assert parser.upgrade is upgrade
    assert parser.keep_alive is keep_alive
    assert parser.body_length == length
    assert parser.expect_continue is False


INVALID_RESPONSES: list[tuple[str, bytes, bool]] = [
    ("truncated fixed body at eof", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", True),
    ("truncated chunked body at eof", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nab", True),
    ("truncated after last chunk at eof", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n", True),
    ("truncated head at eof", b"HTTP/1.1 200 OK\r\nContent-Le", True),
    ("truncated status line at eof", b"HTTP/1.1 20", True),
    ("no reason space", b"HTTP/1.1 200\r\n\r\n", False),
    ("two-digit status", b"HTTP/1.1 20 OK\r\n\r\n", False),
    ("four-digit status", b"HTTP/1.1 2000 OK\r\n\r\n", False),
    ("status below 100", b"HTTP/1.1 099 OK\r\n\r\n", False),
    ("status not digits", b"HTTP/1.1 2x0 OK\r\n\r\n", False),
    ("lower-case version", b"http/1.1 200 OK\r\n\r\n", False),
    ("HTTP/2.0", b"HTTP/2.0 200 OK\r\n\r\n", False),
    ("two spaces", b"HTTP/1.1  200 OK\r\n\r\n", False),
    ("bare LF status line", b"HTTP/1.1 200 OK\n\r\n", False),
    ("NUL in reason", b"HTTP/1.1 200 O\x00K\r\n\r\n", False),
    ("bad field", b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n", False),
    ("different CLs", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", False),
    ("negative CL", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", False),
    ("bad chunk", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", False),
    ("forbidden trailer", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\nContent-Length: 1\r\n\r\n", False),
    # The client distrusts servers (SECURITY.md, "What the client refuses"): RFC 9112
    # §6.3 says TE wins over CL, and that such a message ought to be handled as an error; we do.
    ("CL and TE", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n", False),
    ("equal repeated CL", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
     False),
    ("CL list", b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab", False),
    ("204 with a CL", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", False),
    ("chunked twice", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", False),
]


@pytest.mark.parametrize(("data", "eof"), [c[1:] for c in INVALID_RESPONSES],
                         ids=[c[0] for c in INVALID_RESPONSES])
def test_invalid_response(wire: SimpleNamespace, data: bytes, eof: bool) -> None:
    events = parse_all(wire.ResponseParser(), data, eof=eof)
    assert is_error(events, 400), events
    for split in range(len(data) + 1):
        assert parse_all(wire.ResponseParser(), data, eof=eof, split=split) == events, split


def test_response_parser_eof_between_responses_is_clean(wire: SimpleNamespace) -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    assert parse_all(wire.ResponseParser(), data, eof=True) == [
        resp(200, [("Content-Length", "1")]), b"x", EOM]


def test_response_limits(wire: SimpleNamespace) -> None:
    config = Config(max_request_line=32, max_head_size=64, max_headers=2)
    long_line = b"HTTP/1.1 200 " + b"r" * 30 + b"\r\n\r\n"
    assert is_error(parse_all(wire.ResponseParser(config), long_line), 400)
    many = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
    assert is_error(parse_all(wire.ResponseParser(config), many), 431)
    big = b"HTTP/1.1 200 OK\r\nA: " + b"a" * 50 + b"\r\n\r\n"
    assert is_error(parse_all(wire.ResponseParser(config), big), 400)


# -- any split gives the same events (property) ---------------------------------------------------

_PIECES = [
    b"GET / HTTP/1.1\r\n", b"POST /p HTTP/1.1\r\n", b"GET / HTTP/1.0\r\n", b"Host: h\r\n",
    b"Content-Length: 3\r\n", b"Transfer-Encoding: chunked\r\n", b"Connection: close\r\n",
    b"X: y\r\n", b"\r\n", b"\r", b"\n", b" ", b"\t", b":", b"abc", b"3\r\n", b"0\r\n", b";e=v",
    b"\x00", b"\x7f", b"\xe9", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 100 Continue\r\n",
]
_SMALL = Config(max_request_line=40, max_field_size=24, max_head_size=80, max_headers=4,
                max_body_size=64, max_chunk_line=12, max_trailer_size=30, max_trailers=2)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=14), eof=st.booleans(),
       small=st.booleans(), response=st.booleans(), data=st.data())
def test_any_split_gives_the_same_events(
    wire: SimpleNamespace, pieces: list[bytes], eof: bool, small: bool, response: bool,
    data: st.DataObject
) -> None:
    raw = b"".join(pieces)
    config = _SMALL if small else Config()
    make = wire.ResponseParser if response else wire.RequestParser
    whole = parse_all(make(config), raw, eof=eof)
    split = data.draw(st.integers(0, len(raw)))
    assert parse_all(make(config), raw, eof=eof, split=split) == whole
    dribbled = parse_pieces(make(config), [raw[i : i + 1] for i in range(len(raw))], eof=eof)
    if raw:
        assert dribbled == whole


@pytest.mark.parametrize(
    ("head", "block"),
    [
        (b"GET / HTTP/1.1\r\n", b"\nX: y\r"),
        (b"GET / HTTP/1.1\r\n", b"\n\r"),
        (b"GET / HTTP/1.1\r\n", b"Host: h\r\n\nabc\r"),
        (b"GET / HTTP/1.1\r\n", b"\rX: y\r\n\r\n"),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", b"\nX\r"),
    ],
)
def test_a_block_at_the_start_of_the_buffer(
    wire: SimpleNamespace, head: bytes, block: bytes
) -> None:
    # The runtime may present the unconsumed bytes at offset 0: nothing before ``start``
    # is ever looked at (no negative index wraps around to the end of the buffer).
    whole = parse_all(wire.RequestParser(), head + block)
    parser = wire.RequestParser()
    events = []
    while True:
        event = parser.parse(head, 0, len(head))
        if event is None:
            break
        events.append(event)
        head = head[parser.consumed :]
    with pytest.raises(ParseError) as info:
        parser.parse(block, 0, len(block))
    assert events + [("error", info.value.status, info.value.message)] == whole


def test_a_request_line_filling_the_head_limit(wire: SimpleNamespace) -> None:
    # Nothing is left for even the blank line: refused at once, without waiting.
    config = Config(max_request_line=16, max_head_size=16)
    with pytest.raises(ParseError) as info:
        wire.RequestParser(config).parse(b"GET / HTTP/1.1\r\n")
    assert info.value.status == 431
    config = Config(max_request_line=16, max_head_size=18)
    assert isinstance(wire.RequestParser(config).parse(b"GET / HTTP/1.0\r\n\r\n"), Request)


# -- lending idle parsers ---------------------------------------------------------------


def test_a_lent_parser_is_borrowed_for_its_config_only(wire: SimpleNamespace) -> None:
    config, other = Config(max_headers=7), Config(max_headers=8)
    parser = wire.RequestParser(config)
    assert parser.parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") is not None
    wire.parser.lend_request_parser(parser)
    with pytest.raises(ValueError, match="lent already"):
        wire.parser.lend_request_parser(parser)  # (two borrowers would share it)
    assert wire.parser.borrow_request_parser(other) is not parser
    assert wire.parser.borrow_request_parser(config) is parser
    fresh = wire.parser.borrow_request_parser(config)  # the pool is empty again
    assert fresh is not parser and fresh.config is config and fresh.is_idle


def test_the_pool_of_lent_parsers_keeps_at_most_64(wire: SimpleNamespace) -> None:
    config = Config(max_headers=9)  # a config of its own: the pool starts empty
    parsers = [wire.RequestParser(config) for _ in range(70)]
    for parser in parsers:
        wire.parser.lend_request_parser(parser)
    borrowed = [wire.parser.borrow_request_parser(config) for _ in range(70)]
    # The last lent come back first; the six beyond the limit were never kept.
    assert borrowed[:64] == parsers[63::-1]
    assert not any(parser in parsers for parser in borrowed[64:])
    assert all(parser.config is config and parser.is_idle for parser in borrowed)
    wire.parser.lend_request_parser(parsers[64])  # never kept, so never marked lent


def test_only_an_idle_parser_can_be_lent(wire: SimpleNamespace) -> None:
    parser = wire.RequestParser(Config())
    parser.parse(b"GET / HTTP/1.1\r\nHost:")  # the request line is consumed
    assert not parser.is_idle
    with pytest.raises(ValueError, match="only an idle parser"):
        wire.parser.lend_request_parser(parser)
    assert wire.parser.borrow_request_parser(parser.config) is not parser
