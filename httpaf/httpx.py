"""httpx transports on httpaf's engine: :class:`AsyncHTTPTransport` and :class:`HTTPTransport`.

.. code-block:: python

    import httpx
    import httpaf.httpx

    client = httpx.AsyncClient(transport=httpaf.httpx.AsyncHTTPTransport())
    sync_client = httpx.Client(transport=httpaf.httpx.HTTPTransport())

They take the arguments of httpx's own transports (``verify``, ``cert``,
``trust_env``, ``http1``, ``http2``, ``limits``, ``proxy``, ``uds``,
``local_address``, ``retries``, ``socket_options``) and keep httpx's contract: the
``timeout`` request extension (connect, read, write, pool) applies per request, the
``sni_hostname`` and ``trace`` extensions are honoured (trace events by the names
httpx's own transport uses), a connection stays in use until httpx closes the
response stream,
errors are httpx's exception classes (``httpx.ConnectTimeout``, ``httpx.ReadTimeout``,
``httpx.RemoteProtocolError``, ...), bodies stream both ways, and responses carry the
``http_version`` and ``reason_phrase`` extensions. HTTP/2 is refused: httpaf speaks
HTTP/1.1. httpx is an optional dependency (``pip install httpaf[httpx]``).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from httpaf import net
from httpaf.aio.response import Response as AsyncResponse
from httpaf.aio.session import Session
from httpaf.model import Config
from httpaf.net import URL, Limits, Proxy, Timeout
from httpaf.sync import SyncResponse, SyncSession

__all__ = ["AsyncHTTPTransport", "HTTPTransport"]

# Our errors and httpx's, one to one (most specific first).
_ERRORS: list[tuple[type[BaseException], type[Exception]]] = [
    (net.ConnectTimeout, httpx.ConnectTimeout),
    (net.ReadTimeout, httpx.ReadTimeout),
    (net.WriteTimeout, httpx.WriteTimeout),
    (net.PoolTimeout, httpx.PoolTimeout),
    (net.TimeoutException, httpx.TimeoutException),
    (net.ConnectError, httpx.ConnectError),
    (net.ReadError, httpx.ReadError),
    (net.WriteError, httpx.WriteError),
    (net.CloseError, httpx.CloseError),
    (net.NetworkError, httpx.NetworkError),
    (net.RemoteProtocolError, httpx.RemoteProtocolError),
    (net.LocalProtocolError, httpx.LocalProtocolError),
    (net.ProtocolError, httpx.ProtocolError),
    (net.ProxyError, httpx.ProxyError),
    (net.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (net.InvalidURL, httpx.UnsupportedProtocol),
    (net.StreamClosed, httpx.StreamClosed),
    (net.TransportError, httpx.TransportError),
]

#: httpx's default pool limits (its transports' default too).
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

_HTTP2_REFUSED = (
    "httpaf's transports speak HTTP/1.1 only: http2=True is not supported "
    "(use httpx's own transport, with the h2 package, for HTTP/2)"
)


def _httpx_error(error: BaseException, request: httpx.Request | None) -> BaseException:
    for ours, theirs in _ERRORS:
        if isinstance(error, ours):
            if theirs is httpx.StreamClosed:
                return httpx.StreamClosed()  # (it says its own message)
            return theirs(str(error), request=request)  # type: ignore[call-arg]
    return error


def _options(
    verify: Any, cert: Any, trust_env: bool, http1: bool, http2: bool, limits: httpx.Limits,
    proxy: Any, uds: str | None, local_address: str | None, retries: int,
    socket_options: Any, config: Config | None,
) -> dict[str, Any]:
    """Our session's keywords for httpx's transport arguments."""
    if http2:
        raise ValueError(_HTTP2_REFUSED)
    if not http1:
        raise ValueError("httpaf's transports need http1=True (HTTP/1.1 is all they speak)")
    context = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
    context.set_alpn_protocols(["http/1.1"])  # as httpx's own transport does
    return {
        "config": config,
        "limits": Limits(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        ),
        "ssl_context": context,
        "trust_env": trust_env,
        "proxy": _proxy(proxy),
        "proxy_from_env": False,  # httpx's client chooses proxies and mounts transports
        "uds": uds,
        "local_address": local_address,
        "retries": retries,
        "socket_options": list(socket_options) if socket_options else None,
        "expect_continue_threshold": None,  # httpx users set Expect themselves
        "headers": None,
        "release_early": False,  # a connection is in use until httpx closes the stream
    }


def _proxy(proxy: Any) -> Proxy | None:
    if proxy is None:
        return None
    if isinstance(proxy, (str, httpx.URL)):
        proxy = httpx.Proxy(proxy)
    url = proxy.url
    if url.scheme not in ("http", "https"):
        raise ValueError(f"httpaf's transports support http and https proxies, not {url.scheme}")
    auth = proxy.auth
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in proxy.headers.raw]
    plain = str(url.copy_with(username=None, password=None))
    return Proxy(plain, auth=auth, headers=headers)


_timeouts: dict[tuple[Any, ...], Timeout] = {}
_urls: dict[tuple[Any, ...], URL] = {}
_CACHE_LIMIT = 1024


def _timeout(request: httpx.Request, default: Timeout) -> Timeout:
    """The ``timeout`` extension as our :class:`Timeout` (one object per setting)."""
    given = request.extensions.get("timeout")
    if not given:
        return default
    key = (given.get("connect"), given.get("read"), given.get("write"), given.get("pool"))
    timeout = _timeouts.get(key)
    if timeout is None:
        if len(_timeouts) >= _CACHE_LIMIT:
            _timeouts.clear()
        timeout = _timeouts[key] = Timeout(
            None, connect=key[0], read=key[1], write=key[2], pool=key[3]
        )
    return timeout


def _url(request: httpx.Request) -> URL:
    """httpx's URL as ours (its parts are parsed and checked already)."""
    url = request.url
    key = (url.scheme, url.raw_host, url.port, url.raw_path)
    ours = _urls.get(key)
    if ours is None:
        scheme = key[0]
        if scheme not in ("http", "https"):
            raise net.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'." if scheme else
                "Request URL is missing an 'http://' or 'https://' protocol."
            )
        host = key[1].decode("ascii")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if len(_urls) >= _CACHE_LIMIT:
            _urls.clear()
        ours = _urls[key] = URL.from_parts(scheme, host, key[2], key[3].decode("ascii"))
    return ours


