"""IO vectors: what the serializer hands to a runtime to write.

An iovec is a ``memoryview`` of the bytes to write (it already carries buffer, offset and
length, which is what http/af's ``{buffer; off; len}`` record holds). A list of them is
written with ``socket.sendmsg``, ``transport.writelines`` or ``b"".join``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["IOVec", "lengthv", "shiftv"]

IOVec = memoryview


def lengthv(iovecs: Sequence[memoryview]) -> int:
    """The total number of bytes in ``iovecs``."""
    return sum(map(len, iovecs))


def shiftv(iovecs: Sequence[memoryview], n: int) -> list[memoryview]:
    """``iovecs`` without their first ``n`` bytes.

    Whole iovecs are dropped and the first partly consumed one is sliced. Raises
    ``ValueError`` when ``n`` is negative or larger than :func:`lengthv`.
    """
    if n < 0:
        raise ValueError(f"shiftv: {n} is a negative number")
    for i, iov in enumerate(iovecs):
        size = len(iov)
        if n < size:
            rest = list(iovecs[i:])
            if n:
                rest[0] = iov[n:]
            return rest
        n -= size
    if n:
        raise ValueError("shiftv: n > lengthv iovecs")
    return []
