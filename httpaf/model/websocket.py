"""WebSocket values (RFC 6455): opcodes, close codes and the errors of the protocol.

They live in the values layer because both the wire layer's frame codec
(``_websocket.pyx`` and its pure twin) and the protocol layer (:mod:`httpaf.websocket`)
raise and read them.
"""

from __future__ import annotations

from .errors import HttpafError

__all__ = [
    "CONTINUATION",
    "TEXT",
    "BINARY",
    "CLOSE_FRAME",
    "PING",
    "PONG",
    "NORMAL_CLOSURE",
    "GOING_AWAY",
    "PROTOCOL_ERROR",
    "UNSUPPORTED_DATA",
    "NO_STATUS_RECEIVED",
    "ABNORMAL_CLOSURE",
    "INVALID_PAYLOAD",
    "POLICY_VIOLATION",
    "MESSAGE_TOO_BIG",
    "MANDATORY_EXTENSION",
    "INTERNAL_ERROR",
    "SERVICE_RESTART",
    "TRY_AGAIN_LATER",
    "is_valid_close_code",
    "WebSocketError",
    "FrameError",
    "HandshakeError",
]

# Opcodes (RFC 6455 §5.2, §11.8). The close opcode is CLOSE_FRAME: CLOSE is the
# HTTP engine's operation.
CONTINUATION = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE_FRAME = 0x8
PING = 0x9
PONG = 0xA

# Close codes (RFC 6455 §7.4.1, and the IANA registry of §11.7).
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
NO_STATUS_RECEIVED = 1005  # never sent: what a close frame without a code means
ABNORMAL_CLOSURE = 1006  # never sent: the connection ended without a close frame
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
MANDATORY_EXTENSION = 1010
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may be sent in a close frame (RFC 6455 §7.4.1, §7.4.2).

    1000-1003 and 1007-1014 are defined; 1004 is reserved, 1005, 1006 and 1015 must
    never be sent; 3000-4999 are for libraries, frameworks and applications.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class WebSocketError(HttpafError):
    """Base class of the WebSocket errors."""


class FrameError(WebSocketError):
    """The peer broke the framing rules: the connection fails with close ``code``.

    ``code`` is 1002 (protocol error), 1007 (invalid payload data, such as text that
    is not UTF-8) or 1009 (message too big); ``reason`` says what was wrong.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} ({code})")
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"FrameError({self.code}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrameError):
            return NotImplemented
        return (self.code, self.reason) == (other.code, other.reason)

    def __hash__(self) -> int:
        return hash((self.code, self.reason))


class HandshakeError(WebSocketError):
    """An opening handshake that cannot succeed (RFC 6455 §4).

    On the server, ``status`` is the answer: 400, or 426 for a version other than 13
    (sent with ``Sec-WebSocket-Version: 13``). On the client, ``status`` is the
    status the server answered (0 when the response itself was wrong).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"HandshakeError({self.message!r}, status={self.status})"
