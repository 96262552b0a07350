"""Opening client connections: TCP or a Unix socket, TLS, and tunnels through proxies.

A :class:`~httpaf.net.Route` says how to reach a server; :func:`open_connection` opens
a connection on it within the connect timeout (a ``CONNECT`` tunnel first when the
route goes through one, then TLS with the origin inside it) and hands back the
:class:`~httpaf.aio.pooled.PooledProtocol` on it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

from httpaf.model import Config
from httpaf.net import ConnectError, ConnectTimeout, ProxyError, Route, TraceStream, Tunnel

from .pooled import PooledProtocol

__all__ = ["open_connection"]


async def open_connection(
    route: Route, timeout: float | None, config: Config, expiry: float | None,
    trace: Any = None,
) -> PooledProtocol:
    """A connection for ``route``, within ``timeout`` seconds (:class:`ConnectTimeout`).

    ``trace(event, info)``, a coroutine function, hears of the connection's steps by
    the names httpx's ``trace`` extension uses (``connection.connect_tcp.started``...).
    """
    if trace is None:
        return await _open(route, timeout, config, expiry)
    step = "connection.connect_unix_socket" if route.uds else "connection.connect_tcp"
    await trace(f"{step}.started", {"host": route.host, "port": route.port,
                                    "local_address": route.local_address, "timeout": timeout,
                                    "socket_options": route.socket_options})
    try:
        proto = await _open(route, timeout, config, expiry)
    except BaseException as error:
        await trace(f"{step}.failed", {"exception": error})
        raise
    stream = TraceStream(proto._transport)
    await trace(f"{step}.complete", {"return_value": stream})
    if route.ssl is not None or route.tunnel_ssl is not None:
        await trace("connection.start_tls.started", {
            "ssl_context": route.ssl or route.tunnel_ssl,
            "server_hostname": _hostname(route),
            "timeout": timeout,
        })
        await trace("connection.start_tls.complete", {"return_value": stream})
    return proto


async def _open(
    route: Route, timeout: float | None, config: Config, expiry: float | None
) -> PooledProtocol:
    loop = asyncio.get_running_loop()

    def factory() -> PooledProtocol:
        return PooledProtocol(config, None, route.key, expiry)

    async def connect() -> PooledProtocol:
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
                factory, ssl=route.ssl,
                server_hostname=_hostname(route) if route.ssl else None,
                **await _where(loop, route),
            )
        return proto  # type: ignore[no-any-return]

    try:
        # (wait_for, not asyncio.timeout: Python 3.10 has no asyncio.timeout)
        proto = await (connect() if timeout is None else asyncio.wait_for(connect(), timeout))
    except asyncio.TimeoutError:
        raise ConnectTimeout(
            f"connecting to {route.host}:{route.port} took over {timeout} s"
        ) from None
    except (OSError, ssl.SSLError, ssl.CertificateError) as error:
        raise ConnectError(f"cannot connect to {route.host}:{route.port}: {error}") from error
    if route.forward:
        proto.forward = True
        proto.proxy_headers = route.proxy_headers
    return proto


async def _where(loop: asyncio.AbstractEventLoop, route: Route) -> dict[str, Any]:
    """``create_connection``'s address arguments: a host and port, or a socket made
    here when socket options must be set before connecting."""
    local = (route.local_address, 0) if route.local_address else None
    if not route.socket_options:
        return {"host": route.host, "port": route.port, "local_addr": local}
    infos = await loop.getaddrinfo(route.host, route.port, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            for option in route.socket_options:
                sock.setsockopt(*option)
            if local is not None:
                sock.bind(local)
            await loop.sock_connect(sock, address)
            return {"sock": sock}
        except OSError as failure:
            sock.close()
            error = failure
    raise error if error is not None else OSError(f"cannot resolve {route.host}")


def _hostname(route: Route) -> str:
    return route.server_hostname or route.host


class _Tunnel(asyncio.Protocol):
    """Sends ``CONNECT`` to a proxy and reads its answer (:class:`httpaf.net.tunnel.Tunnel`)."""

    def __init__(self, tunnel: Tunnel, done: asyncio.Future[bytes]) -> None:
        self.tunnel = tunnel
        self.done = done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.tunnel.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        try:
            leftover = self.tunnel.feed(data)
        except ProxyError as error:
            self.done.set_exception(error)
            return
        if leftover is not None:
            self.done.set_result(leftover)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(self.tunnel.closed())


async def _tunnel(loop: asyncio.AbstractEventLoop, route: Route, factory: Any) -> PooledProtocol:
    tunnel = Tunnel(route)
    done: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_connection(
        lambda: _Tunnel(tunnel, done), ssl=route.ssl,
        server_hostname=_hostname(route) if route.ssl else None, **await _where(loop, route),
    )
    try:
        leftover = await done
        proto = factory()
        if route.tunnel_ssl is not None:
            inner = await loop.start_tls(
                transport, proto, route.tunnel_ssl,
                server_hostname=tunnel.origin_hostname,
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
