"""Differential tests: the Cython and pure wire layers must agree on every input.

Hypothesis generates requests, responses and chunked bodies (well-formed ones and
mutations of them), splits them into reads at random points, and feeds the same reads
to both parsers; the same sequences of writes go to both serializers. Any difference
in events, consumed counts, output bytes or errors fails. ``HTTPAF_FUZZ_EXAMPLES``
sets how many examples each test runs (CI keeps it small).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest
from fuzz import harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from httpaf.model.config import Config
from httpaf.model.errors import StateError
from httpaf.model.headers import Headers
from httpaf.model.message import Request, Response
from httpaf.model.version import HTTP_1_0, HTTP_1_1, Version

try:
    CY_PARSER: Any = importlib.import_module("httpaf._parser")
    CY_SERIALIZER: Any = importlib.import_module("httpaf._serializer")
except ImportError:
    pytest.skip("the Cython extensions are not built", allow_module_level=True)

PY_PARSER: Any = importlib.import_module("httpaf._parser_pure")
PY_SERIALIZER: Any = importlib.import_module("httpaf._serializer_pure")

EXAMPLES = int(os.environ.get("HTTPAF_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The small limits and the runtime-like driver are the fuzzer's (tests/fuzz/harness.py).
SMALL = harness.SMALL
CONFIGS = [Config(), SMALL]
run_parser = harness.run_parser


def both_parse(kind: str, config: Config, reads: list[bytes], eof: bool, method: str = "GET") -> None:
    cls = "RequestParser" if kind == "request" else "ResponseParser"
    results = []
    for module in (PY_PARSER, CY_PARSER):
        parser = getattr(module, cls)(config)
        if kind == "response":
            parser.request_method = method
        results.append(run_parser(parser, reads, eof))
    assert results[0] == results[1]


# -- inputs ---------------------------------------------------------------------------

TOKEN = st.text("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)
VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
FIELD_NAMES = st.sampled_from(
    ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Upgrade", "X-A", "host", "TE", "Trailer"]
) | TOKEN
FIELD_VALUES = st.sampled_from(
    ["x", "5", "0", "chunked", "gzip, chunked", "close", "keep-alive", "Upgrade", "100-continue", " 3 ", "", "05"]
) | VALUE

# Response framing: the names and values that decide it, in odd cases and spellings.
FRAMING_NAMES = st.sampled_from(
    ["Content-Length", "content-length", "CONTENT-LENGTH", "Transfer-Encoding",
     "transfer-encoding", "Connection", "CONNECTION", "X-Other-Field-17", "Content-Lengtx",
     "Cont\u0130nt-Length", "Conn\xe9ction", "Date", "date", "DATE", "Dat\xe9"]
)
FRAMING_VALUES = st.sampled_from(
    ["5", "0", "05", "12", " 5", "5 ", "", "1,1", "99999999999999999999", "9223372036854775807",
     "9223372036854775808", "\xb9", "chunked", "CHUNKED", "gzip, chunked", "chunked, gzip",
     "chunked,", " chunked\t", "close", "Close", "keep-alive", "upgrade, close", "keep-alive ,x",
     ",", "\u0100", "cl\x00ose"]
) | VALUE


@st.composite
def fields(draw: Any) -> bytes:
    pairs = draw(st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=6))
    return b"".join(f"{n}: {v}\r\n".encode("latin-1") for n, v in pairs)


@st.composite
def chunked_body(draw: Any) -> bytes:
    out = b""
    for data in draw(st.lists(st.binary(min_size=1, max_size=40), max_size=4)):
        ext = draw(st.sampled_from(["", ";a", ";a=b", ';a="q"', " ;x"]))
        out += b"%x%s\r\n%s\r\n" % (len(data), ext.encode(), data)
    out += b"0\r\n" + draw(st.sampled_from([b"", b"X-T: 1\r\n", b"Host: no\r\n"])) + b"\r\n"
    return out


@st.composite
def request_bytes(draw: Any) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "HEAD", "OPTIONS", "CONNECT", "get"]) | TOKEN)
    target = draw(st.sampled_from(["/", "/a?b=c", "*", "example.com:443", "http://x/y"]))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.2", "HTTP/1"]))
    head = f"{method} {target} {version}\r\n".encode() + b"Host: h\r\n" + draw(fields())
    kind = draw(st.sampled_from(["none", "length", "chunked"]))
    if kind == "length":
        body = draw(st.binary(max_size=60))
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    if kind == "chunked":
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + draw(chunked_body())
    return head + b"\r\n"


@st.composite
def response_bytes(draw: Any) -> bytes:
    status = draw(st.sampled_from([100, 101, 103, 200, 204, 304, 404, 500, 299]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    head = b"HTTP/%s %d Reason\r\n" % (version, status) + draw(fields())
    if draw(st.booleans()):  # the framing fields that decide a response, odd ones too
        head += b"".join(f"{n}: {v}\r\n".encode() for n, v in draw(
            st.lists(st.tuples(FRAMING_NAMES, FRAMING_VALUES), max_size=3)))
    kind = draw(st.sampled_from(["none", "length", "chunked"]))
    if kind == "length":
        body = draw(st.binary(max_size=60))
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    if kind == "chunked":
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + draw(chunked_body())
    return head + b"\r\n" + draw(st.binary(max_size=20))


@st.composite
def mutated(draw: Any, base: Any) -> bytes:
    """``base`` bytes with a few bytes inserted, deleted or replaced."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from([0, 9, 10, 13, 32, 58, 59, 34, 0x7F, 0xFF, 0x41, 0x30]))
        if op == "insert":
            data.insert(i, byte)
        elif op == "delete":
            del data[i]
        else:
            data[i] = byte
    return bytes(data)


