"""The fuzz harness's checks in CI, for a bounded time: agreement with h11, split invariance.

The atheris harness (``tests/fuzz/fuzz_parsers.py``, ``make fuzz``) runs these checks
for minutes; here hypothesis runs them on generated requests and responses for a few
seconds, and the seed corpus is replayed. On a request that h11 also accepts as
complete, method, target, headers and body must be the ones h11 sees; on a response,
the interim statuses, status, reason, version, headers, body and trailers h11's client
sees. When only one side accepts, the reason must be one of the known classes in
``harness.STRICTER`` / ``harness.LENIENT`` (and their ``_RESPONSE`` lists; h11 is
lenient in documented ways; see SECURITY.md). ``HTTPAF_FUZZ_EXAMPLES`` sets the
number of examples (default 300).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fuzz import harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("h11")

EXAMPLES = int(os.environ.get("HTTPAF_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CORPUS = Path(__file__).parent / "fuzz" / "corpus"

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN = st.text(TCHARS, min_size=1, max_size=10)
VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
OWS = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def field_value(draw: Any) -> str:
    words = draw(st.lists(VALUE, min_size=0, max_size=3))
    return draw(OWS) + " ".join(words) + draw(OWS)


@st.composite
def valid_request(draw: Any) -> bytes:
    """A request RFC 9112 allows and h11 accepts: both must read it the same way."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
                  | TOKEN.filter(lambda m: m != "CONNECT"))  # CONNECT needs authority-form
    path = draw(st.text(TCHARS + "/?=&%:@", max_size=20))
    version = draw(st.sampled_from(["1.1", "1.0"]))
    lines = [f"{method} /{path} HTTP/{version}"]
    if version == "1.1":
        lines.append(f"{draw(st.sampled_from(['Host', 'host', 'HOST']))}:{draw(OWS)}example.com")
    for _ in range(draw(st.integers(0, 5))):
        name = draw(TOKEN.filter(lambda n: n.lower() not in _FRAMING))
        lines.append(f"{name}:{draw(field_value())}")
    framing = draw(st.sampled_from(["none", "length", "chunked"] if version == "1.1"
                                   else ["none", "length"]))
    body = draw(st.binary(max_size=40))
    raw_body = b""
    if framing == "length":
        lines.append(f"Content-Length: {len(body)}")
        raw_body = body
    elif framing == "chunked":
        lines.append(f"Transfer-Encoding: {draw(st.sampled_from(['chunked', 'Chunked']))}")
        pieces = draw(st.lists(st.binary(min_size=1, max_size=10), max_size=4))
        for piece in pieces:
            ext = draw(st.sampled_from(["", ";a", ";a=b", ';q="x y"']))
            raw_body += b"%x%s\r\n%s\r\n" % (len(piece), ext.encode(), piece)
        raw_body += b"0\r\n"
        for _ in range(draw(st.integers(0, 2))):
            raw_body += f"X-{draw(TOKEN)}: {draw(VALUE)}\r\n".encode()
        raw_body += b"\r\n"
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + raw_body


_FRAMING = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "expect",
            "te", "trailer"}
NASTY = [b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b"\x00", b"\x0b", b"\x7f", b"\xa0", b",",
         b";", b"0", b"Transfer-Encoding: chunked\r\n", b"Content-Length: 1\r\n", b"\r\n "]


@st.composite
def mutated_request(draw: Any) -> bytes:
    data = bytearray(draw(valid_request()))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(NASTY))
        if op == "insert":
            data[i:i] = piece
        elif op == "delete":
            del data[i : i + len(piece)]
        else:
            data[i : i + 1] = piece
    return bytes(data)


@st.composite
def valid_response(draw: Any) -> tuple[bytes, str]:
    """A response RFC 9112 allows and h11 reads: both must read it the same way."""
    method = draw(st.sampled_from(["GET", "GET", "POST", "HEAD"]))
    version = draw(st.sampled_from(["1.1", "1.1", "1.0"]))
    out = b""
    for _ in range(draw(st.integers(0, 2))):
        out += f"HTTP/{version} {draw(st.sampled_from(['100', '102', '103']))} X\r\n".encode()
        out += b"".join(f"{draw(TOKEN)}: {draw(VALUE)}\r\n".encode()
                        for _ in range(draw(st.integers(0, 2))))
        out += b"\r\n"
    status = draw(st.sampled_from([200, 201, 204, 301, 304, 404, 500, 299]))
    reason = draw(st.sampled_from(["OK", "", "Not Found", "a b\tc", "\xe9t\xe9"]))
    lines = [f"HTTP/{version} {status} {reason}"]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(TOKEN.filter(lambda n: n.lower() not in _FRAMING))
        lines.append(f"{name}:{draw(field_value())}")
    bodiless = status in (204, 304) or method == "HEAD"
    framing = draw(st.sampled_from(["none", "length"] if version == "1.0" or bodiless
                                   else ["none", "length", "chunked"]))
    body = draw(st.binary(max_size=40))
    raw_body = b""
    if framing == "length":
        lines.append(f"Content-Length: {0 if status == 204 else len(body)}")
        raw_body = body
    elif framing == "chunked":
        lines.append(f"Transfer-Encoding: {draw(st.sampled_from(['chunked', 'Chunked']))}")
        for piece in draw(st.lists(st.binary(min_size=1, max_size=10), max_size=4)):
            raw_body += b"%x\r\n%s\r\n" % (len(piece), piece)
        raw_body += b"0\r\n"
        for _ in range(draw(st.integers(0, 2))):
            raw_body += f"X-{draw(TOKEN)}: {draw(VALUE)}\r\n".encode()
        raw_body += b"\r\n"
    elif not bodiless:
        raw_body = body  # close-delimited: the end of input ends it
    if bodiless:
        raw_body = b""
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out + head + raw_body, method


