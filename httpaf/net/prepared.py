"""Request heads built once and sent again as they were.

A client asks for the same few URLs with the same fields again and again, and posts
bodies of the same few sizes; the head of such a request is the same each time, so it
is built, checked and serialized once. :class:`PreparedRequests` keeps them per
session: a request of a method, a URL, no fields or a list or dict of them, and no
content, or content given as ``bytes`` or ``json=`` of up to 64 KiB (the head is kept
per content length and kind, the content goes after it as given), with no trailers,
sent directly (not through a forward proxy). Anything else is built each time.

The serialized form is made by the runtime's connection layer (``prepare``, e.g.
:class:`httpaf.connection.PreparedRequest`); this module only keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from .request import (
    JSON_TYPE,
    NO_BODY,
    Body,
    Content,
    HeaderFields,
    Outgoing,
    build_request,
    json_content,
)
from .route import Route
from .url import URL

__all__ = ["PreparedRequests"]

#: Requests kept per session (all are dropped when it is full).
PREPARED_LIMIT = 256
#: The largest content whose head is kept: a larger body costs far more to send than
#: its head to build, and its sizes vary (each would take an entry).
KEPT_CONTENT_LIMIT = 65536


class PreparedRequests:
    """The request heads of one session, built once (see the module docstring)."""

    __slots__ = ("_prepare", "_snapshot", "_known", "_expect_continue_threshold")

    def __init__(self, prepare: Callable[[Any], Any],
                 expect_continue_threshold: int | None) -> None:
        #: ``prepare(request)``: the request serialized once (``ValueError`` if it
        #: cannot be sent: the request then goes unprepared, to fail as it would).
        self._prepare = prepare
        self._snapshot: list[tuple[str, str]] = []  # the defaults the kept ones have
        self._known: dict[Hashable, tuple[Outgoing, Any]] = {}
        self._expect_continue_threshold = expect_continue_threshold

    def request(self, method: str, url: URL, route: Route, headers: HeaderFields,
                content: Content, json: Any, trailers: HeaderFields,
                defaults: list[tuple[str, str]] | None) -> tuple[Outgoing, Any]:
        """The request to send on ``route`` and its prepared form: a kept one (see
        :meth:`get`) when its content is none, ``bytes`` or ``json`` and it goes
        straight to the origin, else one built now (prepared form ``None``), with the
        absolute URL and the proxy's fields when it goes through a forward proxy."""
        forward = route.forward
        content_type = None
        if json is not None and content is None:
            content, json, content_type = json_content(json), None, JSON_TYPE
        if json is None and trailers is None and not forward:
            if content is None:
                known = self.get(method, url, headers, defaults)
                if known is not None:
                    return known
            elif type(content) is bytes and len(content) <= KEPT_CONTENT_LIMIT:
                size = len(content)
                known = self.get(method, url, headers, defaults, size, content_type)
                if known is not None:
                    if not size:
                        return known  # (empty content is no content)
                    out, prepared = known
                    # The kept head with this request's content after it.
                    body = Body(data=content, length=size)
                    return Outgoing(method, url, out.request, body, out.expect_continue), prepared
        out = build_request(
            method, url, headers, content, json=json, default_headers=defaults,
            target=url.absolute if forward else None,
            extra_headers=route.proxy_headers if forward else None,
            trailers=trailers, expect_continue_threshold=self._expect_continue_threshold,
            content_type=content_type,
        )
        return out, None

    def get(self, method: str, url: URL, headers: HeaderFields,
            defaults: list[tuple[str, str]] | None,
            length: int | None = None,
            content_type: str | None = None) -> tuple[Outgoing, Any] | None:
        """The request of ``method``, ``url``, ``headers`` after the session's
        ``defaults`` (``None``: none) and its prepared form; or ``None`` for one not
        kept: ``headers`` must be ``None``, a list of pairs or a dict (the key is made
        of them). ``length``: the byte count of the content the head announces (the
        kept request's body is then empty: the caller puts its own content after the
        head); ``None``: no content. ``content_type``: a Content-Type added unless the
        fields give one (a JSON body's)."""
        if headers is None:
            key: Hashable = (method, url, defaults is None, length, content_type)
        elif type(headers) is list:
            key = (method, url, defaults is None, length, content_type, tuple(headers))
        elif type(headers) is dict:
            key = (method, url, defaults is None, length, content_type,
                   tuple(headers.items()))
        else:
            return None
        if defaults is not None and defaults != self._snapshot:
            # The session's default fields changed (or are seen first): build anew.
            self._known.clear()
            self._snapshot = list(defaults)
        try:
            known = self._known.get(key)
        except TypeError:  # (pairs of unhashable values)
            return None
        if known is None:
            known = self._make(key, method, url, headers, defaults is not None, length,
                               content_type)
        return known

    def __len__(self) -> int:
        """How many requests are kept."""
        return len(self._known)

    def _make(self, key: Hashable, method: str, url: URL, headers: HeaderFields,
              default_headers: bool, length: int | None,
              content_type: str | None) -> tuple[Outgoing, Any]:
        # (A stand-in content of the length: the head is what it would be for any.)
        out = build_request(
            method, url, headers, None if length is None else bytes(length),
            default_headers=self._snapshot if default_headers else None,
            expect_continue_threshold=self._expect_continue_threshold,
            content_type=content_type,
        )
        if length:
            out.body = NO_BODY  # (not the stand-in: it is not kept)
        try:
            prepared = self._prepare(out.request)
        except ValueError:
            prepared = None
        known = self._known
        if len(known) >= PREPARED_LIMIT:
            known.clear()
        entry = known[key] = (out, prepared)
        return entry
