"""Sending requests over pooled blocking connections: :class:`SyncSession`.

The blocking twin of :class:`httpaf.aio.session.Session` (the machinery under
:class:`httpaf.httpx.HTTPTransport`): the same routes, request building, ``Expect:
100-continue`` and one retry on a fresh connection when a reused one turns out closed
before any byte of the response.
"""

from __future__ import annotations

import json as _json
import ssl as _ssl
from collections.abc import Iterator
from typing import Any

from httpaf import __version__
from httpaf.connection import PreparedRequest
from httpaf.model import Config, Headers
from httpaf.net import (
    URL,
    Limits,
    Outgoing,
    PreparedRequests,
    Proxies,
    Proxy,
    Routes,
    StreamClosed,
    Timeout,
    TransportError,
    retryable,
)
from httpaf.net.request import Content, HeaderFields, session_fields
from httpaf.net.response import ResponseHead
from httpaf.net.tls import Cert, Verify

from .connection import SyncConnection, SyncExchange
from .pool import SyncPool

__all__ = ["SyncSession", "SyncResponse", "EXPECT_CONTINUE_WAIT"]

#: Seconds to wait for ``100 Continue`` before sending a held-back body anyway.
EXPECT_CONTINUE_WAIT = 1.0
_DEFAULT_HEADERS: list[tuple[str, str]] = [("User-Agent", f"httpaf/{__version__}")]


