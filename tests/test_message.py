"""Request and Response: http/af's test_request.ml and test_response.ml (§5.5, §5.6).

The parse cases go through our incremental parsers (``wire`` fixture) instead of
Angstrom; our error messages differ, so they assert the status and that parsing
failed, and the message where it says something precise. Body-length cases run both on
the values (``Request.body_length``) and on a parsed head (``parser.body_length``).

Deliberate differences from http/af encoded here:

- Content-Length is 1-19 ASCII digits only (no ``+``, ``-``, ``0x``, ``_``);
- Transfer-Encoding is split on commas and strict for requests: ``gzip, chunked`` is
  501, ``chunked, gzip`` and an unknown single coding are 400, and so is ``chunked``
  twice; a request with both TE and CL is 400;
- a response tolerates repeated equal Content-Length values (``10``/``10``, ``5, 5``);
- Connection is a comma-split, case-insensitive token list;
- an HTTP/1.1 request without Host is refused (400) unless ``require_host=False``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

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
    is_chunked,
    is_keep_alive,
    parse_content_length,
    request_body_length,
    response_body_length,
    response_has_body,
)
from httpaf.model.method import Method
from httpaf.model.status import Status
from httpaf.model.version import HTTP_1_0, HTTP_1_1, Version

from helpers import parse_all

NO_HOST = Config(require_host=False)
Fields = list[tuple[str, str]]


def parse_request(wire: SimpleNamespace, data: bytes, config: Config = NO_HOST) -> list[object]:
    return parse_all(wire.RequestParser(config), data, eof=True)


def parse_response(wire: SimpleNamespace, data: bytes, method: str = "GET") -> list[object]:
    parser = wire.ResponseParser()
    parser.request_method = method
    return parse_all(parser, data, eof=True)


def is_error(events: list[object], status: int) -> bool:
    return bool(events) and isinstance(events[-1], tuple) and events[-1][:2] == ("error", status)


# -- test_request.ml: parsing -------------------------------------------------------


def test_request_parse_get(wire: SimpleNamespace) -> None:
    events = parse_request(wire, b"GET / HTTP/1.1\r\n\r\n")
    assert events == [Request(Method.GET, "/"), None]
    request = events[0]
    assert isinstance(request, Request)
    assert request.method is Method.GET
    assert request.version is HTTP_1_1
    assert request.headers.to_list() == []


def test_request_parse_get_without_host_is_refused_by_default(wire: SimpleNamespace) -> None:
    # Deliberate difference: RFC 9112 §3.2 requires Host in HTTP/1.1 requests.
    events = parse_request(wire, b"GET / HTTP/1.1\r\n\r\n", Config())
    assert is_error(events, 400)
    assert "Host" in events[-1][2]


def test_request_parse_other_method(wire: SimpleNamespace) -> None:
    events = parse_request(wire, b"some-other-verb / HTTP/1.1\r\n\r\n")
    assert events == [Request("some-other-verb", "/"), None]
    assert type(events[0].method) is str


def test_request_parse_with_header(wire: SimpleNamespace) -> None:
    events = parse_request(wire, b"GET / HTTP/1.1\r\nLink: /path/to/some/website\r\n\r\n")
    assert events == [Request("GET", "/", [("Link", "/path/to/some/website")]), None]


def test_request_parse_not_enough_input(wire: SimpleNamespace) -> None:
    data = b"GET / HTTP/1.1\r\n"
    assert parse_all(wire.RequestParser(NO_HOST), data) == [None]  # waits for more
    events = parse_request(wire, data)  # ~consume:All: the input ends here
    assert is_error(events, 400)
    assert "end of input" in events[-1][2]


def test_request_parse_version_two_digits(wire: SimpleNamespace) -> None:
    events = parse_request(wire, b"GET / HTTP/1.22\r\n\r\n")
    assert is_error(events, 400)
    assert "version" in events[-1][2]


def test_request_parse_space_before_colon(wire: SimpleNamespace) -> None:
    events = parse_request(wire, b"GET / HTTP/1.1\r\nLink : /path/to/some/website\r\n\r\n")
    assert is_error(events, 400)
    assert "whitespace between header field name and colon" in events[-1][2]


# -- test_request.ml: body_length ---------------------------------------------------

# (fields, expected length or error status, same as http/af)
REQUEST_BODY_LENGTH = [
    ([], 0, True),
    ([("content-length", "10")], 10, True),
    ([("content-length", "-10")], 400, True),
    ([("content-length", "10"), ("content-length", "20")], 400, True),
    ([("transfer-encoding", "chunked")], CHUNKED, True),
    # http/af: Chunked. Ours: chunked applied twice is refused.
    ([("transfer-encoding", "chunked"), ("transfer-encoding", "chunked")], 400, False),
    ([("transfer-encoding", "gzip")], 400, True),
    # http/af: Chunked (the last line decides). Ours: a coding we cannot undo, 501.
    ([("transfer-encoding", "gzip"), ("transfer-encoding", "chunked")], 501, False),
    ([("transfer-encoding", "chunked"), ("transfer-encoding", "gzip")], 400, True),
    ([("transfer-encoding", "CHUNKED")], CHUNKED, True),
    # our additions
    ([("content-length", "10"), ("content-length", "10")], 400, False),
    ([("content-length", "10, 10")], 400, False),
    ([("content-length", "0")], 0, True),
    ([("content-length", "+10")], 400, False),
    ([("content-length", "0x10")], 400, False),
    ([("content-length", "1_0")], 400, False),
    ([("transfer-encoding", "gzip, chunked")], 501, False),
    ([("transfer-encoding", "chunked, gzip")], 400, True),
    ([("transfer-encoding", "chunked"), ("content-length", "10")], 400, False),
    ([("Transfer-Encoding", " Chunked ")], CHUNKED, True),
]


@pytest.mark.parametrize(("fields", "expected", "same_as_http_af"), REQUEST_BODY_LENGTH)
def test_request_body_length(fields: Fields, expected: int, same_as_http_af: bool) -> None:
    request = Request(Method.GET, "/", fields)
    if expected >= 100:
        with pytest.raises(ParseError) as info:
            request.body_length()
        assert info.value.status == expected
    else:
        assert request.body_length() == expected
        assert request_body_length(HTTP_1_1, Headers(fields)) == expected


@pytest.mark.parametrize(("fields", "expected", "same_as_http_af"), REQUEST_BODY_LENGTH)
def test_request_body_length_parsed(
    wire: SimpleNamespace, fields: Fields, expected: int, same_as_http_af: bool
) -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\n" + b"".join(
        f"{n}: {v}\r\n".encode() for n, v in fields
    ) + b"\r\n"
    parser = wire.RequestParser()
    events = parse_all(parser, head)
    if expected >= 100:
        assert is_error(events, expected)
    else:
        assert isinstance(events[0], Request)
        assert parser.body_length == expected


def test_request_body_length_chunked_on_http_1_0() -> None:
    with pytest.raises(ParseError) as info:
        request_body_length(HTTP_1_0, Headers([("transfer-encoding", "chunked")]))
    assert info.value.status == 400


# -- test_response.ml: parsing -------------------------------------------------------


def test_response_parse_ok(wire: SimpleNamespace) -> None:
    events = parse_response(wire, b"HTTP/1.1 200 OK\r\n\r\n")
    # No length: the body runs to the end of the connection, which is here.
    assert events == [Response(Status.OK), END_OF_MESSAGE]
    assert events[0].status is Status.OK


def test_response_parse_missing_reason_space(wire: SimpleNamespace) -> None:
    events = parse_response(wire, b"HTTP/1.1 200\r\n\r\n")
    assert is_error(events, 400)
    assert "missing space after status-code" in events[-1][2]


def test_response_parse_status_code_empty(wire: SimpleNamespace) -> None:
    events = parse_response(wire, b"HTTP/1.1 OK\r\n\r\n")
    assert is_error(events, 400)
    assert "status-code" in events[-1][2]


def test_response_parse_status_code_too_long(wire: SimpleNamespace) -> None:
    events = parse_response(wire, b"HTTP/1.1 999999937377999999999200\r\n\r\n")
    assert is_error(events, 400)
    assert "status-code" in events[-1][2]


@pytest.mark.parametrize("code", [b"000", b"099", b"001"])
def test_response_parse_status_code_below_100(wire: SimpleNamespace, code: bytes) -> None:
    # http/af raises an exception out of the parser here; we fail the parse.
    events = parse_response(wire, b"HTTP/1.1 " + code + b" X\r\n\r\n")
    assert is_error(events, 400)


# -- test_response.ml: body_length ----------------------------------------------------

# (request method, status, fields, expected length or "error", same as http/af)
RESPONSE_BODY_LENGTH = [
    ("HEAD", 200, [], 0, True),
    ("CONNECT", 200, [], CLOSE_DELIMITED, True),
    ("GET", 100, [], 0, True),
    ("GET", 204, [], 0, True),
    ("GET", 304, [], 0, True),
    ("GET", 200, [], CLOSE_DELIMITED, True),
    ("GET", 200, [("content-length", "10")], 10, True),
    ("GET", 200, [("content-length", "-10")], "error", True),
    ("GET", 200, [("content-length", "10"), ("content-length", "20")], "error", True),
    ("GET", 200, [("transfer-encoding", "chunked")], CHUNKED, True),
    # DIFF: http/af reads chunked; chunked twice is faulty framing (RFC 9112 §6.1).
    ("GET", 200, [("transfer-encoding", "chunked"), ("transfer-encoding", "chunked")],
     "error", False),
    ("GET", 200, [("transfer-encoding", "gzip")], CLOSE_DELIMITED, True),
    ("GET", 200, [("transfer-encoding", "gzip"), ("transfer-encoding", "chunked")],
     CHUNKED, True),
    ("GET", 200, [("transfer-encoding", "chunked"), ("transfer-encoding", "gzip")],
     CLOSE_DELIMITED, True),
    ("GET", 200, [("transfer-encoding", "CHUNKED")], CHUNKED, True),
    # our additions: a client distrusts servers as a server distrusts clients (the same
    # Content-Length rule: one field of digits)
    ("GET", 200, [("content-length", "10"), ("content-length", "10")], "error", False),
    ("GET", 200, [("content-length", "10, 10")], "error", False),
    ("GET", 200, [("content-length", "10, 20")], "error", False),
    ("GET", 200, [("content-length", "+10")], "error", False),
    ("GET", 200, [("transfer-encoding", "gzip, chunked")], CHUNKED, False),
    ("GET", 200, [("transfer-encoding", "chunked, gzip")], CLOSE_DELIMITED, False),
    ("GET", 200, [("transfer-encoding", "chunked,")], "error", False),
    ("GET", 200, [("transfer-encoding", "gzip;q=1")], "error", False),
    # DIFF: http/af lets TE win over CL (RFC 9112 §6.3 says "ought to be handled as an
    # error"): we refuse.
    ("GET", 200, [("transfer-encoding", "chunked"), ("content-length", "10")], "error", False),
    ("HEAD", 200, [("transfer-encoding", "chunked"), ("content-length", "10")], "error", False),
    ("HEAD", 200, [("content-length", "10")], 0, True),
    ("HEAD", 200, [("content-length", "x")], "error", False),
    ("HEAD", 200, [("transfer-encoding", "chunked")], 0, False),
    ("GET", 304, [("content-length", "10")], 0, True),
    ("GET", 304, [("transfer-encoding", "chunked")], 0, False),
    ("GET", 101, [], 0, True),
    # 1xx and 204 must not carry framing fields (RFC 9110 §8.6); CL 0 is tolerated.
    ("GET", 204, [("content-length", "0")], 0, False),
    ("GET", 204, [("content-length", "5")], "error", False),
    ("GET", 204, [("transfer-encoding", "chunked")], "error", False),
    ("GET", 101, [("content-length", "4")], "error", False),
    ("GET", 103, [("transfer-encoding", "chunked")], "error", False),
    # A 2xx to CONNECT: the client MUST ignore its framing fields (RFC 9110 §9.3.6).
    ("CONNECT", 200, [("transfer-encoding", "chunked"), ("content-length", "1")],
     CLOSE_DELIMITED, False),
    ("CONNECT", 204, [], 0, True),
    ("CONNECT", 299, [("content-length", "10")], CLOSE_DELIMITED, True),
    ("CONNECT", 400, [("content-length", "10")], 10, True),
    ("POST", 201, [("content-length", "3")], 3, True),
]


@pytest.mark.parametrize(
    ("method", "status", "fields", "expected", "same_as_http_af"), RESPONSE_BODY_LENGTH
)
def test_response_body_length(
    method: str, status: int, fields: Fields, expected: int | str, same_as_http_af: bool
) -> None:
    response = Response(status, fields)
    if expected == "error":
        with pytest.raises(ParseError):
            response.body_length(request_method=method)
    else:
        assert response.body_length(request_method=method) == expected
        assert response_body_length(status, Headers(fields), method) == expected


@pytest.mark.parametrize(
    ("method", "status", "fields", "expected", "same_as_http_af"), RESPONSE_BODY_LENGTH
)
def test_response_body_length_parsed(
    wire: SimpleNamespace,
    method: str,
    status: int,
    fields: Fields,
    expected: int | str,
    same_as_http_af: bool,
) -> None:
    head = f"HTTP/1.1 {status} X\r\n".encode() + b"".join(
        f"{n}: {v}\r\n".encode() for n, v in fields
    ) + b"\r\n"
    parser = wire.ResponseParser()
    parser.request_method = method
    events = parse_all(parser, head)
    if expected == "error":
        assert is_error(events, 400)
    else:
        assert isinstance(events[0], Response)
        assert parser.body_length == expected


def test_response_body_length_default_method_is_get() -> None:
    assert Response(200).body_length() == CLOSE_DELIMITED


# -- values ----------------------------------------------------------------------------


def test_request_create() -> None:
    request = Request("GET", "/x")
    assert request.method == "GET"
    assert request.target == "/x"
    assert request.version is HTTP_1_1
    assert isinstance(request.headers, Headers) and not request.headers
    headers = Headers([("a", "b")])
    request = Request(Method.POST, "*", headers, HTTP_1_0)
    assert request.headers is headers  # adopted, not copied
    assert request.version is HTTP_1_0
    assert Request("GET", "/", [("a", "b")]).headers == Headers([("a", "b")])


def test_request_equality_and_repr() -> None:
    a = Request("GET", "/", [("a", "b")])
    assert a == Request(Method.GET, "/", [("a", "b")])
    assert a != Request("GET", "/", [("a", "c")])
    assert a != Request("GET", "/x", [("a", "b")])
    assert a != Request("GET", "/", [("a", "b")], HTTP_1_0)
    assert a != Request("get", "/", [("a", "b")])
    assert a != "GET /"
    assert repr(a) == "Request('GET', '/', [('a', 'b')], version=Version(1, 1))"


def test_response_create() -> None:
    response = Response(200)
    assert response.status is Status.OK
    assert response.reason == "OK"
    assert response.version is HTTP_1_1
    assert not response.headers
    assert Response(299).reason == "Non-standard status code"
    assert type(Response(299).status) is int
    assert Response(404, reason="Nope").reason == "Nope"
    assert Response(200, reason="").reason == ""
    assert Response(200, version=HTTP_1_0).version is HTTP_1_0


@pytest.mark.parametrize("status", [99, 1000, 0, -1])
def test_response_create_refuses_bad_status(status: int) -> None:
    with pytest.raises(ValueError):
        Response(status)


def test_response_equality_and_repr() -> None:
    a = Response(200, [("a", "b")])
    assert a == Response(Status.OK, [("a", "b")], "OK")
    assert a != Response(200, [("a", "b")], "Fine")
    assert a != Response(201, [("a", "b")])
    assert a != Response(200, [("a", "b")], version=HTTP_1_0)
    assert repr(a) == "Response(200, [('a', 'b')], reason='OK', version=Version(1, 1))"


# (version, connection values, keep-alive): comma-split, case-insensitive tokens.
KEEP_ALIVE = [
    (HTTP_1_1, [], True),
    (HTTP_1_0, [], False),
    (Version(0, 9), [], False),
    (Version(2, 0), [], True),
    (HTTP_1_1, ["close"], False),
    (HTTP_1_1, ["Close"], False),  # http/af: exact match only, so True
    (HTTP_1_1, ["keep-alive, close"], False),
    (HTTP_1_1, ["keep-alive", "close"], False),
    (HTTP_1_1, ["close", "keep-alive"], False),  # http/af: the last one decides
    (HTTP_1_1, ["Upgrade"], True),
    (HTTP_1_0, ["keep-alive"], True),
    (HTTP_1_0, ["Keep-Alive"], True),
    (HTTP_1_0, ["keep-alive, Upgrade"], True),  # http/af: falls to the default, False
    (HTTP_1_0, ["Upgrade, keep-alive"], True),
    (HTTP_1_0, ["keep-alive, close"], False),
    (HTTP_1_0, ["keep-alivex"], False),
    (HTTP_1_1, ["closed"], True),
    (HTTP_1_1, [" , close ,"], False),
]


@pytest.mark.parametrize(("version", "values", "expected"), KEEP_ALIVE)
def test_persistent_connection(version: Version, values: list[str], expected: bool) -> None:
    fields = [("Connection", v) for v in values]
    assert is_keep_alive(version, Headers(fields)) is expected
    assert Request("GET", "/", fields, version).keep_alive is expected
    assert Response(200, fields, version=version).keep_alive is expected


BAD = "error"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["0"], 0),
        (["10"], 10),
        (["007"], 7),
        (["9" * 19], int("9" * 19)),
        ([""], BAD),
        (["9" * 20], BAD),  # more than 19 digits: refused before int()
        (["+1"], BAD),
        (["-1"], BAD),
        (["1 0"], BAD),
        ([" 10"], BAD),
        (["0x10"], BAD),
        (["1_0"], BAD),
        (["1e3"], BAD),
        (["\uff11"], BAD),  # FULLWIDTH DIGIT ONE
        (["\U0001d7d9"], BAD),  # MATHEMATICAL DOUBLE-STRUCK DIGIT ONE
        (["\u0661"], BAD),  # ARABIC-INDIC DIGIT ONE
        (["\xb9"], BAD),  # SUPERSCRIPT ONE, a latin-1 "digit" to str.isdigit
        (["5, 5"], BAD),
        (["5", "5"], BAD),
        ([], BAD),
    ],
)
def test_parse_content_length(values: list[str], expected: int | str) -> None:
    if expected == BAD:
        with pytest.raises(ParseError) as info:
            parse_content_length(values)
        assert info.value.status == 400
    else:
        assert parse_content_length(values) == expected


# (values, strict result or error status, lax result)
TRANSFER_CODINGS = [
    (["chunked"], True, True),
    (["Chunked"], True, True),
    (["gzip, chunked"], 501, True),
    (["gzip", "chunked"], 501, True),
    (["chunked, gzip"], 400, False),
    (["gzip"], 400, False),
    (["identity"], 400, False),
    (["chunked, chunked"], 400, True),
    (["chunked", "chunked"], 400, True),
    (["xchunked"], 400, False),
    (["chunked;foo"], 400, False),
    ([""], 400, False),
    (["gzip, , chunked"], 400, True),
    (["gzip,chunked"], 501, True),
    (["\tchunked "], True, True),
]


@pytest.mark.parametrize(("values", "strict", "lax"), TRANSFER_CODINGS)
def test_is_chunked(values: list[str], strict: bool | int, lax: bool) -> None:
    assert is_chunked(values, strict=False) is lax
    if strict is True:
        assert is_chunked(values, strict=True) is True
    else:
        with pytest.raises(ParseError) as info:
            is_chunked(values, strict=True)
        assert info.value.status == strict


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (200, "GET", True),
        (200, "HEAD", False),
        (100, "GET", False),
        (101, "GET", False),
        (199, "GET", False),
        (204, "GET", False),
        (304, "GET", False),
        (205, "GET", True),
        (404, "POST", True),
        (200, "CONNECT", True),
    ],
)
def test_response_has_body(status: int, method: str, expected: bool) -> None:
    assert response_has_body(status, method) is expected


def test_end_of_message() -> None:
    assert END_OF_MESSAGE == EndOfMessage()
    assert END_OF_MESSAGE.trailers is None
    trailers = Headers([("x", "y")])
    assert EndOfMessage(trailers) == EndOfMessage(Headers([("x", "y")]))
    assert EndOfMessage(trailers) != END_OF_MESSAGE
    assert repr(EndOfMessage(trailers)) == "EndOfMessage(Headers([('x', 'y')]))"
    assert END_OF_MESSAGE != "end"
