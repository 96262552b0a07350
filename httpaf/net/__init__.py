"""What the client runtimes share, with no event loop and no socket: URLs and origins,
timeouts and limits, the client's errors, TLS contexts, proxies and their tunnels, and
requests built from a method, a URL, fields and content (and kept, when they have no
body).

It imports the values layer (:mod:`httpaf.model`), and the wire layer for a proxy's
``CONNECT`` handshake (:class:`Tunnel`); :mod:`httpaf.aio` (asyncio) and
:mod:`httpaf.sync` (blocking sockets) build their pools on it, and
:mod:`httpaf.client` and :mod:`httpaf.httpx` are its public faces.
"""

from __future__ import annotations

from .errors import (
    ClientError,
    CloseError,
    ConnectError,
    ConnectTimeout,
    InvalidURL,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StreamClosed,
    TimeoutException,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
    client_error,
    read_failure,
    retryable,
    write_failure,
)
from .prepared import PreparedRequests
from .proxy import Proxies, Proxy, proxy_for
from .request import Body, Outgoing, build_request
from .route import Route, Routes
from .timeouts import Limits, Timeout
from .tls import client_ssl_context
from .trace import TraceStream
from .tunnel import Tunnel
from .url import URL, Origin

__all__ = [
    "URL",
    "Body",
    "ClientError",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "InvalidURL",
    "Limits",
    "LocalProtocolError",
    "NetworkError",
    "Origin",
    "Outgoing",
    "PoolTimeout",
    "PreparedRequests",
    "ProtocolError",
    "Proxies",
    "Proxy",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Route",
    "Routes",
    "StreamClosed",
    "Timeout",
    "TimeoutException",
    "TraceStream",
    "TransportError",
    "Tunnel",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "build_request",
    "client_error",
    "client_ssl_context",
    "proxy_for",
    "read_failure",
    "retryable",
    "write_failure",
]