class SyncResponse(ResponseHead):
    """A response: ``status``, ``reason``, ``headers``; the body read or iterated."""

    __slots__ = ("_exchange", "_conn", "_session", "_read_timeout", "_content", "_closed",
                 "_done", "_handed")

    def __init__(self, exchange: SyncExchange, session: SyncSession, url: URL, method: str,
                 read_timeout: float | None) -> None:
        ResponseHead.__init__(self, exchange.head, url, method)
        self._exchange = exchange
        self._conn = exchange.conn
        self._session = session
        self._read_timeout = read_timeout
        self._content: bytes | None = None
        self._closed = False
        self._done = exchange.released  # the connection went back already
        self._handed = False  # a piece went out by iteration

    @property
    def trailers(self) -> Headers | None:
        """A chunked body's trailer fields (after its end), else ``None``."""
        reader = self._exchange.reader
        return None if reader is None else reader.trailers

    @property
    def content(self) -> bytes:
        """The body, once :meth:`read` returned it."""
        if self._content is None:
            raise StreamClosed("the body has not been read: call response.read() first")
        return self._content

    def json(self) -> Any:
        """The body read, as JSON."""
        return _json.loads(self.content)

    def read(self) -> bytes:
        """The whole body (kept: a second call gives it again); not once part of it was
        taken by iteration (:class:`StreamClosed`)."""
        if self._content is None:
            if self._handed:
                raise StreamClosed.partly_read()
            whole = None if self._closed else self._take_whole()
            if whole is not None:
                self._content = whole
                return whole
            pieces = list(self.iter_bytes())
            self._content = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return self._content

    def iter_bytes(self) -> Iterator[bytes]:
        """The body piece by piece, as it arrives."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        if self._closed:
            raise StreamClosed("the response was closed before its body was read")
        whole = self._take_whole()
        if whole is not None:
            if whole:
                self._handed = True
                yield whole
            return
        try:
            for piece in self._conn.body_pieces(self._exchange, self._read_timeout, self._end):
                self._handed = True
                yield piece
        except BaseException:
            self.close()
            raise
        self._closed = True

    __iter__ = iter_bytes

    def _take_whole(self) -> bytes | None:
        """The body at once if all of it is in (then it has ended), else ``None``."""
        whole = self._conn.whole_body(self._exchange)
        if whole is not None:
            self._closed = True
            self._end()
        return whole

    def _end(self) -> None:
        """The body ended: the connection may serve the next request."""
        if not self._done:
            self._done = True
            self._session.done(self._conn)

    def close(self) -> None:
        """Close the response; a body not read to its end closes its connection."""
        if self._closed and self._done:
            return
        self._closed = True
        if not self._done:
            self._done = True
            reader = self._exchange.reader
            if reader is not None and reader.at_eof and self._conn.conn.is_idle:
                self._session.done(self._conn)
            else:
                self._session.pool.discard(self._conn)

    def __del__(self) -> None:
        if not self._done:
            # Dropped before its end: its connection cannot serve anyone else. (From a
            # finalizer, which may run inside the pool's lock: give_up minds that.)
            self._done = True
            self._session.pool.give_up(self._conn)

    def __enter__(self) -> SyncResponse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SyncSession:
    """Requests over a pool of blocking connections."""

    def __init__(
        self,
        *,
        config: Config | None = None,
        limits: Limits | None = None,
        timeout: Timeout | None = None,
        verify: Verify = True,
        cert: Cert | None = None,
        trust_env: bool = True,
        proxy: Proxy | str | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        headers: HeaderFields = None,
        expect_continue_threshold: int | None = 1 << 20,
        retries: int = 0,
        ssl_context: _ssl.SSLContext | None = None,
        proxy_from_env: bool | None = None,
        socket_options: list[tuple[int, int, int]] | None = None,
        release_early: bool = True,
    ) -> None:
        self.config = config if config is not None else Config()
        self.limits = limits if limits is not None else Limits()
        self.timeout = timeout if timeout is not None else Timeout()
        self.routes = Routes(
            verify=verify, cert=cert, trust_env=trust_env, ssl_context=ssl_context,
            proxies=Proxies(proxy, trust_env if proxy_from_env is None else proxy_from_env),
            uds=uds, local_address=local_address, socket_options=socket_options,
        )
        self.headers = session_fields(_DEFAULT_HEADERS, headers)
        self.expect_continue_threshold = expect_continue_threshold
        self.retries = retries
        self.pool = SyncPool(self.limits, self.config)
        # Bodiless requests, built and serialized once.
        self._prepared = PreparedRequests(PreparedRequest, expect_continue_threshold)
        #: A connection goes back to the pool as soon as its response has arrived
        #: (else only once the application read the body to its end or closed it).
        self.release_early = release_early

    def request(
        self,
        method: str,
        url: str | URL,
        *,
        headers: HeaderFields = None,
        content: Content = None,
        json: Any = None,
        trailers: HeaderFields = None,
        timeout: Timeout | None = None,
        sni: str | None = None,
        default_headers: bool = True,
        trace: Any = None,
        trace_request: Any = None,
    ) -> SyncResponse:
        """Send a request; the response once its head is in (its body streams).

        ``trace(event, info)`` hears of each step by the names of httpx's ``trace``
        extension (``trace_request`` is the request it reports).
        """
        if not isinstance(url, URL):
            url = URL.parse(url)
        timeout = timeout if timeout is not None else self.timeout
        route = self.routes.route(url, sni)
        out, prepared = self._prepared.request(
            method, url, route, headers, content, json, trailers,
            self.headers if default_headers else None,
        )
        if trace is not None:
            return self._traced(route, out, timeout, trace, trace_request)
        conn = self._acquire(route, timeout, fresh=False)
        try:
            return self._send(conn, out, timeout, prepared)
        except TransportError as error:
            if not (out.body.replayable and retryable(error)):
                raise
            sent = getattr(error.__cause__, "request_sent", True)
            if sent and (conn.uses == 1 or not out.idempotent):
                raise
        conn = self._acquire(route, timeout, fresh=True)
        return self._send(conn, out, timeout, prepared)

    def _traced(self, route: Any, out: Outgoing, timeout: Timeout, trace: Any,
                request: Any) -> SyncResponse:
        """:meth:`request`, telling ``trace`` of each step (no retry)."""
        conn = self._acquire(route, timeout, fresh=False, trace=trace)
        info = {"request": request}
        trace("http11.send_request_headers.started", info)
        trace("http11.send_request_headers.complete", info)
        trace("http11.send_request_body.started", info)
        try:
            response = self._send(conn, out, timeout)
        except BaseException as error:
            trace("http11.receive_response_headers.failed", {"exception": error})
            raise
        trace("http11.send_request_body.complete", info)
        trace("http11.receive_response_headers.started", info)
        head = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers.to_list()]
        trace("http11.receive_response_headers.complete", {
            "return_value": (response.http_version.encode("ascii"), response.status,
                             response.reason.encode("latin-1", "replace"), head),
        })
        return response

    def _acquire(self, route: Any, timeout: Timeout, fresh: bool,
                 trace: Any = None) -> SyncConnection:
        attempts = self.retries + 1
        while True:
            attempts -= 1
            try:
                return self.pool.acquire(route, timeout.connect, timeout.pool, fresh, trace)
            except TransportError as error:
                if attempts <= 0 or type(error).__name__ == "PoolTimeout":
                    raise

    def _send(self, conn: SyncConnection, out: Outgoing, timeout: Timeout,
              prepared: PreparedRequest | None = None) -> SyncResponse:
        try:
            exchange = conn.send(out, timeout.read, timeout.write, EXPECT_CONTINUE_WAIT,
                                 prepared)
        except BaseException:
            self.pool.discard(conn)
            raise
        if self.release_early and conn.conn.is_idle:  # the whole response is in
            exchange.released = True
            self.pool.release(conn)
        return SyncResponse(exchange, self, out.url, out.method, timeout.read)

    def done(self, conn: SyncConnection) -> None:
        """A response ended: its connection goes back to the pool (or closes)."""
        if conn.conn.is_idle and not conn.closed:
            self.pool.release(conn)
        else:
            self.pool.discard(conn)

    def close(self) -> None:
        """Close the pool's connections."""
        self.pool.close()
