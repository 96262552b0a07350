"""The ``CONNECT`` handshake with a proxy (RFC 9110 §9.3.6), without I/O.

Both client runtimes open an https tunnel through a proxy the same way: send
:attr:`Tunnel.request`, give the proxy's answer to :meth:`Tunnel.feed` until it says
the tunnel is open, then speak (usually TLS) to the origin inside.
"""

from __future__ import annotations

from httpaf.model import Config, ParseError, Request, Response
from httpaf.wire import ResponseParser, Serializer

from .errors import ProxyError
from .route import Route

__all__ = ["Tunnel"]


class Tunnel:
    """One ``CONNECT`` exchange for ``route`` (which must go through a tunnel)."""

    __slots__ = ("authority", "origin_hostname", "request", "_parser", "_pending")

    def __init__(self, route: Route) -> None:
        authority = route.tunnel
        if authority is None:
            raise ValueError("a route without a tunnel cannot be tunnelled")
        #: The origin's ``host:port``, the request's target.
        self.authority = authority
        #: The name TLS inside the tunnel checks (the route's, else the origin's host).
        self.origin_hostname = route.tunnel_hostname or authority.rpartition(":")[0]
        serializer = Serializer()
        serializer.write_request_head(
            Request("CONNECT", authority, [("Host", authority), *(route.proxy_headers or [])])
        )
        #: The request's bytes, to send first.
        self.request: bytes = serializer.take(1 << 20) or b""
        self._parser = ResponseParser(Config())
        self._parser.request_method = "CONNECT"
        self._pending = bytearray()

    def feed(self, data: bytes) -> bytes | None:
        """Take bytes of the proxy's answer: ``None`` while it is incomplete (interim
        responses skipped); once a 2xx is in, the bytes after it (often none).
        ``ProxyError`` if the proxy refuses or answers what is not HTTP."""
        pending = self._pending
        pending += data
        parser = self._parser
        try:
            while True:
                event = parser.parse(pending, 0, len(pending), False)
                del pending[: parser.consumed]
                if event is None:
                    return None
                if isinstance(event, Response) and not 100 <= event.status < 200:
                    if not 200 <= event.status < 300:
                        raise ProxyError(
                            f"the proxy refused the tunnel: {event.status} {event.reason}"
                        )
                    return bytes(pending)
        except ParseError as error:
            raise ProxyError(f"invalid answer from the proxy: {error.message}") from None

    @staticmethod
    def closed() -> ProxyError:
        """The error when the proxy closes the connection before its answer."""
        return ProxyError("the proxy closed the connection")
