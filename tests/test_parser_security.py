"""The parser items of the security test list (reference/peers.md §5.x, items 1-14, 18).

One table per item. Each row is a name, the bytes, and the exact status a server answers
with (400, 413, 414, 431, 501, 505), or ``OK`` when the bytes must be accepted. Every
row is also fed split at every byte position, and must give the same events.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from httpaf.model.config import Config
from httpaf.model.errors import ParseError
from httpaf.model.headers import Headers
from httpaf.model.message import CLOSE_DELIMITED, EndOfMessage, Request

from helpers import parse_all

OK = None

GET = b"GET / HTTP/1.1\r\n"
HOST = b"Host: h\r\n"
TE_CHUNKED = b"Transfer-Encoding: chunked\r\n"
CHUNKED_HEAD = b"POST / HTTP/1.1\r\n" + HOST + TE_CHUNKED + b"\r\n"

Row = tuple[str, bytes, Any]


def head(*fields: bytes, line: bytes = GET) -> bytes:
    """A request head with Host and the given raw field lines."""
    return line + HOST + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


def run(wire: SimpleNamespace, data: bytes, status: int | None, eof: bool = False,
        config: Config | None = None) -> list[Any]:
    """Parse ``data`` whole and split anywhere; check the status; return the events."""
    events = parse_all(wire.RequestParser(config), data, eof=eof)
    errors = [e for e in events if isinstance(e, tuple)]
    if status is OK:
        assert isinstance(events[0], Request), events
        assert not errors, events
    else:
        assert errors and errors == [events[-1]], events
        assert events[-1][1] == status, events
    for split in range(len(data) + 1):
        again = parse_all(wire.RequestParser(config), data, eof=eof, split=split)
        assert again == events, split
    return events


def table(rows: list[Row]) -> Any:
    return pytest.mark.parametrize(("data", "status"), [r[1:] for r in rows],
                                   ids=[r[0] for r in rows])


# -- 1. Content-Length and Transfer-Encoding together ------------------------------------

ITEM_1 = [
    ("CL then TE", head(b"Content-Length: 5", TE_CHUNKED[:-2], line=b"POST / HTTP/1.1\r\n")
     + b"0\r\n\r\n", 400),
    ("TE then CL", head(TE_CHUNKED[:-2], b"Content-Length: 5", line=b"POST / HTTP/1.1\r\n"), 400),
    ("TE with CL 0", head(TE_CHUNKED[:-2], b"Content-Length: 0"), 400),
    ("TE not chunked with CL", head(b"Transfer-Encoding: gzip", b"Content-Length: 3"), 400),
    ("TE and empty CL", head(TE_CHUNKED[:-2], b"Content-Length:"), 400),
    ("CL, then TE in different case", head(b"content-length: 1", b"TRANSFER-ENCODING: chunked"),
     400),
]


@table(ITEM_1)
def test_item_1_cl_and_te(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status)


def test_item_1_response_cl_and_te_refused(wire: SimpleNamespace) -> None:
    # A client reading a response: RFC 9112 §6.3 lets TE win over CL and says such a
    # message "ought to be handled as an error" (smuggling, response splitting): the
    # client distrusts servers and refuses it.
    data = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n")
    parser = wire.ResponseParser()
    events = parse_all(parser, data)
    assert events[-1][:2] == ("error", 400)
    assert "both Transfer-Encoding and Content-Length" in events[-1][2]


# -- 2. Several Content-Length values ---------------------------------------------------

ITEM_2 = [
    ("two equal", head(b"Content-Length: 5", b"Content-Length: 5"), 400),
    ("two different", head(b"Content-Length: 5", b"Content-Length: 6"), 400),
    ("list form", head(b"Content-Length: 5, 5"), 400),
    ("list form without space", head(b"Content-Length: 5,5"), 400),
    ("list form, different", head(b"Content-Length: 5, 6"), 400),
    ("trailing comma", head(b"Content-Length: 5,"), 400),
    ("one empty and one set", head(b"Content-Length:", b"Content-Length: 5"), 400),
    ("names differing in case", head(b"Content-Length: 5", b"content-length: 5"), 400),
    ("single", head(b"Content-Length: 0"), OK),
]


@table(ITEM_2)
def test_item_2_duplicate_content_length(
    wire: SimpleNamespace, data: bytes, status: int | None
) -> None:
    run(wire, data, status)


# -- 3. Content-Length syntax -------------------------------------------------------------

ITEM_3 = [
    ("plus", head(b"Content-Length: +5"), 400),
    ("minus", head(b"Content-Length: -5"), 400),
    ("minus zero", head(b"Content-Length: -0"), 400),
    ("space inside", head(b"Content-Length: 1 0"), 400),
    ("tab inside", head(b"Content-Length: 1\t0"), 400),
    ("hex", head(b"Content-Length: 0x5"), 400),
    ("octal prefix", head(b"Content-Length: 0o5"), 400),
    ("underscore", head(b"Content-Length: 1_0"), 400),
    ("exponent", head(b"Content-Length: 1e2"), 400),
    ("decimal point", head(b"Content-Length: 5.0"), 400),
    ("letters", head(b"Content-Length: five"), 400),
    ("empty", head(b"Content-Length:"), 400),
    ("fullwidth digit", head("Content-Length: \uff11".encode()), 400),
    ("double-struck digit", head("Content-Length: \U0001d7d9".encode()), 400),
    ("arabic-indic digit", head("Content-Length: \u0661".encode()), 400),
    ("latin-1 superscript one", head(b"Content-Length: \xb9"), 400),
    ("20 digits", head(b"Content-Length: " + b"1" * 20), 400),
    ("100 digits of zeros", head(b"Content-Length: " + b"0" * 100), 400),
    ("19 digits", head(b"Content-Length: " + b"9" * 19), OK),
    ("leading zeros", head(b"Content-Length: 0000000000000000005"), OK),
    ("surrounding OWS", head(b"Content-Length: \t 5 \t"), OK),
    ("NBSP after", head(b"Content-Length: 5\xa0"), 400),
    ("VT after", head(b"Content-Length: 5\x0b"), 400),
]


@table(ITEM_3)
def test_item_3_content_length_syntax(
    wire: SimpleNamespace, data: bytes, status: int | None
) -> None:
    run(wire, data, status)


def test_item_3_huge_length_over_max_body(wire: SimpleNamespace) -> None:
    run(wire, head(b"Content-Length: " + b"9" * 19), 413, config=Config(max_body_size=10**9))


# -- 4. Transfer-Encoding values ----------------------------------------------------------------


def te(*values: bytes) -> bytes:
    return head(*(b"Transfer-Encoding: " + v for v in values), line=b"POST / HTTP/1.1\r\n")


ITEM_4 = [
    ("chunked", te(b"chunked"), OK),
    ("CHUNKED", te(b"CHUNKED"), OK),
    ("with OWS", te(b" \tchunked\t "), OK),
    ("chunked twice, one line", te(b"chunked, chunked"), 400),
    ("chunked twice, two lines", te(b"chunked", b"chunked"), 400),
    ("chunked not last", te(b"chunked, gzip"), 400),
    ("chunked not last, two lines", te(b"chunked", b"gzip"), 400),
    ("xchunked", te(b"xchunked"), 400),
    ("notchunked", te(b"notchunked"), 400),
    ("chunkedx", te(b"chunkedx"), 400),
    ("chunked with parameter", te(b"chunked;foo"), 400),
    ("chunked with parameter and value", te(b"chunked; q=1"), 400),
    ("quoted", te(b'"chunked"'), 400),
    ("empty", te(b""), 400),
    ("only commas", te(b",,"), 400),
    ("empty coding first", te(b", chunked"), 400),
    ("empty coding between", te(b"gzip,,chunked"), 400),
    ("identity", te(b"identity"), 400),
    ("identity then chunked", te(b"identity, chunked"), 501),
    ("gzip alone", te(b"gzip"), 400),
    ("gzip then chunked", te(b"gzip, chunked"), 501),
    ("deflate then chunked, two lines", te(b"deflate", b"chunked"), 501),
    ("unknown coding then chunked", te(b"foo, chunked"), 501),
    ("chunked then empty line", te(b"chunked", b""), 400),
]


@table(ITEM_4)
def test_item_4_transfer_encoding(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status)


# -- 5. Whitespace and control characters around Transfer-Encoding -------------------------------

ITEM_5 = [
    ("obs-fold of the value", head(b"Transfer-Encoding:", b" chunked"), 400),
    ("obs-fold after a coding", head(b"Transfer-Encoding: gzip,", b"\tchunked"), 400),
    ("obs-fold as first field line", b"POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n"
     + HOST + b"\r\n", 400),
    *[
        (f"{name} {where} the value", head(f, line=b"POST / HTTP/1.1\r\n"), 400)
        for name, ch in [("VT", b"\x0b"), ("FF", b"\x0c"), ("FS", b"\x1c"), ("GS", b"\x1d"),
                         ("RS", b"\x1e"), ("US", b"\x1f"), ("NEL", b"\x85"), ("NBSP", b"\xa0")]
        for where, f in [("before", b"Transfer-Encoding: " + ch + b"chunked"),
                         ("after", b"Transfer-Encoding: chunked" + ch)]
    ],
    *[
        (f"{name} {where} the name", head(f, line=b"POST / HTTP/1.1\r\n"), 400)
        for name, ch in [("VT", b"\x0b"), ("FF", b"\x0c"), ("FS", b"\x1c"), ("US", b"\x1f"),
                         ("NEL", b"\x85"), ("NBSP", b"\xa0"), ("SP", b" "), ("HTAB", b"\t")]
        for where, f in [("before", ch + b"Transfer-Encoding: chunked"),
                         ("after", b"Transfer-Encoding" + ch + b": chunked")]
    ],
]


@table(ITEM_5)
def test_item_5_transfer_encoding_whitespace(
    wire: SimpleNamespace, data: bytes, status: int | None
) -> None:
    run(wire, data, status)


# -- 6. Chunked on HTTP/1.0

ITEM_6 = [
    ("chunked", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("chunked, with Host",
     b"POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("gzip, chunked", b"POST / HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400),
    ("keep-alive, chunked", b"POST / HTTP/1.0\r\nConnection: keep-alive\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n", 400),
    ("content-length is fine", b"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n", OK),
]


@table(ITEM_6)
def test_item_6_chunked_http_1_0(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status)


# -- 7. Bare LF and bare CR

ITEM_7 = [
    ("LF ending the request line", b"GET / HTTP/1.1\n" + HOST + b"\r\n", 400),
    ("LF inside the request line", b"GET /\n HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("LF before the request line", b"\nGET / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("LF ending a field", GET + b"Host: h\n\r\n", 400),
    ("LF ending the head", GET + HOST + b"\n", 400),
    ("LF LF ending the head", GET + b"Host: h\n\n", 400),
    ("LF inside a value", GET + HOST + b"X: a\nb\r\n\r\n", 400),
    ("CR inside the request line", b"GET /\r HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("CR CR LF ending the request line", b"GET / HTTP/1.1\r\r\n" + HOST + b"\r\n", 400),
    ("CR before the request line", b"\rGET / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("CR inside a value", GET + HOST + b"X: a\rb\r\n\r\n", 400),
    ("CR ending a field", GET + b"Host: h\r\r\n\r\n", 400),
    ("CR X ending the head", GET + HOST + b"\rX", 400),
    ("CR CR LF ending the head", GET + HOST + b"\r\r\n", 400),
    ("CR inside a name", GET + HOST + b"X\rY: z\r\n\r\n", 400),
    ("LF ending a chunk-size line", CHUNKED_HEAD + b"1\nx\r\n0\r\n\r\n", 400),
    ("CR inside a chunk-size line", CHUNKED_HEAD + b"1\r\r\nx\r\n0\r\n\r\n", 400),
    ("LF after chunk data", CHUNKED_HEAD + b"1\r\nx\n0\r\n\r\n", 400),
    ("CR after chunk data", CHUNKED_HEAD + b"1\r\nx\r0\r\n\r\n", 400),
    ("LF ending the last chunk line", CHUNKED_HEAD + b"0\n\r\n", 400),
    ("LF ending a trailer", CHUNKED_HEAD + b"0\r\nX: y\n\r\n", 400),
    ("LF ending the trailers", CHUNKED_HEAD + b"0\r\nX: y\r\n\n", 400),
    ("LF as empty trailers", CHUNKED_HEAD + b"0\r\n\n", 400),
    ("CR X ending the trailers", CHUNKED_HEAD + b"0\r\nX: y\r\n\rX", 400),
    ("CR inside a trailer", CHUNKED_HEAD + b"0\r\nX: a\rb\r\n\r\n", 400),
]


@table(ITEM_7)
def test_item_7_bare_lf_and_cr(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status)


# -- 8. Field names

ITEM_8 = [
    ("space before colon", head(b"X : y"), 400),
    ("tab before colon", head(b"X\t: y"), 400),
    ("empty name", head(b": y"), 400),
    ("only a colon", head(b":"), 400),
    ("no colon", head(b"X y"), 400),
    *[(f"{ch!r} in a name", head(b"X" + ch + b"Y: z"), 400)
      for ch in [b"?", b"(", b")", b"<", b">", b"@", b",", b";", b"\\", b'"', b"/", b"[",
                 b"]", b"=", b"{", b"}", b"\xa0", b"\x7f", b"\x00", b"\xff"]],
    ("Content-Encoding?", head(b"Content-Encoding?: gzip"), 400),
    ("non-ASCII name", head("N\u00e4me: v".encode()), 400),
    ("underscore is an ordinary tchar", head(b"X_Y: z"), OK),
]


@table(ITEM_8)
def test_item_8_field_names(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status)


def test_item_8_underscore_is_not_a_dash(wire: SimpleNamespace) -> None:
    # Content_Length is not Content-Length: no body, and the name is kept as sent (the
    # WSGI environ clash is the WSGI layer's business).
    parser = wire.RequestParser()
    data = head(b"Content_Length: 5", b"Transfer_Encoding: chunked", line=b"POST / HTTP/1.1\r\n")
    events = parse_all(parser, data + b"hello\r\n")
    assert parser.body_length == 0
    assert events[0].headers.get_all("content_length") == ["5"]
    assert events[0].headers.get("content-length") is None
    assert isinstance(events[1], tuple) and events[1][1] == 400  # "hello" is no request


# -- 9. Field values

ITEM_9 = [
    *[(f"{ch!r} in a value", head(b"X: a" + ch + b"b"), 400)
      for ch in [b"\x00", b"\x01", b"\x07", b"\x08", b"\x0b", b"\x0c", b"\x0e", b"\x1b",
                 b"\x1f", b"\x7f"]],
    ("NUL at the end of a value", head(b"X: a\x00"), 400),
    ("DEL alone", head(b"X: \x7f"), 400),
    ("obs-fold with SP", head(b"X: a", b" b"), 400),
    ("obs-fold with HTAB", head(b"X: a", b"\tb"), 400),
    ("obs-fold of an empty value", head(b"X:", b"  b"), 400),
    ("HTAB inside a value", head(b"X: a\tb"), OK),
    ("obs-text in a value", head(b"X: \x80\xa0\xff"), OK),
    ("quotes and backslashes", head(b'X: "a\\"b"'), OK),
]


@table(ITEM_9)
def test_item_9_field_values(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status)


# -- 10. The request line

ITEM_10 = [
    ("lower-case method", b"get / HTTP/1.1\r\n" + HOST + b"\r\n", OK),
    ("mixed-case method", b"Get / HTTP/1.1\r\n" + HOST + b"\r\n", OK),
    ("'#' is a tchar", b"G#T / HTTP/1.1\r\n" + HOST + b"\r\n", OK),
    *[(f"{ch!r} in the method", b"G" + ch + b"T / HTTP/1.1\r\n" + HOST + b"\r\n", 400)
      for ch in [b"(", b"@", b",", b";", b"/", b":", b"\x00", b"\x7f", b"\xe9", b"{"]],
    ("HTTP/2.0", b"GET / HTTP/2.0\r\n" + HOST + b"\r\n", 505),
    ("HTTP/1.2", b"GET / HTTP/1.2\r\n" + HOST + b"\r\n", 505),
    ("HTTP/3.0", b"GET / HTTP/3.0\r\n" + HOST + b"\r\n", 505),
    ("HTTP/0.9", b"GET / HTTP/0.9\r\n" + HOST + b"\r\n", 505),
    ("HTTP/0.9 simple request", b"GET /\r\n\r\n", 400),
    ("HTTP1.1", b"GET / HTTP1.1\r\n" + HOST + b"\r\n", 400),
    ("http/1.1", b"GET / http/1.1\r\n" + HOST + b"\r\n", 400),
    ("HTTP/1.10", b"GET / HTTP/1.10\r\n" + HOST + b"\r\n", 400),
    ("HTTP/11", b"GET / HTTP/11\r\n" + HOST + b"\r\n", 400),
    ("HTTP/1.1.1", b"GET / HTTP/1.1.1\r\n" + HOST + b"\r\n", 400),
    ("HTTP/1\xc3\xb61", "GET / HTTP/1\u00f61\r\n".encode() + HOST + b"\r\n", 400),
    ("HTTP/1.double-struck one", "GET / HTTP/1.\U0001d7d9\r\n".encode() + HOST + b"\r\n", 400),
    ("empty target", b"GET  HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("two spaces after method", b"GET  / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("two spaces before version", b"GET /  HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("space before method", b" GET / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("space after version", b"GET / HTTP/1.1 \r\n" + HOST + b"\r\n", 400),
    ("tab as separator", b"GET\t/ HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("tab after version", b"GET / HTTP/1.1\t\r\n" + HOST + b"\r\n", 400),
    ("space inside target", b"GET /a b HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("CTL in target", b"GET /\x01 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("DEL in target", b"GET /\x7f HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("non-ASCII in target", b"GET /\xe9 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("asterisk-form with OPTIONS", b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n", OK),
    ("asterisk-form with GET", b"GET * HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("asterisk-form with options", b"options * HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("authority-form with CONNECT", b"CONNECT h:443 HTTP/1.1\r\n" + HOST + b"\r\n", OK),
    ("authority-form with GET", b"GET h:443 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("origin-form with CONNECT", b"CONNECT / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("absolute-form with CONNECT", b"CONNECT http://h:443/ HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("CONNECT without port", b"CONNECT h HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("relative target", b"GET a/b HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("absolute-form", b"GET http://h/a HTTP/1.1\r\n" + HOST + b"\r\n", OK),
]


@table(ITEM_10)
def test_item_10_request_line(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    events = run(wire, data, status)
    if status is OK:
        method = data.split(b" ", 1)[0].decode()
        assert events[0].method == method  # never case-folded


# -- 11. Chunk sizes


def chunks(body: bytes) -> bytes:
    return CHUNKED_HEAD + body


ITEM_11 = [
    ("0x prefix", chunks(b"0x1\r\nx\r\n0\r\n\r\n"), 400),
    ("plus", chunks(b"+1\r\nx\r\n0\r\n\r\n"), 400),
    ("minus", chunks(b"-1\r\nx\r\n0\r\n\r\n"), 400),
    ("underscore", chunks(b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n"), 400),
    ("empty size", chunks(b"\r\nx\r\n0\r\n\r\n"), 400),
    ("leading space", chunks(b" 1\r\nx\r\n0\r\n\r\n"), 400),
    ("trailing space", chunks(b"1 \r\nx\r\n0\r\n\r\n"), 400),
    ("leading junk", chunks(b"g1\r\nx\r\n0\r\n\r\n"), 400),
    ("trailing junk", chunks(b"1g\r\nx\r\n0\r\n\r\n"), 400),
    ("fullwidth digit", chunks("\uff11\r\nx\r\n0\r\n\r\n".encode()), 400),
    ("17 hex digits", chunks(b"1" + b"0" * 16 + b"\r\n"), 400),
    ("17 digits of leading zeros", chunks(b"0" * 16 + b"1\r\nx\r\n0\r\n\r\n"), 400),
    ("32 hex digits", chunks(b"f" * 32 + b"\r\n"), 400),
    ("16 hex digits over max_body_size", chunks(b"f" * 16 + b"\r\n"), 413),
    ("size over max_body_size before any data", chunks(b"100001\r\n"), 413),
    ("sizes adding up over max_body_size", chunks(b"80000\r\n" + b"x" * 0x80000 + b"\r\n"
                                                  b"80001\r\n"), 413),
    ("upper and lower case", chunks(b"aA\r\n" + b"x" * 0xAA + b"\r\n0\r\n\r\n"), OK),
]


@table(ITEM_11)
def test_item_11_chunk_size(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    config = Config(max_body_size=0x100000)
    events = parse_all(wire.RequestParser(config), data)
    assert isinstance(events[0], Request)
    if status is OK:
        assert events[-1] == EndOfMessage()
    else:
        assert isinstance(events[-1], tuple) and events[-1][1] == status, events
    for split in [0, len(CHUNKED_HEAD), len(CHUNKED_HEAD) + 1, len(CHUNKED_HEAD) + 3, len(data)]:
        assert parse_all(wire.RequestParser(config), data, split=split) == events


def test_item_11_body_limit_applies_before_the_data(wire: SimpleNamespace) -> None:
    # No body byte is delivered from a chunk that breaks the limit.
    events = parse_all(wire.RequestParser(Config(max_body_size=10)),
                       chunks(b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"))
    assert events[1:] == [b"hello", ("error", 413, events[-1][2])]


# -- 12. Chunk extensions

ITEM_12 = [
    ("name", chunks(b"1;a\r\nx\r\n0\r\n\r\n"), OK),
    ("name=token", chunks(b"1;a=b\r\nx\r\n0\r\n\r\n"), OK),
    ("several", chunks(b"1;a=b;c;d=e\r\nx\r\n0\r\n\r\n"), OK),
    ("BWS", chunks(b"1 ; a = b\t;\tc\r\nx\r\n0\r\n\r\n"), OK),
    ("quoted string", chunks(b'1;a="b c;d=\\"e\\\\"\r\nx\r\n0\r\n\r\n'), OK),
    ("on the last chunk", chunks(b"1\r\nx\r\n0;a=b\r\n\r\n"), OK),
    ("bare CR", chunks(b"1;a\rb\r\nx\r\n0\r\n\r\n"), 400),
    ("bare LF", chunks(b"1;a\nb\r\nx\r\n0\r\n\r\n"), 400),
    ("empty extension", chunks(b"1;\r\nx\r\n0\r\n\r\n"), 400),
    ("double semicolon", chunks(b"1;;a\r\nx\r\n0\r\n\r\n"), 400),
    ("empty value", chunks(b"1;a=\r\nx\r\n0\r\n\r\n"), 400),
    ("space inside name", chunks(b"1;a b\r\nx\r\n0\r\n\r\n"), 400),
    ("non-token name", chunks(b"1;@=b\r\nx\r\n0\r\n\r\n"), 400),
    ("non-token value", chunks(b"1;a=b@c\r\nx\r\n0\r\n\r\n"), 400),
    ("unterminated quoted string", chunks(b'1;a="b\r\nx\r\n0\r\n\r\n'), 400),
    ("CTL in quoted string", chunks(b'1;a="\x01"\r\nx\r\n0\r\n\r\n'), 400),
    ("backslash ending quoted string", chunks(b'1;a="\\"\r\nx\r\n0\r\n\r\n'), 400),
    ("NUL", chunks(b"1;a\x00\r\nx\r\n0\r\n\r\n"), 400),
    ("no separator", chunks(b"1a=b\r\nx\r\n0\r\n\r\n"), 400),
    ("over max_chunk_line", chunks(b"1;" + b"a" * 4095 + b"\r\nx\r\n0\r\n\r\n"), 400),
    ("over max_chunk_line, incomplete", chunks(b"1;" + b"a" * 5000), 400),
    ("many empty extensions (no backtracking)", chunks(b"1" + b";" * 4000 + b"\r\n"), 400),
    ("long quoted run (no backtracking)", chunks(b'1;a="' + b"\\a" * 2000 + b"\r\n"), 400),
    ("long BWS run (no backtracking)", chunks(b"1" + b" \t" * 2000 + b"x\r\n"), 400),
]


@table(ITEM_12)
def test_item_12_chunk_extensions(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    events = parse_all(wire.RequestParser(), data)
    assert isinstance(events[0], Request)
    if status is OK:
        assert events[1:] == [b"x", EndOfMessage()]
    else:
        assert isinstance(events[-1], tuple) and events[-1][1] == status, events
    for split in range(len(CHUNKED_HEAD), min(len(data), len(CHUNKED_HEAD) + 40) + 1):
        assert parse_all(wire.RequestParser(), data, split=split) == events, split


# -- 13. Chunk data framing and truncation

ITEM_13 = [
    ("data longer than its size", chunks(b"1\r\nxx\r\n0\r\n\r\n"), False, 400),
    ("no CRLF after data", chunks(b"3\r\nabc0\r\n\r\n"), False, 400),
    ("only CR after data", chunks(b"3\r\nabc\r0\r\n\r\n"), False, 400),
    ("only LF after data", chunks(b"3\r\nabc\n0\r\n\r\n"), False, 400),
    ("LF CR after data", chunks(b"3\r\nabc\n\r0\r\n\r\n"), False, 400),
    ("eof after 0 CRLF", chunks(b"3\r\nabc\r\n0\r\n"), True, 400),
    ("eof after 0 CRLF CR", chunks(b"3\r\nabc\r\n0\r\n\r"), True, 400),
    ("eof after 0", chunks(b"0"), True, 400),
    ("eof inside chunk data", chunks(b"3\r\nab"), True, 400),
    ("eof after chunk data", chunks(b"3\r\nabc"), True, 400),
    ("eof after chunk data and CR", chunks(b"3\r\nabc\r"), True, 400),
    ("eof inside a size line", chunks(b"3"), True, 400),
    ("eof right after the head", chunks(b""), True, 400),
    ("eof inside a trailer", chunks(b"0\r\nX: y"), True, 400),
    ("eof inside a fixed body", head(b"Content-Length: 5", line=b"POST / HTTP/1.1\r\n") + b"abc",
     True, 400),
    ("complete", chunks(b"3\r\nabc\r\n0\r\n\r\n"), True, OK),
]


@pytest.mark.parametrize(("data", "eof", "status"), [r[1:] for r in ITEM_13],
                         ids=[r[0] for r in ITEM_13])
def test_item_13_chunk_framing(
    wire: SimpleNamespace, data: bytes, eof: bool, status: int | None
) -> None:
    events = run(wire, data, status, eof=eof)
    if status is OK:
        assert events[-1] == EndOfMessage()


def test_item_13_without_eof_a_truncated_body_waits(wire: SimpleNamespace) -> None:
    assert parse_all(wire.RequestParser(), chunks(b"3\r\nabc\r\n0\r\n"))[-1] is None


# -- 14. Trailers

FORBIDDEN = [b"Host", b"Content-Length", b"TE", b"Transfer-Encoding", b"Trailer",
             b"Authorization", b"host", b"CONTENT-LENGTH", b"te", b"transfer-encoding",
             b"Cookie", b"Set-Cookie", b"Connection", b"Content-Type", b"Expect", b"Upgrade"]

ITEM_14 = [
    *[(f"forbidden {name.decode()}", chunks(b"0\r\n" + name + b": v\r\n\r\n"), 400)
      for name in FORBIDDEN],
    ("forbidden after an allowed one", chunks(b"0\r\nX: 1\r\nHost: evil\r\n\r\n"), 400),
    ("space before colon", chunks(b"0\r\nX : 1\r\n\r\n"), 400),
    ("obs-fold", chunks(b"0\r\nX: 1\r\n 2\r\n\r\n"), 400),
    ("NUL in a value", chunks(b"0\r\nX: \x00\r\n\r\n"), 400),
    ("empty name", chunks(b"0\r\n: 1\r\n\r\n"), 400),
    ("allowed", chunks(b"0\r\nX-Checksum: abc\r\nServer-Timing: t;dur=1\r\n\r\n"), OK),
]


@table(ITEM_14)
def test_item_14_trailers(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status)


def test_item_14_trailers_are_never_merged_into_headers(wire: SimpleNamespace) -> None:
    data = chunks(b"2\r\nhi\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n")
    events = parse_all(wire.RequestParser(), data)
    request, body, end = events
    assert body == b"hi"
    assert request.headers.to_list() == [("Host", "h"), ("Transfer-Encoding", "chunked")]
    assert "X-Trailer" not in request.headers
    assert end.trailers == Headers([("X-Trailer", "1"), ("X-Other", "2")])


def test_item_14_trailers_are_bounded(wire: SimpleNamespace) -> None:
    config = Config(max_trailers=3, max_trailer_size=64)
    many = chunks(b"0\r\n" + b"X: 1\r\n" * 4 + b"\r\n")
    run(wire, many, 431, config=config)
    big = chunks(b"0\r\nX: " + b"v" * 60 + b"\r\n\r\n")
    run(wire, big, 431, config=config)
    endless = chunks(b"0\r\n" + b"X: 1\r\n" * 3 + b"Y: " + b"v" * 50)
    run(wire, endless, 431, config=config)


def test_forbidden_trailers_constant(wire: SimpleNamespace) -> None:
    names = wire.parser.FORBIDDEN_TRAILERS
    for name in [b"host", b"content-length", b"te", b"transfer-encoding", b"trailer",
                 b"authorization"]:
        assert name.decode() in names


# -- 18. Limits

SMALL = Config(max_request_line=64, max_field_size=64, max_head_size=256, max_headers=4,
               max_body_size=16, max_chunk_line=32, max_trailer_size=64, max_trailers=2)

ITEM_18 = [
    ("start line", b"GET /" + b"a" * 60 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    ("start line, never ending", b"GET /" + b"a" * 100, 414),
    ("single field", head(b"X: " + b"v" * 62), 431),
    ("single field, never ending", GET + HOST + b"X: " + b"v" * 100, 431),
    ("header block", head(*[b"X: " + b"v" * 55] * 4), 431),
    ("header count", head(b"A: 1", b"B: 2", b"C: 3", b"D: 4"), 431),
    ("header count, each tiny", GET + HOST + b"A:\r\n" * 10 + b"\r\n", 431),
    ("body by Content-Length", head(b"Content-Length: 17", line=b"POST / HTTP/1.1\r\n"), 413),
    ("body by chunks", chunks(b"10\r\n" + b"x" * 16 + b"\r\n1\r\n"), 413),
    ("chunk line", chunks(b"1;" + b"e" * 40 + b"\r\n"), 400),
    ("trailer count", chunks(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), 431),
    ("trailer size", chunks(b"0\r\nA: " + b"v" * 40 + b"\r\nB: " + b"v" * 40 + b"\r\n\r\n"), 431),
    ("within every limit", chunks(b"10\r\n" + b"x" * 16 + b"\r\n0\r\nA: 1\r\n\r\n"), OK),
]


@table(ITEM_18)
def test_item_18_limits(wire: SimpleNamespace, data: bytes, status: int | None) -> None:
    run(wire, data, status, config=SMALL)


def test_item_18_many_repeated_fields_are_kept_not_merged(wire: SimpleNamespace) -> None:
    config = Config(max_headers=5000, max_head_size=200_000)
    data = head(*[b"X-Dup: " + str(i).encode() for i in range(4000)])
    (request, _) = parse_all(wire.RequestParser(config), data)
    assert request.headers.get_all("x-dup") == [str(i) for i in range(4000)]


def test_item_18_limits_are_checked_before_waiting(wire: SimpleNamespace) -> None:
    # A peer that never ends a line is refused as soon as the limit is reached, not
    # when it finally stops sending.
    parser = wire.RequestParser(SMALL)
    assert parser.parse(b"GET /" + b"a" * 58) is None
    with pytest.raises(ParseError) as info:
        parser.parse(b"GET /" + b"a" * 59)
    assert info.value.status == 414


def test_response_side_close_delimited_is_not_a_request_thing(wire: SimpleNamespace) -> None:
    # Requests are never close-delimited: no length means no body.
    parser = wire.RequestParser()
    events = parse_all(parser, b"POST / HTTP/1.1\r\nHost: h\r\n\r\n", eof=True)
    assert isinstance(events[0], Request) and parser.body_length == 0
    assert parser.body_length != CLOSE_DELIMITED
