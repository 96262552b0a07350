"""How long each phase of a request may take, and how many connections a pool keeps."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Timeout", "Limits"]

_UNSET: float | None = -1.0
_INFINITY = float("inf")


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds per phase; ``None`` waits for ever.

    ``Timeout(5.0)`` sets all four; keywords set one each (those not given take the
    first argument). ``connect``: opening the connection (TCP, TLS, a proxy's
    tunnel); ``read``: between two pieces of the response (and for its head);
    ``write``: for the transport to take the next piece of the request; ``pool``: for
    a connection of the pool to become free.
    """

    timeout: float | None = 5.0
    connect: float | None = _UNSET
    read: float | None = _UNSET
    write: float | None = _UNSET
    pool: float | None = _UNSET

    def __post_init__(self) -> None:
        for name in ("timeout", "connect", "read", "write", "pool"):  # (timeout first)
            value = getattr(self, name)
            if value == _UNSET and name != "timeout":
                value = self.timeout
            elif value is not None and not value > 0:
                raise ValueError(f"Timeout.{name} must be positive seconds or None, not {value!r}")
            if value == _INFINITY:
                value = None  # (for ever: what None says)
            object.__setattr__(self, name, value)


@dataclass(frozen=True, slots=True)
class Limits:
    """How many connections a pool opens and keeps.

    ``max_connections``: open at once, all origins (``None``: no limit);
    ``max_connections_per_host``: open at once to one origin; ``max_keepalive_connections``:
    idle ones kept for reuse; ``keepalive_expiry``: seconds an idle connection is kept.
    """

    max_connections: int | None = 100
    max_connections_per_host: int | None = None
    max_keepalive_connections: int | None = 20
    keepalive_expiry: float | None = 5.0

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_connections_per_host", "max_keepalive_connections"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"Limits.{name} must be an int >= 0 or None, not {value!r}")
        if self.max_connections == 0 or self.max_connections_per_host == 0:
            raise ValueError("a pool needs at least one connection")