RESPONSE_NASTY = [*NASTY, b"Content-Length: 0\r\n", b"Transfer-Encoding: gzip\r\n",
                  b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.0 ", b"204", b"\r\n\r\n"]


@st.composite
def mutated_response(draw: Any) -> tuple[bytes, str]:
    raw, method = draw(valid_response())
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(RESPONSE_NASTY))
        if op == "insert":
            data[i:i] = piece
        elif op == "delete":
            del data[i : i + len(piece)]
        else:
            data[i : i + 1] = piece
    return bytes(data), method


@FUZZ
@given(valid_response())
def test_valid_responses_agree_with_h11(case: tuple[bytes, str]) -> None:
    data, method = case
    assert harness.compare_h11_response(data, method) == "agree"


@FUZZ
@given(mutated_response(), st.booleans())
def test_mutated_responses_agree_with_h11_or_differ_for_a_known_reason(
    case: tuple[bytes, str], eof: bool
) -> None:
    data, method = case
    harness.compare_h11_response(data, method, eof)


@FUZZ
@given(st.data())
def test_split_responses(data: Any) -> None:
    """A stream of responses cut anywhere: both implementations, one result (the
    harness compares every split with the whole read)."""
    cases = data.draw(st.lists(valid_response() | mutated_response(), min_size=1, max_size=3))
    stream = b"".join(raw for raw, _ in cases)
    cuts = tuple(data.draw(st.lists(st.integers(0, len(stream)), max_size=7)))
    eof = data.draw(st.booleans())
    method = cases[0][1]
    small = data.draw(st.booleans())
    harness.check("response",
                  harness.decode(harness.encode(stream, cuts, eof, small=small, method=method)))


@FUZZ
@given(valid_request())
def test_valid_requests_agree_with_h11(data: bytes) -> None:
    assert harness.compare_h11(data) == "agree"


@FUZZ
@given(mutated_request())
def test_mutated_requests_agree_with_h11_or_differ_for_a_known_reason(data: bytes) -> None:
    harness.compare_h11(data)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(harness.TARGETS))
def test_raw_fuzz_inputs(raw: bytes, target: str) -> None:
    """Raw inputs in the atheris format: both implementations, any split, same result."""
    case = harness.decode(raw)
    harness.check(target, case)
    if case.config is harness.DEFAULT:
        if target == "response":
            harness.compare_h11_response(case.data, case.method, case.eof)
        else:
            harness.compare_h11(case.data if target == "request"
                                else harness.CHUNKED_HEAD + case.data)


@FUZZ
@given(st.data())
def test_split_valid_requests(data: Any) -> None:
    """A pipelined stream of requests cut anywhere: both implementations, one result."""
    stream = b"".join(data.draw(st.lists(valid_request() | mutated_request(), min_size=1,
                                         max_size=3)))
    cuts = tuple(data.draw(st.lists(st.integers(0, len(stream)), max_size=7)))
    eof = data.draw(st.booleans())
    harness.check("request", harness.decode(harness.encode(stream, cuts, eof)))


def _seeds() -> list[Any]:
    return [
        pytest.param(target, path, id=f"{target}/{path.name}")
        for target in harness.TARGETS
        for path in sorted((CORPUS / target).iterdir())
    ]


@pytest.mark.parametrize(("target", "path"), _seeds())
def test_seed_corpus(target: str, path: Path) -> None:
    """Every seed passes the harness (what atheris starts from must not crash)."""
    case = harness.decode(path.read_bytes())
    harness.check(target, case)
    if target == "response":
        harness.compare_h11_response(case.data, case.method, case.eof)
    else:
        harness.compare_h11(case.data if target == "request" else harness.CHUNKED_HEAD + case.data)