def _extensions(version: str, reason: str) -> dict[str, Any]:
    return {
        "http_version": version.encode("ascii"),
        "reason_phrase": reason.encode("latin-1", "replace"),
    }


class _TraceURL:
    __slots__ = ("target",)

    def __init__(self, target: bytes) -> None:
        self.target = target


class _TraceRequest:
    """The request a ``trace`` callback is shown, as httpx's own transport shows it:
    ``method`` and ``url.target`` as bytes, ``headers`` as byte pairs."""

    __slots__ = ("method", "url", "headers", "extensions")

    def __init__(self, request: httpx.Request) -> None:
        self.method = request.method.encode("ascii")
        self.url = _TraceURL(request.url.raw_path)
        self.headers = request.headers.raw
        self.extensions = request.extensions


# httpx's response and the stream it wraps ours in hold each other: they go only when
# the cyclic garbage collector runs. The bodies below let go of our response when httpx
# closes them, so that it, its connection's exchange and its head fields are freed at
# once by reference counting (and the collector runs less often).


class _AsyncBody(httpx.AsyncByteStream):
    """A response body, streamed from httpaf into httpx."""

    def __init__(self, response: AsyncResponse, request: httpx.Request, trace: Any) -> None:
        self._response: AsyncResponse | None = response
        self._request = request
        self._trace = trace

    async def __aiter__(self) -> AsyncIterator[bytes]:
        response = self._response
        if response is None:
            raise httpx.StreamClosed()
        trace = self._trace
        if trace is not None:
            await trace("http11.receive_response_body.started", {"request": self._request})
        try:
            if response.is_closed:
                async for piece in response.aiter_bytes():  # read already: kept content
                    yield piece
            else:
                receive = response.receive
                while (chunk := await receive()) is not None:
                    yield chunk
        except net.ClientError as error:
            raise _httpx_error(error, self._request) from error
        if trace is not None:
            await trace("http11.receive_response_body.complete", {"request": self._request})

    async def aclose(self) -> None:
        response = self._response
        if response is None:
            return
        self._response = None
        trace = self._trace
        if trace is not None:
            await trace("http11.response_closed.started", {})
        await response.aclose()
        if trace is not None:
            await trace("http11.response_closed.complete", {})


