"""Requests, responses, and the framing rules of RFC 9112 §6 shared by both sides."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ParseError
from .headers import Headers
from .method import Method
from .status import check_code, reason_phrase
from .version import HTTP_1_0, HTTP_1_1, Version

__all__ = [
    "Request",
    "Response",
    "CHUNKED",
    "CLOSE_DELIMITED",
    "request_body_length",
    "response_body_length",
    "response_framing",
    "parse_content_length",
    "is_chunked",
    "is_keep_alive",
    "response_has_body",
    "response_head_framing",
    "EndOfMessage",
    "END_OF_MESSAGE",
]

#: ``body_length`` results other than a byte count.
CHUNKED = -1
CLOSE_DELIMITED = -2

_MAX_LENGTH_DIGITS = 19  # fits in a signed 64-bit integer; more is refused unparsed


def _headers(headers: Headers | Iterable[tuple[str, str]] | None) -> Headers:
    if headers is None:
        return Headers()
    if isinstance(headers, Headers):
        return headers
    return Headers(headers)


class Request:
    """A request head: method, target (as sent), version and header fields."""

    __slots__ = ("method", "target", "version", "headers")

    def __init__(
        self,
        method: str,
        target: str,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        version: Version = HTTP_1_1,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = _headers(headers)

    def __repr__(self) -> str:
        return (
            f"Request({str(self.method)!r}, {self.target!r}, "
            f"{self.headers.to_list()!r}, version={self.version!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and self.target == other.target
            and self.version == other.version
            and self.headers == other.headers
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def keep_alive(self) -> bool:
        """Whether the request allows the connection to persist (RFC 9112 §9.3)."""
        return is_keep_alive(self.version, self.headers)

    def body_length(self) -> int:
        """The body's length, :data:`CHUNKED`, or ``ParseError`` (RFC 9112 §6.3)."""
        return request_body_length(self.version, self.headers)


