"""Requests built from what a user gives: a method, a URL, fields and content.

:func:`build_request` makes the head (``Host`` first, then the fields, then the framing
field the content calls for) and a :class:`Body` that says how the content goes out:
nothing, one buffer (zero-copy), or a stream of pieces, sized by ``Content-Length`` or
chunked.
"""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

from httpaf.model import CHUNKED, HTTP_1_1, Headers, Request, is_idempotent

from .errors import LocalProtocolError
from .url import URL

__all__ = [
    "JSON_TYPE", "NO_BODY", "Body", "Content", "HeaderFields", "Outgoing", "build_request",
    "header_list", "json_content",
]

#: What a request's content may be: bytes (or a str, sent as UTF-8), or an iterable
#: or async iterable of bytes pieces.
Content = bytes | bytearray | memoryview | str | Iterable[bytes] | AsyncIterable[bytes] | None
#: Header fields: a mapping, a list of pairs, or :class:`~httpaf.Headers`; names and
#: values as ``str`` or ``bytes`` (Latin-1).
HeaderFields = Mapping[Any, Any] | Iterable[tuple[Any, Any]] | Headers | None

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: The media type of content given as ``json=``.
JSON_TYPE = "application/json"


def json_content(value: Any) -> bytes:
    """``value`` as the content of a request given ``json=``: compact JSON in UTF-8."""
    return _json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class Body:
    """How a request's content goes out.

    ``data``: one buffer (or ``None``); ``stream``: an iterable or async iterable of
    pieces (``is_async`` says which); ``length``: the byte count, or
    :data:`~httpaf.CHUNKED`. A body of one buffer can be sent again (a retry).
    """

    __slots__ = ("data", "stream", "is_async", "length", "trailers")

    def __init__(
        self,
        data: bytes | bytearray | memoryview | None = None,
        stream: Iterable[bytes] | AsyncIterable[bytes] | None = None,
        is_async: bool = False,
        length: int = 0,
        trailers: Headers | None = None,
    ) -> None:
        self.data = data
        self.stream = stream
        self.is_async = is_async
        self.length = length
        self.trailers = trailers

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (it is not a one-time stream)."""
        return self.stream is None


#: The body of a request without content (shared by all of them: never changed).
NO_BODY = Body()


class Outgoing:
    """A request ready to send: the head, the body, where it goes."""

    __slots__ = ("method", "url", "request", "body", "expect_continue")

    def __init__(self, method: str, url: URL, request: Request, body: Body,
                 expect_continue: bool) -> None:
        self.method = method
        self.url = url
        self.request = request
        self.body = body
        #: The head carries ``Expect: 100-continue``: hold the body for the answer.
        self.expect_continue = expect_continue

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice is as good as once (RFC 9110 §9.2.2)."""
        return is_idempotent(self.method)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return str(value)


def header_list(headers: HeaderFields) -> list[tuple[str, str]]:
    """Header fields as a list of ``(str, str)`` pairs."""
    if headers is None:
        return []
    if isinstance(headers, Headers):
        return headers.to_list()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(_text(n), _text(v)) for n, v in items]


def session_fields(
    defaults: list[tuple[str, str]], headers: HeaderFields
) -> list[tuple[str, str]]:
    """A session's fields: the ``defaults`` that ``headers`` do not name, then
    ``headers``."""
    return _after_defaults(defaults, header_list(headers))