@st.composite
def split(draw: Any, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(data[last:cut])
        last = cut
    pieces.append(data[last:])
    return pieces


# -- parser tests ---------------------------------------------------------------------


@FUZZ
@given(st.data())
def test_requests_agree(data: Any) -> None:
    stream = b"".join(data.draw(st.lists(request_bytes() | mutated(request_bytes()), min_size=1, max_size=3)))
    reads = data.draw(split(stream))
    for config in CONFIGS:
        both_parse("request", config, reads, data.draw(st.booleans()))


@FUZZ
@given(st.data())
def test_responses_agree(data: Any) -> None:
    stream = b"".join(data.draw(st.lists(response_bytes() | mutated(response_bytes()),
                                         min_size=1, max_size=3)))
    reads = data.draw(split(stream))
    method = data.draw(st.sampled_from(["GET", "HEAD", "CONNECT", "POST"]))
    for config in CONFIGS:
        both_parse("response", config, reads, data.draw(st.booleans()), method)


@FUZZ
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes_agree(raw: bytes, eof: bool) -> None:
    for config in CONFIGS:
        both_parse("request", config, [raw], eof)
        both_parse("response", config, [raw], eof)


@FUZZ
@given(st.data())
def test_chunked_bodies_agree(data: Any) -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = data.draw(chunked_body() | mutated(chunked_body()))
    for config in CONFIGS:
        both_parse("request", config, data.draw(split(head + body)), data.draw(st.booleans()))


# -- serializer tests -----------------------------------------------------------------

WRITE_OPS = st.one_of(
    st.tuples(st.just("write"), st.binary(max_size=300)),
    st.tuples(st.just("schedule"), st.binary(max_size=300)),
    st.tuples(st.just("chunk"), st.binary(max_size=50)),
    st.tuples(st.just("last_chunk"), st.lists(st.tuples(TOKEN, VALUE), max_size=2)),
    st.tuples(st.just("head"), st.tuples(st.integers(100, 999), st.lists(st.tuples(FIELD_NAMES | st.text(max_size=5), VALUE | st.text(max_size=5)), max_size=4))),
    st.tuples(st.just("request"), st.tuples(TOKEN | st.text(max_size=3), st.sampled_from(["/", "/x y", "*", ""]))),
    st.tuples(st.just("framed"), st.tuples(
        st.sampled_from([100, 101, 200, 204, 304, 404, 500, 999]),
        st.lists(st.tuples(FRAMING_NAMES, FRAMING_VALUES), max_size=4),
        st.sampled_from(["GET", "HEAD", "POST", "CONNECT"]),
        st.sampled_from([None, HTTP_1_0, HTTP_1_1, Version(2, 0)]),
        st.none() | st.integers(0, 30),
        st.booleans(),
        st.none() | st.sampled_from(["Sun, 06 Nov 1994 08:49:37 GMT", "Tue, 07 Dec 2026"]),
        st.sampled_from([HTTP_1_1, HTTP_1_0]),
    )),
    st.tuples(st.just("flush"), st.none()),
    st.tuples(st.just("shift"), st.integers(0, 400)),
    st.tuples(st.just("take"), st.integers(0, 400)),
    st.tuples(st.just("close"), st.none()),
)


def run_serializer(module: Any, buffer_size: int, ops: list[Any]) -> list[Any]:
    serializer = module.Serializer(buffer_size)
    log: list[Any] = []
    for i, (op, arg) in enumerate(ops):
        try:
            if op == "write":
                serializer.write(arg)
            elif op == "schedule":
                serializer.schedule(arg)
            elif op == "chunk":
                serializer.write_chunk(arg)
            elif op == "last_chunk":
                serializer.write_last_chunk(Headers(arg))
            elif op == "head":
                status, pairs = arg
                serializer.write_response_head(Response(status, pairs))
            elif op == "request":
                method, target = arg
                serializer.write_request_head(Request(method, target, [("Host", "h")]))
            elif op == "framed":
                status, pairs, method, request_version, size, persistent, date, version = arg
                serializer.date = None if date is None else module.DateField(date)
                log.append(serializer.write_framed_response_head(
                    Response(status, pairs, version=version), method, request_version, size,
                    persistent,
                ))
            elif op == "take":
                log.append(("take", serializer.take(arg)))
            elif op == "flush":
                serializer.flush(lambda i=i: log.append(("flushed", i)))
            elif op == "shift":
                pending = serializer.pending_bytes
                serializer.shift(min(arg, pending))
            elif op == "close":
                serializer.close()
        except (ValueError, StateError, TypeError) as error:
            log.append(("error", type(error).__name__, str(error)))
        log.append((b"".join(serializer.operation()), serializer.pending_bytes, serializer.is_closed))
    log.append(("drain", serializer.drain()))
    return log


@FUZZ
@given(st.lists(WRITE_OPS, max_size=12), st.sampled_from([1, 16, 4096]))
def test_serializers_agree(ops: list[Any], buffer_size: int) -> None:
    assert run_serializer(PY_SERIALIZER, buffer_size, ops) == run_serializer(
        CY_SERIALIZER, buffer_size, ops
    )