class _SyncBody(httpx.SyncByteStream):
    """A response body, read from httpaf's blocking runtime into httpx."""

    def __init__(self, response: SyncResponse, request: httpx.Request, trace: Any) -> None:
        self._response: SyncResponse | None = response
        self._request = request
        self._trace = trace

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        if response is None:
            raise httpx.StreamClosed()
        trace = self._trace
        if trace is not None:
            trace("http11.receive_response_body.started", {"request": self._request})
        try:
            yield from response.iter_bytes()
        except net.ClientError as error:
            raise _httpx_error(error, self._request) from error
        if trace is not None:
            trace("http11.receive_response_body.complete", {"request": self._request})

    def close(self) -> None:
        response = self._response
        if response is None:
            return
        self._response = None
        trace = self._trace
        if trace is not None:
            trace("http11.response_closed.started", {})
        response.close()
        if trace is not None:
            trace("http11.response_closed.complete", {})


class AsyncHTTPTransport(httpx.AsyncBaseTransport):
    """An httpx async transport on httpaf's pooled asyncio client (HTTP/1.1)."""

    def __init__(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Any = None,
        config: Config | None = None,
    ) -> None:
        self._session = Session(**_options(
            verify, cert, trust_env, http1, http2, limits, proxy, uds, local_address,
            retries, socket_options, config,
        ))
        self._default_timeout = Timeout(5.0)

    @property
    def session(self) -> Session:
        """The httpaf machinery underneath (pool, routes)."""
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions.get("trace")
        try:
            url = _url(request)
            try:
                content: Any = request.content
            except httpx.RequestNotRead:
                content = request.stream
            response = await self._session.request(
                request.method, url, headers=request.headers.raw,
                content=content or None, timeout=_timeout(request, self._default_timeout),
                sni=request.extensions.get("sni_hostname"), default_headers=False,
                trace=trace, trace_request=_TraceRequest(request) if trace else None,
            )
        except net.ClientError as error:
            raise _httpx_error(error, request) from error
        return httpx.Response(
            status_code=response.status,
            headers=[(n.encode("latin-1"), v.encode("latin-1"))
                     for n, v in response.headers.fields],
            stream=_AsyncBody(response, request, trace),
            extensions=_extensions(response.http_version, response.reason),
        )

    async def aclose(self) -> None:
        await self._session.aclose()


class HTTPTransport(httpx.BaseTransport):
    """An httpx transport on httpaf's blocking runtime (HTTP/1.1)."""

    def __init__(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Any = None,
        config: Config | None = None,
    ) -> None:
        self._session = SyncSession(**_options(
            verify, cert, trust_env, http1, http2, limits, proxy, uds, local_address,
            retries, socket_options, config,
        ))
        self._default_timeout = Timeout(5.0)

    @property
    def session(self) -> SyncSession:
        """The httpaf machinery underneath (pool, routes)."""
        return self._session

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions.get("trace")
        try:
            url = _url(request)
            try:
                content: Any = request.content
            except httpx.RequestNotRead:
                content = request.stream
            response = self._session.request(
                request.method, url, headers=request.headers.raw,
                content=content or None, timeout=_timeout(request, self._default_timeout),
                sni=request.extensions.get("sni_hostname"), default_headers=False,
                trace=trace, trace_request=_TraceRequest(request) if trace else None,
            )
        except net.ClientError as error:
            raise _httpx_error(error, request) from error
        return httpx.Response(
            status_code=response.status,
            headers=[(n.encode("latin-1"), v.encode("latin-1"))
                     for n, v in response.headers.fields],
            stream=_SyncBody(response, request, trace),
            extensions=_extensions(response.http_version, response.reason),
        )

    def close(self) -> None:
        self._session.close()
