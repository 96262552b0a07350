"""Exceptions raised by httpaf."""

from __future__ import annotations

__all__ = ["HttpafError", "ParseError", "StateError", "BodyLengthError"]


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
