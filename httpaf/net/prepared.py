"""Requests without a body, built once and sent again as they were.

A client asks for the same few URLs with the same fields again and again; the head of
such a request is the same each time, so it is built, checked and serialized once.
:class:`PreparedRequests` keeps them per session: a request of a method, a URL and
(optionally) a list of field pairs, with no content, ``json`` or trailers, sent
directly (not through a forward proxy). Anything else is built each time.

The serialized form is made by the runtime's connection layer (``prepare``, e.g.
:class:`httpaf.connection.PreparedRequest`); this module only keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from .request import Content, HeaderFields, Outgoing, build_request
from .route import Route
from .url import URL

__all__ = ["PreparedRequests"]

#: Requests kept per session (all are dropped when it is full).
PREPARED_LIMIT = 256


class PreparedRequests:
    """The bodiless requests of one session, built once (see the module docstring)."""

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
        :meth:`get`) when it has no body and goes straight to the origin, else one
        built now (prepared form ``None``), with the absolute URL and the proxy's
        fields when it goes through a forward proxy."""
        if content is None and json is None and trailers is None and not route.forward:
            known = self.get(method, url, headers, defaults)
            if known is not None:
                return known
        forward = route.forward
        out = build_request(
            method, url, headers, content, json=json, default_headers=defaults,
            target=url.absolute if forward else None,
            extra_headers=route.proxy_headers if forward else None,
            trailers=trailers, expect_continue_threshold=self._expect_continue_threshold,
        )
        return out, None

    def get(self, method: str, url: URL, headers: HeaderFields,
            defaults: list[tuple[str, str]] | None) -> tuple[Outgoing, Any] | None:
        """The request of ``method``, ``url``, ``headers`` after the session's
        ``defaults`` (``None``: none) and its prepared form; or ``None`` for one not
        kept: ``headers`` must be ``None`` or a list of pairs (the key is made of them)."""
        if headers is None:
            key: Hashable = (method, url, defaults is None)
        elif type(headers) is list:
            key = (method, url, defaults is None, tuple(headers))
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
            known = self._make(key, method, url, headers, defaults is not None)
        return known

    def __len__(self) -> int:
        """How many requests are kept."""
        return len(self._known)

    def _make(self, key: Hashable, method: str, url: URL, headers: HeaderFields,
              default_headers: bool) -> tuple[Outgoing, Any]:
        out = build_request(
            method, url, headers, default_headers=self._snapshot if default_headers else None,
            expect_continue_threshold=self._expect_continue_threshold,
        )
        try:
            prepared = self._prepare(out.request)
        except ValueError:
            prepared = None
        known = self._known
        if len(known) >= PREPARED_LIMIT:
            known.clear()
        entry = known[key] = (out, prepared)
        return entry