class Response:
    """A response head: status, reason phrase, version and header fields."""

    __slots__ = ("status", "reason", "version", "headers")

    def __init__(
        self,
        status: int,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        reason: str | None = None,
        version: Version = HTTP_1_1,
    ) -> None:
        self.status = check_code(status)
        self.reason = reason_phrase(self.status) if reason is None else reason
        self.version = version
        self.headers = _headers(headers)

    def __repr__(self) -> str:
        return (
            f"Response({int(self.status)}, {self.headers.to_list()!r}, "
            f"reason={self.reason!r}, version={self.version!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self.status == other.status
            and self.reason == other.reason
            and self.version == other.version
            and self.headers == other.headers
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def keep_alive(self) -> bool:
        """Whether the response allows the connection to persist."""
        return is_keep_alive(self.version, self.headers)

    def body_length(self, request_method: str = Method.GET) -> int:
        """The body's length, :data:`CHUNKED` or :data:`CLOSE_DELIMITED`."""
        return response_body_length(self.status, self.headers, request_method, self.version)


def is_keep_alive(version: Version, headers: Headers) -> bool:
    """RFC 9112 §9.3: ``close`` ends it; 1.0 needs ``keep-alive``; 1.1 persists."""
    tokens = headers.get_tokens("connection")
    if "close" in tokens:
        return False
    if version == HTTP_1_0:
        return "keep-alive" in tokens
    return version >= HTTP_1_1


def parse_content_length(values: list[str]) -> int:
    """One Content-Length field of 1-19 ASCII digits, else ``ParseError``.

    Repeated fields, even equal ones, and the list form ``5, 5`` are refused: they are
    how requests get smuggled past a proxy that picks the other value.
    """
    if len(values) != 1:
        raise ParseError("multiple Content-Length fields")
    value = values[0]
    if not (0 < len(value) <= _MAX_LENGTH_DIGITS and value.isascii() and value.isdigit()):
        raise ParseError(f"invalid Content-Length: {value[:32]!r}")
    return int(value)


def is_chunked(values: list[str], strict: bool) -> bool:
    """Whether the Transfer-Encoding fields end in ``chunked``.

    With ``strict`` (requests): ``chunked`` must be the last coding and appear once,
    every coding must be a token, and codings other than ``chunked`` are not
    implemented (501). Without it (responses, RFC 9112 §6.3): only whether the last
    coding is ``chunked``.
    """
    codings = [c.strip(" \t") for v in values for c in v.split(",")]
    if not strict:
        return bool(codings) and codings[-1].lower() == "chunked"
    for coding in codings:
        if not coding or not _is_token(coding):
            raise ParseError(f"invalid transfer coding: {coding[:32]!r}")
    lowered = [c.lower() for c in codings]
    if lowered[-1] != "chunked":
        raise ParseError("final transfer coding is not chunked")
    if lowered.count("chunked") > 1:
        raise ParseError("chunked applied more than once")
    if len(lowered) > 1:
        raise ParseError(f"transfer coding not implemented: {codings[0][:32]!r}", 501)
    return True


_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _is_token(text: str) -> bool:
    return all(ord(c) in _TCHAR for c in text)


def request_body_length(version: Version, headers: Headers) -> int:
    """RFC 9112 §6.3 for requests: a length or :data:`CHUNKED`; never close-delimited."""
    te = headers.get_all("transfer-encoding")
    cl = headers.get_all("content-length")
    if te:
        if cl:
            raise ParseError("both Transfer-Encoding and Content-Length")
        if version == HTTP_1_0:
            raise ParseError("Transfer-Encoding in an HTTP/1.0 request")
        is_chunked(te, strict=True)
        return CHUNKED
    if cl:
        return parse_content_length(cl)
    return 0


def response_has_body(status: int, request_method: str) -> bool:
    """Whether a response may carry a body at all (RFC 9110 §6.4.1)."""
    return not (request_method == "HEAD" or status < 200 or status == 204 or status == 304)


def response_body_length(
    status: int, headers: Headers, request_method: str, version: Version = HTTP_1_1
) -> int:
    """RFC 9112 §6.3 for responses, as a client that distrusts servers reads them.

    :func:`response_framing` with the framing fields of ``headers``.
    """
    return response_framing(
        status,
        request_method,
        version,
        headers.get_all("transfer-encoding") or None,
        headers.get_all("content-length") or None,
    )


def response_framing(
    status: int,
    request_method: str,
    version: Version,
    te: list[str] | None,
    cl: list[str] | None,
) -> int:
    """A response's body length from its Transfer-Encoding and Content-Length values.

    The one place of the client's framing rule (the parsers gather the values as they
    scan a head). A 2xx to CONNECT is a tunnel, whatever its fields say (RFC 9110
    §9.3.6: the client MUST ignore them). Otherwise the framing fields must be sound
    even where no body follows, or ``ParseError``: Content-Length is one field of
    digits (repeated fields, even equal ones, are refused, as in requests);
    Transfer-Encoding is a list of tokens with ``chunked`` at most once; never both
    (§6.1: a sign of smuggling or response splitting); no Transfer-Encoding in an
    HTTP/1.0 response (§6.1: faulty framing); none in a 1xx or 204, and no
    Content-Length there but ``0`` (RFC 9110 §8.6, RFC 9112 §6.1: a server MUST NOT
    send them; ``0`` says what the status says and is common). Then HEAD, 1xx, 204 and
    304 have no body; Transfer-Encoding ending in ``chunked`` is :data:`CHUNKED` and
    any other is :data:`CLOSE_DELIMITED` (§6.3 item 4); Content-Length is the length;
    without either, the body runs to EOF.
    """
    if request_method == "CONNECT" and 200 <= status < 300:
        return 0 if status == 204 else CLOSE_DELIMITED  # (http/af reads no 204 body)
    if te is None and cl is None:  # the usual case for bodiless answers
        if request_method == "HEAD" or status < 200 or status == 204 or status == 304:
            return 0
        return CLOSE_DELIMITED
    length = parse_content_length(cl) if cl else None
    chunked = False
    if te:
        if cl:
            raise ParseError("both Transfer-Encoding and Content-Length")
        if version == HTTP_1_0:
            raise ParseError("Transfer-Encoding in an HTTP/1.0 response")
        chunked = _response_chunked(te)
    if status < 200 or status == 204:
        if te or length:
            raise ParseError(f"framing fields in a {status} response")
        return 0
    if request_method == "HEAD" or status == 304:
        return 0
    if te:
        return CHUNKED if chunked else CLOSE_DELIMITED
    return CLOSE_DELIMITED if length is None else length


def _response_chunked(values: list[str]) -> bool:
    """A response's Transfer-Encoding: whether it ends in ``chunked``, or ``ParseError``.

    Every coding a token (no empty list element), ``chunked`` at most once (RFC 9112
    §6.1: a sender MUST NOT apply it more than once). Codings other than ``chunked``
    are the application's business: a last one that is not ``chunked`` makes the body
    run to EOF (§6.3 item 4).
    """
    codings = [c.strip(" \t").lower() for v in values for c in v.split(",")]
    for coding in codings:
        if not coding or not _is_token(coding):
            raise ParseError(f"invalid transfer coding: {coding[:32]!r}")
    if codings.count("chunked") > 1:
        raise ParseError("chunked applied more than once")
    return codings[-1] == "chunked"


def response_head_framing(
    response: Response,
    request_method: str,
    request_version: Version | None,
    body_size: int | None,
    persistent: bool,
    date: str | None = None,
) -> tuple[int, bool, bool, list[tuple[str, str]]]:
    """Everything a server decides before writing a response head (RFC 9112 §6.3, §9.3).

    ``body_size`` is the size of a body given whole (it becomes ``Content-Length``
    when no framing field is set), ``persistent`` whether the exchange may keep the
    connection so far, ``date`` the current ``Date`` value for a server with a clock.
    Returns ``(length, discard, persistent, extra_fields)``: ``length`` a byte count,
    CHUNKED or CLOSE_DELIMITED; ``discard`` when the response carries no body bytes at
    all (HEAD, 1xx, 204, 304); whether the connection persists after it; and the
    fields to add to the head, in this order: ``Content-Length`` for a whole body;
    ``Connection: close`` whenever the connection ends after this response (RFC 9112
    §9.6: the close is announced, whatever the client asked) or ``Connection:
    keep-alive`` for an HTTP/1.0 client whose connection persists; ``Date`` when
    ``date`` is given and the response has none (RFC 9110 §6.6.1). ``ValueError`` for
    framing fields that contradict each other or the body. Both serializers'
    ``write_framed_response_head`` implement this.
    """
    status = response.status
    discard = request_method == "HEAD" or status < 200 or status == 204 or status == 304
    # One pass over the fields, lower-casing only names of the right lengths.
    te: list[str] = []
    cl: list[str] = []
    tokens: list[str] = []
    has_date = False
    for name, value in response.headers._fields:
        size = len(name)
        if size == 17 or size == 14 or size == 10:
            lname = name.lower()
            if lname == "transfer-encoding":
                te.append(value)
            elif lname == "content-length":
                cl.append(value)
            elif lname == "connection":
                tokens.extend(t.strip(" \t").lower() for t in value.split(","))
        elif size == 4 and name.lower() == "date":
            has_date = True
    extra: list[tuple[str, str]] = []
    if te:
        if cl:
            raise ValueError("a response must not have both Transfer-Encoding and Content-Length")
        length = CHUNKED if is_chunked(te, strict=False) else CLOSE_DELIMITED
        if length == CHUNKED and request_version == HTTP_1_0:
            raise ValueError("an HTTP/1.0 client cannot read a chunked response")
    elif cl:
        try:
            length = parse_content_length(cl)
        except ParseError as error:
            raise ValueError(f"response {error.message}") from None
        if body_size is not None and body_size != length and not discard:
            raise ValueError(f"Content-Length {length} does not match a body of {body_size} bytes")
    elif body_size is not None:
        length = body_size
        if status >= 200 and status != 204 and status != 304:
            extra.append(("Content-Length", str(body_size)))
    else:
        length = CLOSE_DELIMITED
    if discard:
        length = 0
    version = response.version
    persistent = (
        persistent
        and length != CLOSE_DELIMITED
        and "close" not in tokens
        and (
            version is HTTP_1_1
            or ("keep-alive" in tokens if version == HTTP_1_0 else version >= HTTP_1_1)
        )
    )
    if persistent:
        if request_version == HTTP_1_0 and "keep-alive" not in tokens:
            extra.append(("Connection", "keep-alive"))
    elif "close" not in tokens:
        extra.append(("Connection", "close"))
    if date is not None and not has_date:
        extra.append(("Date", date))
    return length, discard, persistent, extra


class EndOfMessage:
    """The parser's event for the end of a body, with the trailer fields if any."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: Headers | None = None) -> None:
        self.trailers = trailers

    def __repr__(self) -> str:
        return f"EndOfMessage({self.trailers!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EndOfMessage):
            return NotImplemented
        return self.trailers == other.trailers

    __hash__ = None  # type: ignore[assignment]


#: The end of a body without trailers (one shared instance).
END_OF_MESSAGE = EndOfMessage()
