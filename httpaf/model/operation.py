"""What a connection asks its runtime to do next.

Read side: :data:`READ`, :data:`YIELD`, :data:`CLOSE` or :data:`UPGRADE`.
Write side: a :class:`Write` of iovecs, :data:`YIELD`, a :class:`Closed`, or
:data:`UPGRADE`. :data:`CLOSE` is also what a runtime reports to
``report_write_result`` when the transport is gone.
"""

from __future__ import annotations

import enum

__all__ = ["Operation", "READ", "YIELD", "CLOSE", "UPGRADE", "Write", "Closed"]


class Operation(enum.Enum):
    """The operations that carry no data."""

    READ = "read"  #: read from the transport and call ``read``/``read_eof``
    YIELD = "yield"  #: wait for the callback given to ``yield_reader``/``yield_writer``
    CLOSE = "close"  #: stop reading (read side) / the transport is closed (reports)
    UPGRADE = "upgrade"  #: hand the transport to the upgrade handler

    def __repr__(self) -> str:
        return self.name


READ = Operation.READ
YIELD = Operation.YIELD
CLOSE = Operation.CLOSE
UPGRADE = Operation.UPGRADE


class Write:
    """Write these iovecs, then call ``report_write_result`` with the bytes written."""

    __slots__ = ("iovecs",)

    def __init__(self, iovecs: list[memoryview]) -> None:
        self.iovecs = iovecs

    def __repr__(self) -> str:
        return f"Write({[bytes(v) for v in self.iovecs]!r})"


class Closed:
    """The writer is closed: shut the transport down. ``dropped`` bytes never went out."""

    __slots__ = ("dropped",)

    def __init__(self, dropped: int) -> None:
        self.dropped = dropped

    def __repr__(self) -> str:
        return f"Closed({self.dropped})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Closed) and other.dropped == self.dropped

    __hash__ = None  # type: ignore[assignment]
