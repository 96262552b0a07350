"""What a WebSocket connection reports besides messages.

Messages themselves are reported as the ``str`` (text) or ``bytes`` (binary) they
carry; control frames and the end of the connection as these.
"""

from __future__ import annotations

__all__ = ["Ping", "Pong", "Close"]


class Ping:
    """The peer sent a ping (the connection has answered it with a pong)."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"Ping({self.payload!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ping) and other.payload == self.payload


class Pong:
    """The peer sent a pong (an answer to our ping, or unsolicited: RFC 6455 §5.5.3)."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"Pong({self.payload!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pong) and other.payload == self.payload


class Close:
    """Reading is over: the last event of a connection.

    ``received`` says whether the peer sent a close frame; then ``code`` is its code
    (1005 when it had none) and ``reason`` its reason. Otherwise the connection
    failed: ``code`` is what we sent (1002, 1007, 1009) or 1006 when the peer went
    away without a close frame.
    """

    __slots__ = ("code", "reason", "received")

    def __init__(self, code: int, reason: str = "", received: bool = True) -> None:
        self.code = code
        self.reason = reason
        self.received = received

    def __repr__(self) -> str:
        return f"Close({self.code}, {self.reason!r}, received={self.received})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Close) and (other.code, other.reason, other.received) == (
            self.code,
            self.reason,
            self.received,
        )