def _after_defaults(
    defaults: list[tuple[str, str]], given: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The ``defaults`` that ``given`` does not name, then ``given`` (a fresh list)."""
    if not given:
        return list(defaults)
    names = {n.lower() for n, _ in given}
    return [f for f in defaults if f[0].lower() not in names] + given


def build_request(
    method: str,
    url: URL,
    headers: HeaderFields = None,
    content: Content = None,
    *,
    json: Any = None,
    default_headers: list[tuple[str, str]] | None = None,
    target: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
    trailers: HeaderFields = None,
    expect_continue_threshold: int | None = None,
    content_type: str | None = None,
) -> Outgoing:
    """The head and body of a request to ``url``.

    ``target`` replaces the URL's (a proxy's absolute form); ``extra_headers`` go
    after the user's (a proxy's credentials). ``json`` is sent as :func:`json_content`
    with ``content_type`` :data:`JSON_TYPE`; a ``content_type`` is added after the
    fields unless they give one. ``Host`` is added first unless given;
    ``Content-Length`` for a buffer, ``Transfer-Encoding: chunked`` for a stream of
    unknown size (or one with ``trailers``); ``Content-Length: 0`` for a POST, PUT or
    PATCH without content. A body of at least ``expect_continue_threshold`` bytes
    is announced with ``Expect: 100-continue`` (RFC 9110 §10.1.1).
    """
    fields = header_list(headers)
    if default_headers:
        fields = _after_defaults(default_headers, fields)
    has_host = has_length = has_te = has_expect = False
    for name, _ in fields:
        size = len(name)
        if size == 4 or size == 14 or size == 17 or size == 6:
            low = name.lower()
            if low == "host":
                has_host = True
            elif low == "content-length":
                has_length = True
            elif low == "transfer-encoding":
                has_te = True
            elif low == "expect":
                has_expect = True
    if not has_host:
        fields.insert(0, ("Host", url.authority))
    if extra_headers:
        fields.extend(extra_headers)
    if json is not None:
        if content is not None:
            raise LocalProtocolError("give content or json, not both")
        content = json_content(json)
        content_type = JSON_TYPE
    if content_type is not None and not any(n.lower() == "content-type" for n, _ in fields):
        fields.append(("Content-Type", content_type))
    body = _body(content, fields, has_length, has_te, method)
    if trailers is not None:
        if has_length or body.data is not None:
            raise LocalProtocolError("trailers need a streamed, chunked body")
        if body is NO_BODY:
            body = Body()  # (a body of its own: the shared one stays unchanged)
        body.trailers = Headers(header_list(trailers))
    if has_expect:
        expect = any(n.lower() == "expect" and v.strip().lower() == "100-continue"
                     for n, v in fields)
    else:
        expect = (
            expect_continue_threshold is not None
            and body.length != CHUNKED
            and body.length >= max(expect_continue_threshold, 1)
        )
        if expect:
            fields.append(("Expect", "100-continue"))
    request = _Request_new(Request)  # (the fields are a fresh list: adopted, not copied)
    request.method = method
    request.target = target if target is not None else url.target
    request.version = HTTP_1_1
    request.headers = Headers._of_list(fields)
    return Outgoing(method, url, request, body, expect)


_Request_new = Request.__new__


def _body(content: Content, fields: list[tuple[str, str]], has_length: bool, has_te: bool,
          method: str) -> Body:
    if content is None or content == b"":
        if not has_length and not has_te and method in _BODY_METHODS:
            fields.append(("Content-Length", "0"))
        return NO_BODY
    if isinstance(content, str):
        content = content.encode("utf-8")
    if isinstance(content, (bytes, bytearray, memoryview)):
        data = content if isinstance(content, bytes) else memoryview(content).cast("B")
        size = len(data)
        if has_te:
            raise LocalProtocolError("content given whole cannot go with Transfer-Encoding")
        if has_length:
            declared = _declared_length(fields)
            if declared != size:
                raise LocalProtocolError(
                    f"Content-Length {declared} does not match {size} bytes of content")
        else:
            fields.append(("Content-Length", str(size)))
        return Body(data=data, length=size)
    if isinstance(content, AsyncIterable):
        stream: Iterable[bytes] | AsyncIterable[bytes] = content
        is_async = True
    elif isinstance(content, Iterable):
        stream, is_async = content, False
    else:
        raise TypeError(f"unsupported content type {type(content).__name__}")
    if has_length:
        return Body(stream=stream, is_async=is_async, length=_declared_length(fields))
    if not has_te:
        fields.append(("Transfer-Encoding", "chunked"))
    return Body(stream=stream, is_async=is_async, length=CHUNKED)


def _declared_length(fields: list[tuple[str, str]]) -> int:
    values = [v for n, v in fields if n.lower() == "content-length"]
    if len(values) != 1 or not values[0].strip().isdigit():
        raise LocalProtocolError(f"invalid Content-Length {values!r}")
    return int(values[0].strip())
