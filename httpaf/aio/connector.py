"""Opening client connections: TCP or a Unix socket, TLS, and tunnels through proxies.

A :class:`Route` says how to reach a server: straight to it, through a forward proxy
(plain ``http``: requests go to the proxy in absolute form), or through a ``CONNECT``
tunnel (``https``: TLS with the origin inside the tunnel, RFC 9110 §9.3.6).
:func:`open_connection` opens one within the connect timeout and hands back the
:class:`~httpaf.aio.pooled.PooledProtocol` on it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Hashable
from typing import Any

from httpaf.model import Config, ParseError, Request, Response
from httpaf.net import ConnectError, ConnectTimeout, ProxyError
from httpaf.wire import ResponseParser, Serializer

from .pooled import PooledProtocol

__all__ = ["Route", "open_connection"]


class Route:
    """How to reach a server; ``key`` names the connections that can be shared."""

    __slots__ = (
        "key", "host", "port", "ssl", "server_hostname", "uds", "forward",
        "proxy_headers", "tunnel", "tunnel_ssl", "tunnel_hostname", "local_address",
    )  # fmt: skip

    def __init__(
        self,
        key: Hashable,
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        uds: str | None = None,
        forward: bool = False,
        proxy_headers: list[tuple[str, str]] | None = None,
        tunnel: str | None = None,
        tunnel_ssl: ssl.SSLContext | None = None,
        tunnel_hostname: str | None = None,
        local_address: str | None = None,
    ) -> None:
        self.key = key
        self.host = host
        self.port = port
        self.ssl = ssl  # TLS to (host, port): the origin, or an https proxy
        self.server_hostname = server_hostname
        self.uds = uds
        self.forward = forward  # a forward proxy: absolute-form targets
        self.proxy_headers = proxy_headers
        self.tunnel = tunnel  # "host:port" to CONNECT to through the proxy
        self.tunnel_ssl = tunnel_ssl  # TLS to the origin, inside the tunnel
        self.tunnel_hostname = tunnel_hostname
        self.local_address = local_address


async def open_connection(
    route: Route, timeout: float | None, config: Config, expiry: float | None
) -> PooledProtocol:
    """A connection for ``route``, within ``timeout`` seconds (:class:`ConnectTimeout`)."""
    loop = asyncio.get_running_loop()

    def factory() -> PooledProtocol:
        return PooledProtocol(config, None, route.key, expiry)

    try:
        async with asyncio.timeout(timeout):
            if route.tunnel is not None:
                return await _tunnel(loop, route, factory)
            proto: Any
            if route.uds is not None:
                _, proto = await loop.create_unix_connection(
                    factory, route.uds, ssl=route.ssl,
                    server_hostname=_hostname(route) if route.ssl else None,
                )
            else:
                _, proto = await loop.create_connection(
                    factory, route.host, route.port, ssl=route.ssl,
                    server_hostname=_hostname(route) if route.ssl else None,
                    local_addr=(route.local_address, 0) if route.local_address else None,
                )
    except TimeoutError:
        raise ConnectTimeout(f"connecting to {route.host}:{route.port} took over {timeout} s") from None
    except (OSError, ssl.SSLError, ssl.CertificateError) as error:
        raise ConnectError(f"cannot connect to {route.host}:{route.port}: {error}") from error
    if route.forward:
        proto.forward = True
        proto.proxy_headers = route.proxy_headers
    return proto  # type: ignore[no-any-return]


def _hostname(route: Route) -> str:
    return route.server_hostname or route.host


class _Tunnel(asyncio.Protocol):
    """Sends ``CONNECT`` to a proxy and reads its answer (RFC 9110 §9.3.6)."""

    def __init__(self, request: bytes, done: asyncio.Future[bytes]) -> None:
        self.request = request
        self.done = done
        self.parser = ResponseParser(Config())
        self.parser.request_method = "CONNECT"
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self.buffer += data
        try:
            while True:
                event = self.parser.parse(self.buffer, 0, len(self.buffer), False)
                del self.buffer[: self.parser.consumed]
                if event is None:
                    return
                if isinstance(event, Response) and not 100 <= event.status < 200:
                    if 200 <= event.status < 300:
                        self.done.set_result(bytes(self.buffer))
                    else:
                        self.done.set_exception(
                            ProxyError(f"the proxy refused the tunnel: {event.status} {event.reason}")
                        )
                    return
        except ParseError as error:
            self.done.set_exception(ProxyError(f"invalid answer from the proxy: {error.message}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ProxyError("the proxy closed the connection"))


async def _tunnel(loop: asyncio.AbstractEventLoop, route: Route, factory: Any) -> PooledProtocol:
    authority = route.tunnel
    assert authority is not None
    serializer = Serializer()
    fields = [("Host", authority), *(route.proxy_headers or [])]
    serializer.write_request_head(Request("CONNECT", authority, fields))
    request = serializer.take(1 << 20) or b""
    done: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_connection(
        lambda: _Tunnel(request, done), route.host, route.port, ssl=route.ssl,
        server_hostname=_hostname(route) if route.ssl else None,
    )
    try:
        leftover = await done
        proto = factory()
        if route.tunnel_ssl is not None:
            inner = await loop.start_tls(
                transport, proto, route.tunnel_ssl,
                server_hostname=route.tunnel_hostname or authority.rpartition(":")[0],
            )
            if inner is None:
                raise ConnectError("TLS inside the tunnel failed")
            proto.connection_made(inner)
        else:
            transport.set_protocol(proto)
            proto.connection_made(transport)
            if leftover:
                proto.data_received(leftover)
        return proto  # type: ignore[no-any-return]
    except BaseException:
        transport.abort()
        raise
