"""Response cases from public parser corpora, written anew for our response parser.

Each case restates a fact from llhttp's ``test/response/*.md`` (cited as ``llhttp
<file>: <title>``) or nodejs/http-parser's ``test.c`` (``http-parser: <name>``) with
our own bytes and expectations, checked in both implementations (``wire`` fixture),
in one read and at every split of the input. Where we decide otherwise the case says
``DIFF`` and why: the client distrusts servers (SECURITY.md, "What the client
refuses"), so framing that RFC 9112 calls faulty or ambiguous is an error here even where those parsers read on.

A case expects a list of outcomes: ``Msg(status, body, keep_alive)`` per response
(``body`` is ``None`` for a head after which the parser waits for more, ``upgrade``
for a head that hands the connection over), then ``Err(fragment)`` for an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from httpaf.model.config import Config
from httpaf.model.errors import ParseError
from httpaf.model.message import EndOfMessage, Response


@dataclass(frozen=True)
class Msg:
    status: int
    body: bytes | None = b""
    keep_alive: bool | None = None  # None: not checked
    upgrade: bool = False
    reason: str | None = None  # None: not checked


@dataclass(frozen=True)
class Err:
    fragment: str  # a part of the error message


def outcomes(parser: Any, pieces: list[bytes], eof: bool) -> list[Any]:
    """Drive ``parser`` over ``pieces`` as a runtime would; the outcomes it reached."""
    out: list[Any] = []
    pending = bytearray()
    body: list[bytes] | None = None
    head: Response | None = None
    attrs: tuple[bool, bool] = (True, False)

    def close_message(done: bool) -> None:
        nonlocal head, body
        if head is not None:
            data = b"".join(body or []) if done else None
            out.append(Msg(int(head.status), data, attrs[0], attrs[1], head.reason))
        head, body = None, None

    for i, piece in enumerate(pieces):
        pending += piece
        last = eof and i == len(pieces) - 1
        pos = 0
        while True:
            try:
                event = parser.parse(pending, pos, len(pending), last)
            except ParseError as error:
                close_message(False)
                out.append(("error", error.message))
                return out
            pos += parser.consumed
            if event is None:
                break
            if isinstance(event, Response):
                head, body = event, []
                attrs = (parser.keep_alive, parser.upgrade)
                if parser.upgrade:
                    close_message(True)
                    return out  # the rest is another protocol's
                if parser.body_length == 0:
                    close_message(True)
            elif isinstance(event, memoryview):
                assert body is not None
                body.append(bytes(event))
            elif isinstance(event, EndOfMessage):
                close_message(True)
        del pending[:pos]
    close_message(False)
    return out


def matches(got: list[Any], expected: list[Any]) -> bool:
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected, strict=True):
        if isinstance(e, Err):
            if not (isinstance(g, tuple) and e.fragment in g[1]):
                return False
        elif not isinstance(g, Msg):
            return False
        else:
            if (g.status, g.body, g.upgrade) != (e.status, e.body, e.upgrade):
                return False
            if e.keep_alive is not None and g.keep_alive != e.keep_alive:
                return False
            if e.reason is not None and g.reason != e.reason:
                return False
    return True


def crlf(text: str) -> bytes:
    """Lines as written in a corpus: each ``\\n`` becomes CRLF."""
    return text.replace("\n", "\r\n").encode("latin-1")


# (name, bytes, request method, eof, expected outcomes)
CASES: list[tuple[str, bytes, str, bool, list[Any]]] = [
    # -- llhttp connection.md / http-parser responses -----------------------------------
    ("llhttp connection: Proxy-Connection; http-parser: proxy connection",
     crlf("HTTP/1.1 200 OK\nContent-Type: text/html\nContent-Length: 11\n"
          "Proxy-Connection: close\n\n") + b"hello world",
     "GET", False, [Msg(200, b"hello world", keep_alive=True)]),
    ("llhttp connection: HTTP/1.0 with keep-alive and EOF-terminated 200 status",
     crlf("HTTP/1.0 200 OK\nConnection: keep-alive\n\nHTTP/1.0 200 OK"),
     "GET", True, [Msg(200, b"HTTP/1.0 200 OK", keep_alive=False)]),
    ("llhttp connection: HTTP/1.0 with keep-alive and 204 status",
     crlf("HTTP/1.0 204 No content\nConnection: keep-alive\n\n"
          "HTTP/1.0 200 OK\nContent-Length: 0\n\n"),
     "GET", False, [Msg(204, keep_alive=True), Msg(200, keep_alive=False)]),
    ("llhttp connection: HTTP/1.1 with EOF-terminated 200 status",
     crlf("HTTP/1.1 200 OK\n\nHTTP/1.1 200 OK"),
     "GET", True, [Msg(200, b"HTTP/1.1 200 OK", keep_alive=False)]),
    ("llhttp connection: HTTP/1.1 with 204 status",
     crlf("HTTP/1.1 204 No content\n\nHTTP/1.1 200 OK\nContent-Length: 1\n\nx"),
     "GET", False, [Msg(204, keep_alive=True), Msg(200, b"x", keep_alive=True)]),
    ("llhttp connection: HTTP/1.1 with keep-alive disabled and 204 status",
     crlf("HTTP/1.1 204 No content\nConnection: close\n\n"),
     "GET", False, [Msg(204, keep_alive=False)]),
    ("llhttp connection: HTTP/1.1 with keep-alive disabled, content-length",
     crlf("HTTP/1.1 200 No content\nContent-Length: 5\nConnection: close\n\n") + b"2ad73",
     "GET", False, [Msg(200, b"2ad73", keep_alive=False)]),
    # DIFF: llhttp and http-parser read a 101's Content-Length or chunked body before
    # the new protocol; RFC 9110 §8.6 forbids framing fields in a 1xx, and which bytes
    # belong to which protocol is then a guess: refused.
    ("llhttp connection: HTTP 101 response with Upgrade and Content-Length header",
     crlf("HTTP/1.1 101 Switching Protocols\nConnection: upgrade\nUpgrade: h2c\n"
          "Content-Length: 4\n\n") + b"bodyproto",
     "GET", False, [Err("framing fields in a 101 response")]),
    ("llhttp connection: HTTP 101 response with Upgrade and Transfer-Encoding header",
     crlf("HTTP/1.1 101 Switching Protocols\nConnection: upgrade\nUpgrade: h2c\n"
          "Transfer-Encoding: chunked\n\n2\nbo\n2\ndy\n0\n\n") + b"proto",
     "GET", False, [Err("framing fields in a 101 response")]),
    ("http-parser: HTTP 101 response with Upgrade header",
     crlf("HTTP/1.1 101 Switching Protocols\nConnection: upgrade\nUpgrade: h2c\n\n")
     + b"proto",
     "GET", False, [Msg(101, upgrade=True)]),
    ("llhttp connection: HTTP 200 response with Upgrade header",
     crlf("HTTP/1.1 200 OK\nConnection: upgrade\nUpgrade: h2c\n\n") + b"body",
     "GET", True, [Msg(200, b"body", keep_alive=False)]),
    ("llhttp connection: HTTP 200 response with Upgrade header and Content-Length",
     crlf("HTTP/1.1 200 OK\nConnection: upgrade\nUpgrade: h2c\nContent-Length: 4\n\n")
     + b"body",
     "GET", False, [Msg(200, b"body", keep_alive=True)]),
    ("llhttp connection: HTTP 200 response with Upgrade header and Transfer-Encoding",
     crlf("HTTP/1.1 200 OK\nConnection: upgrade\nUpgrade: h2c\nTransfer-Encoding: chunked\n\n"
          "2\nbo\n2\ndy\n0\n\n"),
     "GET", False, [Msg(200, b"body", keep_alive=True)]),
    ("llhttp connection: HTTP 304 with Content-Length",
     crlf("HTTP/1.1 304 Not Modified\nContent-Length: 10\n\n"
          "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"),
     "GET", False, [Msg(304), Msg(200, b"hello")]),
    # DIFF: llhttp skips an empty line between two responses (its 304 and 100 cases
    # have one); RFC 9112 §2.2 asks that robustness of servers only: refused.
    ("llhttp connection: an empty line between responses",
     crlf("HTTP/1.1 304 Not Modified\nContent-Length: 10\n\n\n"
          "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"),
     "GET", False, [Msg(304), Err("status line")]),
    ("llhttp connection: HTTP 304 with Transfer-Encoding",
     crlf("HTTP/1.1 304 Not Modified\nTransfer-Encoding: chunked\n\n"
          "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n"),
     "GET", False, [Msg(304), Msg(200, b"hello")]),
    ("llhttp connection: HTTP 100 first, then 400",
     crlf("HTTP/1.1 100 Continue\n\nHTTP/1.1 404 Not Found\n"
          "Content-Type: text/plain; charset=utf-8\nContent-Length: 14\n\n") + b"404: Not Found",
     "GET", False, [Msg(100), Msg(404, b"404: Not Found")]),
    ("llhttp connection: HTTP 103 first, then 200",
     crlf("HTTP/1.1 103 Early Hints\nLink: </styles.css>; rel=preload; as=style\n\n"
          "HTTP/1.1 200 OK\nConnection: keep-alive\nKeep-Alive: timeout=5\n"
          "Content-Length: 16\n\nresponse content"),
     "GET", False, [Msg(103, reason="Early Hints"), Msg(200, b"response content")]),
    # -- llhttp content-length.md -----------------------------------------------------
    ("llhttp content-length: Response without Content-Length, but with body",
     crlf("HTTP/1.1 200 OK\nServer: Apache\nContent-Type: text/xml; charset=utf-8\n"
          "Connection: close\n\n<?xml version=\"1.0\"?>\n<Envelope/>"),
     "GET", True, [Msg(200, b'<?xml version="1.0"?>\r\n<Envelope/>', keep_alive=False)]),
    ("llhttp content-length: Content-Length-X; http-parser: Content-Length-X",
     crlf("HTTP/1.1 200 OK\nContent-Length-X: 0\nTransfer-Encoding: chunked\n\n2\nOK\n0\n\n"),
     "GET", False, [Msg(200, b"OK", keep_alive=True)]),
    ("llhttp content-length: Content-Length reset when no body is received",
     crlf("HTTP/1.1 200 OK\nContent-Length: 123\n\nHTTP/1.1 200 OK\nContent-Length: 456\n\n"),
     "HEAD", False, [Msg(200), Msg(200)]),
    ("llhttp content-length: Tabs in Content-Length (surrounding)",
     crlf("HTTP/1.1 200 OK\nContent-Length:\t4\t\n\n") + b"abcd",
     "GET", False, [Msg(200, b"abcd")]),
    ("http-parser: test_double_content_length_error",
     crlf("HTTP/1.1 200 OK\nContent-Length: 0\nContent-Length: 1\n\n"),
     "GET", False, [Err("multiple Content-Length")]),
    ("http-parser: test_chunked_content_length_error",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: anything\nContent-Length: 1\n\n"),
     "GET", False, [Err("both Transfer-Encoding and Content-Length")]),
    ("http-parser: test_header_content_length_overflow_error (19 digits)",
     crlf("HTTP/1.1 200 OK\nContent-Length: 1844674407370955160\n\n") + b"x",
     "GET", False, [Msg(200, None)]),
    ("http-parser: test_header_content_length_overflow_error (2^64 - 1)",
     crlf("HTTP/1.1 200 OK\nContent-Length: 18446744073709551615\n\n"),
     "GET", False, [Err("invalid Content-Length")]),
    ("http-parser: test_chunk_content_length_overflow_error (2^64 / 16 - 1)",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nFFFFFFFFFFFFFFE\n") + b"...",
     "GET", False, [Msg(200, None)]),
    ("http-parser: test_chunk_content_length_overflow_error (2^64)",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n10000000000000000\n") + b"...",
     "GET", False, [Msg(200, None), Err("chunk-size line")]),
    # -- llhttp finish.md -------------------------------------------------------------
    ("llhttp finish: It should be safe to finish with cb after empty response",
     crlf("HTTP/1.1 200 OK\n\n"), "GET", True, [Msg(200, b"", keep_alive=False)]),
    # -- llhttp invalid.md ------------------------------------------------------------
    ("llhttp invalid: Incomplete HTTP protocol", crlf("HTP/1.1 200 OK\n\n"), "GET", False,
     [Err("HTTP version")]),
    ("llhttp invalid: Extra digit in HTTP major version", crlf("HTTP/01.1 200 OK\n\n"),
     "GET", False, [Err("")]),
    ("llhttp invalid: Extra digit in HTTP major version #2", crlf("HTTP/11.1 200 OK\n\n"),
     "GET", False, [Err("")]),
    ("llhttp invalid: Extra digit in HTTP minor version", crlf("HTTP/1.01 200 OK\n\n"),
     "GET", False, [Err("")]),
    ("llhttp invalid: Tab after HTTP version", crlf("HTTP/1.1\t200 OK\n\n"), "GET", False,
     [Err("")]),
    ("llhttp invalid: CR before response and tab after HTTP version",
     b"\rHTTP/1.1\t200 OK\r\n\r\n", "GET", False, [Err("")]),
    ("llhttp invalid: Headers separated by CR", b"HTTP/1.1 200 OK\r\nFoo: 1\rBar: 2\r\n\r\n",
     "GET", False, [Err("bare CR")]),
    ("llhttp invalid: Bare CR after response line",
     b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", "GET", False, [Err("")]),
    ("llhttp invalid: Bare CR followed by CR after response line",
     b"HTTP/1.1 200 OK\r\rContent-Length: 4\r\n\r\nEvil", "GET", False, [Err("")]),
    ("llhttp invalid: Invalid HTTP version", crlf("HTTP/5.6 200 OK\n\n"), "GET", False,
     [Err("unsupported HTTP version")]),
    ("llhttp invalid: Invalid space after start line",
     crlf("HTTP/1.1 200 OK\n Host: foo\n\n"), "GET", False, [Err("obsolete line folding")]),
    ("llhttp invalid: Extra space between HTTP version and status code",
     crlf("HTTP/1.1  200 OK\n\n"), "GET", False, [Err("")]),
    # DIFF: llhttp refuses a second space; RFC 9112 §4's reason-phrase may start with
    # SP, so the reason is " OK".
    ("llhttp invalid: Extra space between status code and reason",
     crlf("HTTP/1.1 200  OK\nContent-Length: 0\n\n"), "GET", False,
     [Msg(200, reason=" OK")]),
    ("llhttp invalid: One-digit status code", crlf("HTTP/1.1 2 OK\n\n"), "GET", False,
     [Err("status-code")]),
    ("llhttp invalid: Only LFs present and no body", b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
     "GET", False, [Err("")]),
    ("llhttp invalid: Only LFs present", b"HTTP/1.1 200 OK\nFoo: abc\nBar: def\n\nBODY\n",
     "GET", True, [Err("")]),
    # -- llhttp sample.md / http-parser responses --------------------------------------
    ("llhttp sample: Simple response",
     crlf("HTTP/1.1 200 OK\nHeader1: Value1\nHeader2:\t Value2\nContent-Length: 0\n\n"),
     "GET", False, [Msg(200, keep_alive=True)]),
    # DIFF: RTSP and ICE are not HTTP.
    ("llhttp sample: RTSP response", crlf("RTSP/1.1 200 OK\n\n"), "GET", False,
     [Err("HTTP version")]),
    ("llhttp sample: ICE response", crlf("ICE/1.1 200 OK\n\n"), "GET", False,
     [Err("HTTP version")]),
    ("llhttp sample: Error on invalid response start", crlf("HTTPER/1.1 200 OK\n\n"), "GET",
     False, [Err("")]),
    ("llhttp sample: Google 301; http-parser: google 301",
     crlf("HTTP/1.1 301 Moved Permanently\nLocation: http://www.google.com/\n"
          "X-$PrototypeBI-Version: 1.6.0.3\nContent-Length:  7  \n\n") + b"<HTML/>",
     "GET", False, [Msg(301, b"<HTML/>", keep_alive=True)]),
    ("llhttp sample: amazon.com; http-parser: amazon.com",
     crlf("HTTP/1.1 301 MovedPermanently\nVary: Accept-Encoding,User-Agent\n"
          "Transfer-Encoding: chunked\n\n1\n") + b"\n\r\n0\r\n\r\n",
     "GET", False, [Msg(301, b"\n", keep_alive=True)]),
    ("llhttp sample: No headers and no body; http-parser: 404 no headers no body",
     crlf("HTTP/1.1 404 Not Found\n\n"), "GET", True, [Msg(404, b"", keep_alive=False)]),
    # DIFF: RFC 9112 §4: "A server MUST send the space that separates the status-code
    # from the reason-phrase even when the reason-phrase is absent."
    ("llhttp sample: No reason phrase; http-parser: 301 no response phrase",
     crlf("HTTP/1.1 301\n\n"), "GET", True, [Err("missing space after status-code")]),
    ("llhttp sample: Empty reason phrase after space; http-parser: the same",
     crlf("HTTP/1.1 200 \n\n"), "GET", True, [Msg(200, b"", reason="")]),
    ("llhttp sample: No carriage ret; http-parser: no carriage ret",
     b"HTTP/1.1 200 OK\nContent-Type: text/html\nConnection: close\n\nthese headers",
     "GET", True, [Err("")]),
    ("llhttp sample: Underscore in header key; http-parser: underscore header key",
     crlf("HTTP/1.1 200 OK\nServer: DCLK-AdSvr\nContent-Length: 0\n"
          "DCLK_imp: v7;x;114750856;0-0;0;17820020;0/0;;~okv=;dcmt=text/xml;;~cs=o\n\n"),
     "GET", False, [Msg(200, keep_alive=True)]),
    ("llhttp sample: bonjourmadame.fr; http-parser: bonjourmadame.fr",
     crlf("HTTP/1.0 301 Moved Permanently\nServer: Apache/2.2.3 (Red Hat)\nPragma: \n"
          "Location: http://www.bonjourmadame.fr/\nContent-Length: 0\n"
          "Connection: keep-alive\n\n"),
     "GET", False, [Msg(301, keep_alive=True)]),
    ("llhttp sample: Spaces in header value; http-parser: field space",
     crlf("HTTP/1.1 200 OK\nServer: Apache\n.et-Cookie: PlaxoCS=1274804622353690521\n"
          "_eep-Alive: timeout=45\n_onnection: Keep-Alive\nTransfer-Encoding: chunked\n"
          "Connection: close\n\n0\n\n"),
     "GET", False, [Msg(200, b"", keep_alive=False)]),
    ("llhttp sample: Spaces in header name",
     crlf("HTTP/1.1 200 OK\nServer: Microsoft-IIS/6.0\nen-US Content-Type: text/xml\n"
          "Content-Length: 16\n\n<xml>hello</xml>"),
     "GET", False, [Err("field name")]),
    ("llhttp sample: Non ASCII in status line; http-parser: non-ASCII in status line",
     "HTTP/1.1 500 Oriëntatieprobleem\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
     .encode(), "GET", False,
     [Msg(500, keep_alive=False, reason="Oriëntatieprobleem".encode().decode("latin-1"))]),
    # DIFF: HTTP/0.9 has no status line at all; a "HTTP/0.9" one is not HTTP/1.x.
    ("llhttp sample: HTTP version 0.9; http-parser: http version 0.9",
     crlf("HTTP/0.9 200 OK\n\n"), "GET", True, [Err("unsupported HTTP version")]),
    ("llhttp sample: No Content-Length, no Transfer-Encoding; http-parser: neither "
     "content-length nor transfer-encoding response",
     crlf("HTTP/1.1 200 OK\nContent-Type: text/plain\n\nhello world\n"),
     "GET", True, [Msg(200, b"hello world\r\n", keep_alive=False)]),
    # DIFF: llhttp skips a CRLF before a status line (RFC 9112 §2.2 asks it of servers).
    ("llhttp sample: Response starting with CRLF",
     crlf("\nHTTP/1.1 200 OK\nContent-Length: 0\n\n"), "GET", False, [Err("")]),
    # -- llhttp transfer-encoding.md / http-parser ------------------------------------
    ("llhttp transfer-encoding: Trailing space on chunked body; http-parser: 200 "
     "trailing space on chunked body",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n25  \n") + b"x" * 37,
     "GET", False, [Msg(200, None), Err("chunk-size line")]),
    ("llhttp transfer-encoding: `chunked` before other transfer-encoding",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked, deflate\n\nWorld"),
     "GET", True, [Msg(200, b"World", keep_alive=False)]),
    ("llhttp transfer-encoding: multiple transfer-encoding where chunked is not the last "
     "one; http-parser: HTTP 200 response with `chunked` being *not last* "
     "Transfer-Encoding",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nTransfer-Encoding: identity\n\nWorld"),
     "GET", True, [Msg(200, b"World", keep_alive=False)]),
    ("llhttp transfer-encoding: `chunkedchunked` transfer-encoding does not enable "
     "chunked enconding",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunkedchunked\n\n2\nOK\n0\n\n"),
     "GET", True, [Msg(200, b"2\r\nOK\r\n0\r\n\r\n", keep_alive=False)]),
    ("llhttp transfer-encoding: Chunk extensions",
     crlf("HTTP/1.1 200 OK\nTransfer-encoding: chunked\n\n"
          "5;ilovew3;somuchlove=aretheseparametersfor\nhello\n6;blahblah;blah\n world\n0\n\n"),
     "GET", False, [Msg(200, b"hello world")]),
    ("llhttp transfer-encoding: No semicolon before chunk extensions",
     crlf("HTTP/1.1 200 OK\nTransfer-encoding: chunked\n\n2 erfrferferf\naa\n0 rrrr\n\n"),
     "GET", False, [Msg(200, None), Err("chunk-size line")]),
    ("llhttp transfer-encoding: No extension after semicolon",
     crlf("HTTP/1.1 200 OK\nTransfer-encoding: chunked\n\n2;\naa\n0\n\n"),
     "GET", False, [Msg(200, None), Err("chunk-size line")]),
    ("llhttp transfer-encoding: Chunk extensions quoting",
     crlf('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n'
          '5;ilovew3="I love; extensions";somuchlove="aretheseparametersfor";blah;foo=bar\n'
          'hello\n6;blahblah;blah\n world\n0\n\n'),
     "GET", False, [Msg(200, b"hello world")]),
    ("llhttp transfer-encoding: Unbalanced chunk extensions quoting",
     crlf('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n'
          '5;ilovew3="abc";somuchlove="def; ghi\nhello\n0\n\n'),
     "GET", False, [Msg(200, None), Err("chunk-size line")]),
    # DIFF: llhttp takes this fold only in a lenient mode; RFC 9112 §5.2 lets a user
    # agent replace obs-fold by SP, and we refuse it outright.
    ("llhttp transfer-encoding: Invalid OBS fold after chunked value",
     crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n  abc\n\n5\nWorld\n0\n\n"),
     "GET", False, [Err("obsolete line folding")]),
    # -- llhttp pipelining.md ---------------------------------------------------------
    ("llhttp pipelining: Should parse multiple events",
     crlf("HTTP/1.1 200 OK\nContent-Length: 3\n\nAAA"
          "HTTP/1.1 201 Created\nContent-Length: 4\n\nBBBB"
          "HTTP/1.1 202 Accepted\nContent-Length: 5\n\nCCCC"),
     "GET", False, [Msg(200, b"AAA"), Msg(201, b"BBBB"), Msg(202, None)]),
    # -- http-parser's other response checks --------------------------------------------
    ("http-parser: test_header_cr_no_lf_error",
     b"HTTP/1.1 200 OK\r\nFoo: 1\rBar: 1\r\n\r\n", "GET", False, [Err("bare CR")]),
    ("http-parser: test_invalid_header_field_content_error",
     b"HTTP/1.1 200 OK\r\nFoo: F\x01ailure\r\n\r\n", "GET", False,
     [Err("invalid character")]),
    ("http-parser: test_invalid_header_field_token_error",
     b"HTTP/1.1 200 OK\r\nFo@: Failure\r\n\r\n", "GET", False, [Err("field name")]),
    ("http-parser: test_no_overflow_long_body",
     crlf("HTTP/1.0 200 OK\nConnection: Keep-Alive\nContent-Length: 300\n\n") + b"a" * 300
     + crlf("HTTP/1.0 200 OK\nConnection: Keep-Alive\nContent-Length: 0\n\n"),
     "GET", False, [Msg(200, b"a" * 300, keep_alive=True), Msg(200, keep_alive=True)]),
]


@pytest.mark.parametrize(("data", "method", "eof", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_corpus_case(
    wire: SimpleNamespace, data: bytes, method: str, eof: bool, expected: list[Any]
) -> None:
    def parser() -> Any:
        p = wire.ResponseParser()
        p.request_method = method
        return p

    whole = outcomes(parser(), [data], eof)
    assert matches(whole, expected), whole
    for split in range(1, len(data)):
        assert outcomes(parser(), [data[:split], data[split:]], eof) == whole, split


def test_http_parser_header_overflow(wire: SimpleNamespace) -> None:
    """http-parser: test_header_overflow_error: an endless head hits a limit."""
    parser = wire.ResponseParser(Config())
    pending = bytearray(b"HTTP/1.0 200 OK\r\n")
    with pytest.raises(ParseError) as info:
        for _ in range(10_000):
            pending += b"header-key: header-value\r\n"
            assert parser.parse(pending, 0, len(pending)) is None
            del pending[: parser.consumed]
    assert "too" in info.value.message  # too many fields, or too large
