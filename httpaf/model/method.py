"""Request methods (RFC 9110 §9).

Methods are case-sensitive tokens: ``"get"`` is not ``GET``. The standard ones are
members of :class:`Method`; any other token is carried as a plain ``str``.
"""

from __future__ import annotations

import enum

__all__ = ["Method", "is_safe", "is_cacheable", "is_idempotent"]


class Method(str, enum.Enum):
    """The eight standard methods; each is also the ``str`` of its name."""

    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"
    CONNECT = "CONNECT"
    OPTIONS = "OPTIONS"
    TRACE = "TRACE"

    def __str__(self) -> str:
        return self.value

    @property
    def is_safe(self) -> bool:
        """True for GET, HEAD, OPTIONS and TRACE (RFC 9110 §9.2.1)."""
        return self.value in _SAFE

    @property
    def is_cacheable(self) -> bool:
        """True for GET, HEAD and POST (RFC 9110 §9.2.3)."""
        return self.value in _CACHEABLE

    @property
    def is_idempotent(self) -> bool:
        """True for PUT, DELETE and the safe methods (RFC 9110 §9.2.2)."""
        return self.value in _IDEMPOTENT


_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_CACHEABLE = frozenset({"GET", "HEAD", "POST"})
_IDEMPOTENT = _SAFE | {"PUT", "DELETE"}


def is_safe(method: str) -> bool:
    """Whether ``method`` (a :class:`Method` or any token) is safe."""
    return method in _SAFE


def is_cacheable(method: str) -> bool:
    """Whether responses to ``method`` are cacheable by default."""
    return method in _CACHEABLE


def is_idempotent(method: str) -> bool:
    """Whether ``method`` is idempotent."""
    return method in _IDEMPOTENT
