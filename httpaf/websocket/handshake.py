"""The opening handshake (RFC 6455 §4) over httpaf's requests and responses.

Server: :func:`read_request` checks an upgrade request and says what the client
offered (or raises :class:`HandshakeError` with the 400 or 426 to answer);
:func:`accept` makes the ``101 Switching Protocols`` to give
``Reqd.respond_with_upgrade`` and the negotiated extension; :func:`reject` makes the
answer to a bad handshake. Client: :func:`client_request` and :func:`read_response`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable

from httpaf.model import HTTP_1_1, HandshakeError, Headers, Request, Response

from .config import WebSocketConfig
from .deflate import PerMessageDeflate, client_accept, client_offer, server_accept

__all__ = [
    "GUID",
    "ClientHandshake",
    "accept",
    "accept_key",
    "client_request",
    "is_websocket_request",
    "read_request",
    "read_response",
    "reject",
]

#: The GUID of RFC 6455 §1.3, hashed with a client's key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for the client's ``Sec-WebSocket-Key`` (§4.2.2)."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def is_websocket_request(request: Request) -> bool:
    """Whether ``request`` asks to upgrade to WebSocket (``Upgrade: websocket``)."""
    return "websocket" in request.headers.get_tokens("upgrade")


class ClientHandshake:
    """What a client's opening handshake asked for (a server's view of it)."""

    __slots__ = ("request", "key", "subprotocols", "extensions")

    def __init__(
        self, request: Request, key: str, subprotocols: list[str], extensions: list[str]
    ) -> None:
        #: The upgrade request.
        self.request = request
        #: ``Sec-WebSocket-Key``.
        self.key = key
        #: The subprotocols offered, in the client's order of preference.
        self.subprotocols = subprotocols
        #: The ``Sec-WebSocket-Extensions`` field values, as sent.
        self.extensions = extensions

    def __repr__(self) -> str:
        return f"ClientHandshake({self.request.target!r}, subprotocols={self.subprotocols!r})"


def _single(headers: Headers, name: str) -> str | None:
    values = headers.get_all(name)
    if len(values) > 1:
        raise HandshakeError(f"more than one {name} header")
    return values[0].strip(" \t") if values else None


def read_request(request: Request) -> ClientHandshake:
    """Check the opening handshake of ``request`` (§4.2.1).

    Raises :class:`HandshakeError`: 426 when ``Sec-WebSocket-Version`` is not 13,
    else 400 (not GET, not HTTP/1.1, no ``Upgrade: websocket`` or ``Connection:
    upgrade``, no valid ``Sec-WebSocket-Key``).
    """
    headers = request.headers
    if request.method != "GET":
        raise HandshakeError("a WebSocket handshake is a GET request")
    if request.version != HTTP_1_1:
        raise HandshakeError("a WebSocket handshake needs HTTP/1.1")
    if "websocket" not in headers.get_tokens("upgrade"):
        raise HandshakeError("missing Upgrade: websocket header")
    if "upgrade" not in headers.get_tokens("connection"):
        raise HandshakeError("missing Connection: upgrade header")
    if _single(headers, "sec-websocket-version") != "13":
        raise HandshakeError("unsupported Sec-WebSocket-Version (13 is)", 426)
    key = _single(headers, "sec-websocket-key")
    if not key:
        raise HandshakeError("missing Sec-WebSocket-Key header")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 16:
        raise HandshakeError("invalid Sec-WebSocket-Key header")
    subprotocols = [
        token.strip(" \t")
        for value in headers.get_all("sec-websocket-protocol")
        for token in value.split(",")
        if token.strip(" \t")
    ]
    return ClientHandshake(request, key, subprotocols, headers.get_all("sec-websocket-extensions"))


def accept(
    handshake: ClientHandshake,
    config: WebSocketConfig | None = None,
    *,
    subprotocol: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> tuple[Response, PerMessageDeflate | None]:
    """The ``101`` accepting ``handshake``, and the extension it agreed to.

    ``subprotocol`` must be one the client offered (``ValueError`` otherwise);
    permessage-deflate is accepted when ``config`` allows it and the client offered
    it; ``headers`` are added to the response.
    """
    config = config if config is not None else WebSocketConfig()
    if subprotocol is not None and subprotocol not in handshake.subprotocols:
        raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
    fields = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(handshake.key)),
    ]
    if subprotocol is not None:
        fields.append(("Sec-WebSocket-Protocol", subprotocol))
    extension = None
    agreed = server_accept(handshake.extensions, config)
    if agreed is not None:
        value, extension = agreed
        fields.append(("Sec-WebSocket-Extensions", value))
    fields.extend(headers)
    return Response(101, fields), extension


def reject(
    error: HandshakeError, headers: Iterable[tuple[str, str]] = ()
) -> tuple[Response, bytes]:
    """The answer to a bad handshake: ``error.status`` with its message as text."""
    body = (error.message + "\n").encode()
    fields = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    if error.status == 426:
        fields.append(("Sec-WebSocket-Version", "13"))
    fields.append(("Connection", "close"))
    fields.extend(headers)
    return Response(error.status, fields), body


# -- client ----------------------------------------------------------------------------


def client_request(
    host: str,
    target: str = "/",
    config: WebSocketConfig | None = None,
    *,
    subprotocols: Iterable[str] = (),
    headers: Iterable[tuple[str, str]] = (),
    key: str | None = None,
) -> tuple[Request, str]:
    """An opening handshake request for ``target`` on ``host``, and its key."""
    config = config if config is not None else WebSocketConfig()
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode("ascii")
    fields = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    offered = list(subprotocols)
    if offered:
        fields.append(("Sec-WebSocket-Protocol", ", ".join(offered)))
    offer = client_offer(config)
    if offer is not None:
        fields.append(("Sec-WebSocket-Extensions", offer))
    fields.extend(headers)
    return Request("GET", target, fields), key


def read_response(
    response: Response,
    key: str,
    config: WebSocketConfig | None = None,
    subprotocols: Iterable[str] = (),
) -> tuple[str | None, PerMessageDeflate | None]:
    """Check the server's answer to the handshake sent with ``key`` (§4.1).

    Returns the subprotocol and the extension the server chose; raises
    :class:`HandshakeError` (``status`` the response's) when it did not accept.
    """
    config = config if config is not None else WebSocketConfig()
    headers = response.headers
    status = int(response.status)
    if status != 101:
        raise HandshakeError(f"the server answered {status}", status)
    if "websocket" not in headers.get_tokens("upgrade"):
        raise HandshakeError("missing Upgrade: websocket in the answer", status)
    if "upgrade" not in headers.get_tokens("connection"):
        raise HandshakeError("missing Connection: upgrade in the answer", status)
    if _single(headers, "sec-websocket-accept") != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept", status)
    chosen = _single(headers, "sec-websocket-protocol")
    if chosen is not None and chosen not in list(subprotocols):
        raise HandshakeError(f"the server chose subprotocol {chosen!r}, not offered", status)
    return chosen, client_accept(headers.get_all("sec-websocket-extensions"), config)
