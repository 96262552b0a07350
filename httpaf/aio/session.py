"""Sending requests over pooled connections: routes, bodies, timeouts, one retry.

:class:`Session` is the machinery under :class:`httpaf.client.Client` and
:class:`httpaf.httpx.AsyncHTTPTransport`: it picks the route of a URL (straight, a
forward proxy, a tunnel), takes a connection from the pool, writes the head and the
body (whole and zero-copy, or streamed with backpressure, or held back for ``100
Continue``), waits for the response head and hands out a :class:`~.response.Response`.
A request whose reused connection turns out closed before any byte of the response is
sent once more on a new connection when that is safe: it is idempotent (or was never
written) and its body can be sent again.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from typing import Any, cast

from httpaf import __version__
from httpaf.connection import BodyWriter, PreparedRequest
from httpaf.model import Config, ConnectionClosed, StateError
from httpaf.net import (
    URL,
    Body,
    Limits,
    LocalProtocolError,
    Outgoing,
    PreparedRequests,
    Proxies,
    Proxy,
    RemoteProtocolError,
    Route,
    Routes,
    Timeout,
    TransportError,
    WriteError,
    WriteTimeout,
    retryable,
)
from httpaf.net.request import Content, HeaderFields, session_fields
from httpaf.net.tls import Cert, Verify

from .connector import open_connection
from .pool import Pool
from .pooled import Exchange, PooledProtocol
from .response import Response

__all__ = ["Session", "CLIENT_CONFIG", "EXPECT_CONTINUE_WAIT", "DEFAULT_HEADERS"]

#: Seconds to wait for ``100 Continue`` before sending a held-back body anyway
#: (RFC 9110 §10.1.1: a client need not wait for ever).
EXPECT_CONTINUE_WAIT = 1.0
#: Fields every request carries unless it gives its own.
DEFAULT_HEADERS: list[tuple[str, str]] = [("User-Agent", f"httpaf/{__version__}")]
# A body this large goes out as it is (zero-copy) rather than copied with the head.
_SCHEDULE_AT = 16384
#: The engine's settings for clients unless given: reads of 256 KiB (as asyncio's own
#: transports read), so a large body takes a quarter of the reads. The loop's clients
#: share the one read buffer.
CLIENT_CONFIG = Config(read_buffer_size=256 * 1024)


class Session:
    """Requests over a pool of connections (see the module docstring)."""

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
        self.config = config if config is not None else CLIENT_CONFIG
        self.limits = limits if limits is not None else Limits()
        self.timeout = timeout if timeout is not None else Timeout()
        self._routes = Routes(
            verify=verify, cert=cert, trust_env=trust_env, ssl_context=ssl_context,
            proxies=Proxies(proxy, trust_env if proxy_from_env is None else proxy_from_env),
            uds=uds, local_address=local_address, socket_options=socket_options,
        )
        self.headers = session_fields(DEFAULT_HEADERS, headers)
        self.expect_continue_threshold = expect_continue_threshold
        self.retries = retries  # extra attempts when a connection cannot be opened
        self._pool = Pool(self.limits, self._open)
        #: A connection goes back to the pool as soon as its response has arrived
        #: (else only once the application read the body to its end or closed it).
        self.release_early = release_early
        self._closed = False
        # Bodiless requests, built and serialized once.
        self._prepared = PreparedRequests(PreparedRequest, expect_continue_threshold)

    @property
    def pool(self) -> Pool:
        """The connection pool."""
        return self._pool

    def route(self, url: URL, sni: str | None = None) -> Route:
        """How to reach ``url``'s origin."""
        return self._routes.route(url, sni)

    async def _open(self, route: Route, timeout: float | None, trace: Any) -> PooledProtocol:
        attempts = self.retries + 1
        while True:
            attempts -= 1
            try:
                return await open_connection(
                    route, timeout, self.config, self.limits.keepalive_expiry, trace
                )
            except TransportError:
                if attempts <= 0:
                    raise
                await asyncio.sleep(0.05)

    # -- requests ----------------------------------------------------------------------

    async def request(
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
    ) -> Response:
        """Send a request; the response, once its head is in (its body streams).

        ``default_headers=False`` sends only the fields given (and the framing ones).
        ``trace(event, info)``, a coroutine function, hears of each step by the names
        of httpx's ``trace`` extension (``trace_request`` is the request it reports).
        """
        if self._closed:
            raise TransportError("the client is closed")
        if not isinstance(url, URL):
            url = URL.parse(url)
        if timeout is None:
            timeout = self.timeout
        route = self._routes.route(url, sni)
        out, prepared = self._prepared.request(
            method, url, route, headers, content, json, trailers,
            self.headers if default_headers else None,
        )
        if trace is not None:
            return await self._traced(route, out, timeout, trace, trace_request)
        pool = self._pool
        # A request that cannot be sent again (below) goes on an idle connection only
        # once the socket shows nothing came while it was idle (a close, say).
        resendable = out.body.replayable and out.idempotent
        proto = pool.take_idle(route.key, not resendable)
        if proto is None:
            proto = await pool.acquire(route.key, route, timeout.connect, timeout.pool,
                                       checked=not resendable)
        try:
            return await self.exchange(proto, out, timeout, prepared)
        except TransportError as error:
            if not (out.body.replayable and retryable(error)):
                raise
            sent = getattr(error.__cause__, "request_sent", True)
            if sent and (proto.uses == 1 or not out.idempotent):
                raise  # a new connection failed, or a request that changes things
        # The reused connection was closed under us: once more, on a new one.
        proto = await pool.acquire(route.key, route, timeout.connect, timeout.pool, fresh=True)
        return await self.exchange(proto, out, timeout, prepared)

    async def _traced(self, route: Route, out: Outgoing, timeout: Timeout, trace: Any,
                      request: Any) -> Response:
        """:meth:`request`, telling ``trace`` of each step (no retry)."""
        proto = self._pool.take_idle(route.key, True)  # (no retry: checked)
        if proto is None:
            proto = await self._pool.acquire(
                route.key, route, timeout.connect, timeout.pool, trace=trace, checked=True
            )
        info = {"request": request}
        await trace("http11.send_request_headers.started", info)
        await trace("http11.send_request_headers.complete", info)
        await trace("http11.send_request_body.started", info)
        try:
            response = await self.exchange(proto, out, timeout)
        except BaseException as error:
            await trace("http11.receive_response_headers.failed", {"exception": error})
            raise
        await trace("http11.send_request_body.complete", info)
        await trace("http11.receive_response_headers.started", info)
        head = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers.to_list()]
        await trace("http11.receive_response_headers.complete", {
            "return_value": (response.http_version.encode("ascii"), response.status,
                             response.reason.encode("latin-1", "replace"), head),
        })
        return response

    async def exchange(self, proto: PooledProtocol, out: Outgoing, timeout: Timeout,
                       prepared: PreparedRequest | None = None) -> Response:
        """Send ``out`` on ``proto`` (the pool handed it out); the response head.

        ``prepared``, if given, is ``out.request`` serialized already.
        """
        exchange = self._begin(proto, out, prepared, timeout)
        if exchange.sending:
            await self._finish_sending(proto, exchange, out, timeout)
        if exchange.head is None and exchange.error is None:
            waiter = exchange.waiter = proto.loop.create_future()
            try:
                await waiter
            except BaseException:  # cancelled: the connection cannot be reused
                proto.abandon(exchange)
                raise
        if exchange.head is None:
            raise cast(BaseException, exchange.error)  # (the wait ends on head or error)
        return Response(exchange, out.url, out.method)

    def _begin(self, proto: PooledProtocol, out: Outgoing, prepared: PreparedRequest | None,
               timeout: Timeout) -> Exchange:
        """Start the exchange of ``out`` on ``proto``: its head and a whole body go out
        now. The exchange's ``sending`` stays set when more is to be done (a streamed
        or held-back body, a transport that asks to wait): :meth:`_finish_sending`."""
        exchange = Exchange(proto, timeout.read)
        if not self.release_early:
            exchange.hold = True
        proto.begin(exchange)
        body = out.body
        hold = out.expect_continue
        whole = body.stream is None and not hold
        conn = proto.conn
        if not conn.is_idle:
            # Closed (or found out of step) after the pool handed it over: nothing sent.
            proto.close()
            raise _closed_before_sending()
        proto._busy = True
        try:
            writer = conn.request(
                out.request if prepared is None else prepared, exchange.on_response,
                exchange.on_error, exchange.on_interim if hold else None,
            )
            if whole:
                data = body.data
                if data is not None:
                    if len(data) >= _SCHEDULE_AT and type(data) is bytes:
                        writer.schedule(data)
                    else:
                        writer.write(data)
                writer.close()
        except (ValueError, StateError) as error:
            proto._busy = False
            proto.close()
            raise LocalProtocolError(str(error)) from error
        finally:
            proto._busy = False
        exchange.writer = writer
        proto._writer_wanted = True  # (the reader reads already: an idle connection does)
        proto._pump()
        if whole and not proto._write_paused:
            exchange.sending = False
        return exchange

    async def _finish_sending(self, proto: PooledProtocol, exchange: Exchange, out: Outgoing,
                              timeout: Timeout) -> None:
        """The rest of :meth:`_begin`'s work: the body, or the wait for the transport."""
        writer = cast(BodyWriter, exchange.writer)  # (set with the head)
        try:
            if out.body.stream is None and not out.expect_continue:
                # Whole and written: the transport holds more than it should.
                await _drain(proto, exchange, timeout.write)
            else:
                await self._send_body(proto, exchange, writer, out, out.body, timeout.write)
        except BaseException:
            proto.abandon(exchange)
            raise
        exchange.sending = False
        if out.body.stream is not None or out.expect_continue:
            proto._drive()

    async def _send_body(
        self,
        proto: PooledProtocol,
        exchange: Exchange,
        writer: BodyWriter,
        out: Outgoing,
        body: Body,
        write_timeout: float | None,
    ) -> None:
        if out.expect_continue:
            if not exchange.continued and exchange.head is None and exchange.error is None:
                waiter = exchange.interim_waiter = proto.loop.create_future()
                try:
                    await asyncio.wait_for(waiter, EXPECT_CONTINUE_WAIT)
                except asyncio.TimeoutError:
                    pass  # no answer: send the body anyway
            if exchange.error is not None:
                return
            if exchange.head is not None and not exchange.continued:
                # A final answer before 100 Continue: the body is not wanted. The
                # connection ends after that response (its request is incomplete).
                writer.abort()
                return
        if body.data is not None:
            data = body.data
            if len(data) >= _SCHEDULE_AT and type(data) is bytes:
                writer.schedule(data)
            else:
                writer.write(data)
            writer.close()
            proto._drive()
            await _drain(proto, exchange, write_timeout)
            return
        if body.stream is None:
            writer.close()
            return
        if body.is_async:
            async for piece in body.stream:  # type: ignore[union-attr]
                if not self._write_piece(proto, exchange, writer, piece):
                    return
                await _drain(proto, exchange, write_timeout)
        else:
            for piece in body.stream:  # type: ignore[union-attr]
                if not self._write_piece(proto, exchange, writer, piece):
                    return
                await _drain(proto, exchange, write_timeout)
        if exchange.error is None:
            writer.close(body.trailers)

    @staticmethod
    def _write_piece(
        proto: PooledProtocol, exchange: Exchange, writer: BodyWriter, piece: Any
    ) -> bool:
        """Write one piece of a streamed body; ``False`` when the body should stop."""
        if exchange.error is not None:
            return False
        head = exchange.head
        if head is not None and head.status >= 300:
            # RFC 9112 §9.5: the server answered without wanting the rest.
            writer.abort()
            return False
        if isinstance(piece, str):
            piece = piece.encode("utf-8")
        if not isinstance(piece, (bytes, bytearray, memoryview)):
            raise TypeError(f"a request body piece must be bytes, not {type(piece).__name__}")
        if not piece:
            return True
        try:
            if type(piece) is bytes and len(piece) >= _SCHEDULE_AT:
                writer.schedule(piece)
            else:
                writer.write(piece)
        except ValueError as error:  # more than Content-Length says
            proto.close()
            raise LocalProtocolError(str(error)) from error
        writer.flush()
        return True

    async def aclose(self) -> None:
        """Close every connection."""
        self._closed = True
        await self._pool.aclose()


def _closed_before_sending() -> RemoteProtocolError:
    error = RemoteProtocolError("the server closed the connection before the request")
    error.__cause__ = ConnectionClosed("connection closed", False, False)
    return error


async def _drain(proto: PooledProtocol, exchange: Exchange, timeout: float | None) -> None:
    """Wait while the transport's buffer is full (the server does not read)."""
    waiter = proto.writable()
    if waiter is None:
        return
    try:
        if timeout is None:
            await waiter
        else:
            await asyncio.wait_for(waiter, timeout)
    except asyncio.TimeoutError:
        proto.conn.report_exn(WriteTimeout(f"the request could not be written in {timeout} s"))
        proto.close()
        raise WriteTimeout(f"the request could not be written in {timeout} s") from None
    if proto._lost and exchange.error is None and exchange.head is None:
        # (With the answer in, the server closed on purpose: that answer stands.)
        raise WriteError("the connection closed while the request was being written")

