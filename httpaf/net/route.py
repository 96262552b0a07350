"""Routes: how a client reaches a server, and which connections can be shared.

A :class:`Route` is straight to the origin (TCP or a Unix socket, TLS for ``https``),
through a forward proxy (plain ``http``: requests go to the proxy in absolute form,
with its credentials), or through a ``CONNECT`` tunnel (``https``: TLS with the
origin inside the tunnel, RFC 9110 §9.3.6). :class:`Routes` makes them for a client's
settings, one per origin. The runtimes open connections on them.
"""

from __future__ import annotations

import ssl
from collections.abc import Hashable
from typing import Any

from .proxy import Proxies
from .tls import Cert, Verify, client_ssl_context
from .url import URL

__all__ = ["Route", "Routes"]

_CACHE_LIMIT = 1024


class Route:
    """How to reach a server; ``key`` names the connections that can be shared."""

    __slots__ = (
        "key", "host", "port", "ssl", "server_hostname", "uds", "forward",
        "proxy_headers", "tunnel", "tunnel_ssl", "tunnel_hostname", "local_address",
        "socket_options",
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
        socket_options: list[tuple[int, int, int]] | None = None,
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
        self.socket_options = socket_options  # setsockopt() arguments for new sockets


class Routes:
    """The routes of one client's settings (TLS, proxies, Unix socket), per origin."""

    def __init__(
        self,
        *,
        verify: Verify = True,
        cert: Cert | None = None,
        trust_env: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        proxies: Proxies | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        socket_options: list[tuple[int, int, int]] | None = None,
    ) -> None:
        self._verify = verify
        self._cert = cert
        self._trust_env = trust_env
        self._ssl = ssl_context
        self._proxies = proxies if proxies is not None else Proxies(None, trust_env)
        self._uds = uds
        self._local_address = local_address
        self._socket_options = socket_options
        self._cache: dict[Any, Route] = {}

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for origins (built on first use)."""
        context = self._ssl
        if context is None:
            context = self._ssl = client_ssl_context(self._verify, self._cert, self._trust_env)
        return context

    def route(self, url: URL, sni: str | None = None) -> Route:
        """How to reach ``url``'s origin (``sni``: another name for TLS)."""
        key = url.origin if sni is None else (*url.origin, sni)
        route = self._cache.get(key)
        if route is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            route = self._cache[key] = self._make(url, sni)
        return route

    def _make(self, url: URL, sni: str | None) -> Route:
        https = url.scheme == "https"
        proxy = self._proxies.for_url(url) if self._proxies else None
        options: dict[str, Any] = {
            "local_address": self._local_address, "socket_options": self._socket_options,
        }
        if proxy is None or self._uds is not None:
            return Route(
                url.origin if sni is None else (*url.origin, sni), url.host, url.port,
                ssl=self.ssl_context() if https else None, server_hostname=sni,
                uds=self._uds, **options,
            )
        purl = proxy.url
        proxy_ssl = self.ssl_context() if purl.scheme == "https" else None
        if not https:
            return Route(
                ("forward", *purl.origin), purl.host, purl.port, ssl=proxy_ssl, forward=True,
                proxy_headers=proxy.headers, **options,
            )
        authority = f"{url.host}:{url.port}" if ":" not in url.host else f"[{url.host}]:{url.port}"
        return Route(
            ("tunnel", *purl.origin, *url.origin), purl.host, purl.port, ssl=proxy_ssl,
            proxy_headers=proxy.headers, tunnel=authority, tunnel_ssl=self.ssl_context(),
            tunnel_hostname=sni or url.host, **options,
        )
