"""Exceptions raised by httpaf."""

from __future__ import annotations

__all__ = ["HttpafError", "ParseError", "StateError", "BodyLengthError", "ConnectionClosed"]


class HttpafError(Exception):
    """Base class of every httpaf exception."""


class ParseError(HttpafError):
    """The peer sent bytes that are not valid HTTP/1.1.

    ``status`` is the response a server answers with: 400, or 413, 414, 431, 501, 505
    for the more precise cases.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"ParseError({self.message!r}, status={self.status})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParseError):
            return NotImplemented
        return (self.message, self.status) == (other.message, other.status)

    def __hash__(self) -> int:
        return hash((self.message, self.status))


class StateError(HttpafError, RuntimeError):
    """An operation was called in a state that does not allow it.

    For example responding twice, writing to a closed body, or scheduling a second
    read while one is pending.
    """


class BodyLengthError(HttpafError, ValueError):
    """A body write would exceed the message's declared ``Content-Length``."""


class ConnectionClosed(HttpafError, ConnectionError):
    """A connection ended (or failed) before a request's response was complete.

    ``request_sent`` says whether any byte of the request had been written and
    ``response_started`` whether any byte of its response had arrived: a client may
    send a request again on a new connection when no byte of its response came (an
    idempotent one, or one never sent at all).
    """

    def __init__(self, message: str, request_sent: bool = True, response_started: bool = False):
        super().__init__(message)
        self.request_sent = request_sent
        self.response_started = response_started
