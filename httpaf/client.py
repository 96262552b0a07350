"""The pooled asyncio HTTP/1.1 client: :class:`Client`.

.. code-block:: python

    from httpaf.client import Client

    async with Client(max_connections=50) as client:
        response = await client.get("https://example.com/")
        print(response.status, response.headers["content-type"])
        body = await response.read()
        async with await client.post(url, content=b"...") as upload:  # closed at the end
            async for chunk in upload:
                ...

Connections are pooled per origin (limits in total and per host, keep-alive expiry,
newest idle connection reused first); TLS verifies certificates and host names by
default (SNI, ALPN ``http/1.1``); bodies stream both ways with backpressure;
``Expect: 100-continue`` holds large uploads back until the server agrees; each phase
has a timeout; HTTP proxies forward ``http`` and tunnel ``https``; Unix sockets too.
Everything is read with the engine's strict parser (``SECURITY.md``, "What the client
refuses"). ``docs/client.md`` has the details.
"""

from __future__ import annotations

import ssl as _ssl
from typing import Any

from httpaf.aio.response import HTTPStatusError, Response
from httpaf.aio.session import Session
from httpaf.model import Config, Headers
from httpaf.net import (
    URL,
    ClientError,
    CloseError,
    ConnectError,
    ConnectTimeout,
    InvalidURL,
    Limits,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    Proxy,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StreamClosed,
    Timeout,
    TimeoutException,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from httpaf.net.request import Content, HeaderFields
from httpaf.net.tls import Cert, Verify

__all__ = [
    "Client",
    "ClientError",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "HTTPStatusError",
    "Headers",
    "InvalidURL",
    "Limits",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Response",
    "StreamClosed",
    "Timeout",
    "TimeoutException",
    "TransportError",
    "URL",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
]

_UNSET: Any = object()


class Client:
    """An HTTP/1.1 client with a connection pool; use it as an async context manager.

    ``max_connections`` (total), ``max_connections_per_host``,
    ``max_keepalive_connections`` and ``keepalive_expiry`` shape the pool (or pass
    ``limits=``); ``timeout`` is seconds for every phase or a :class:`Timeout`;
    ``verify`` (``True``, ``False``, a CA path or an ``SSLContext``) and ``cert``
    configure TLS; ``proxy`` a proxy URL or :class:`Proxy` (else, with
    ``trust_env``, ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``); ``uds`` a Unix socket
    every request goes to; ``base_url`` resolves relative URLs; ``headers`` go on
    every request; ``expect_continue_threshold`` is the body size from which uploads
    wait for ``100 Continue`` (``None``: never); ``config`` the engine's limits.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        headers: HeaderFields = None,
        timeout: float | Timeout | None = 5.0,
        max_connections: int | None = 100,
        max_connections_per_host: int | None = None,
        max_keepalive_connections: int | None = 20,
        keepalive_expiry: float | None = 5.0,
        limits: Limits | None = None,
        verify: Verify = True,
        cert: Cert | None = None,
        proxy: str | Proxy | None = None,
        trust_env: bool = True,
        uds: str | None = None,
        local_address: str | None = None,
        expect_continue_threshold: int | None = 1 << 20,
        retries: int = 0,
        config: Config | None = None,
        ssl_context: _ssl.SSLContext | None = None,
    ) -> None:
        if limits is None:
            limits = Limits(
                max_connections=max_connections,
                max_connections_per_host=max_connections_per_host,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=keepalive_expiry,
            )
        if not isinstance(timeout, Timeout):
            timeout = Timeout(timeout)
        self.base_url = URL.parse(base_url) if base_url else None
        self._session = Session(
            config=config, limits=limits, timeout=timeout, verify=verify, cert=cert,
            trust_env=trust_env, proxy=proxy, uds=uds, local_address=local_address,
            headers=headers, expect_continue_threshold=expect_continue_threshold,
            retries=retries, ssl_context=ssl_context,
        )

    @property
    def session(self) -> Session:
        """The machinery underneath (pool, routes)."""
        return self._session

    def _url(self, url: str | URL) -> str | URL:
        if self.base_url is not None and isinstance(url, str) and "://" not in url:
            return self.base_url.join(url)
        return url

    async def request(
        self,
        method: str,
        url: str | URL,
        *,
        headers: HeaderFields = None,
        content: Content = None,
        json: Any = None,
        trailers: HeaderFields = None,
        timeout: float | Timeout | None = _UNSET,
    ) -> Response:
        """Send a request; the response once its head is in (read its body, or close it).

        ``content``: bytes (or str, as UTF-8), or an iterable or async iterable of
        bytes (streamed: chunked unless ``headers`` give a Content-Length); ``json``: a
        value sent as JSON; ``trailers``: fields after a streamed body.
        """
        if timeout is _UNSET:
            limit = None
        elif isinstance(timeout, Timeout):
            limit = timeout
        else:
            limit = Timeout(timeout)
        return await self._session.request(
            method, self._url(url), headers=headers, content=content, json=json,
            trailers=trailers, timeout=limit,
        )

    async def get(self, url: str | URL, *, headers: HeaderFields = None,
                  timeout: float | Timeout | None = _UNSET) -> Response:
        """``GET``."""
        if timeout is _UNSET and self.base_url is None:
            return await self._session.request("GET", url, headers=headers)
        return await self.request("GET", url, headers=headers, timeout=timeout)

    async def head(self, url: str | URL, *, headers: HeaderFields = None,
                   timeout: float | Timeout | None = _UNSET) -> Response:
        """``HEAD``."""
        return await self.request("HEAD", url, headers=headers, timeout=timeout)

    async def options(self, url: str | URL, *, headers: HeaderFields = None,
                      timeout: float | Timeout | None = _UNSET) -> Response:
        """``OPTIONS``."""
        return await self.request("OPTIONS", url, headers=headers, timeout=timeout)

    async def delete(self, url: str | URL, *, headers: HeaderFields = None,
                     timeout: float | Timeout | None = _UNSET) -> Response:
        """``DELETE``."""
        return await self.request("DELETE", url, headers=headers, timeout=timeout)

    async def post(self, url: str | URL, *, headers: HeaderFields = None,
                   content: Content = None, json: Any = None,
                   trailers: HeaderFields = None,
                   timeout: float | Timeout | None = _UNSET) -> Response:
        """``POST``."""
        return await self.request("POST", url, headers=headers, content=content, json=json,
                                  trailers=trailers,
                                  timeout=timeout)

    async def put(self, url: str | URL, *, headers: HeaderFields = None,
                  content: Content = None, json: Any = None,
                  trailers: HeaderFields = None,
                  timeout: float | Timeout | None = _UNSET) -> Response:
        """``PUT``."""
        return await self.request("PUT", url, headers=headers, content=content, json=json,
                                  trailers=trailers,
                                  timeout=timeout)

    async def patch(self, url: str | URL, *, headers: HeaderFields = None,
                    content: Content = None, json: Any = None,
                    trailers: HeaderFields = None,
                    timeout: float | Timeout | None = _UNSET) -> Response:
        """``PATCH``."""
        return await self.request("PATCH", url, headers=headers, content=content, json=json,
                                  trailers=trailers,
                                  timeout=timeout)

    async def aclose(self) -> None:
        """Close every connection of the pool."""
        await self._session.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
