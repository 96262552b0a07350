"""IOVec: http/af's lib_test/test_iovec.ml.

An iovec is a ``memoryview``; http/af's ``{off; len}`` is its slice of the buffer.
"""

from __future__ import annotations

import pytest

from httpaf.model.iovec import IOVec, lengthv, shiftv

BUF = bytearray(b"0123456789")


def iov(off: int, length: int) -> memoryview:
    return memoryview(BUF)[off : off + length]


@pytest.mark.parametrize(
    ("iovecs", "expected"),
    [
        ([], 0),
        ([iov(0, 0)], 0),
        ([iov(0, 10)], 10),
        ([iov(0, 3), iov(3, 0), iov(5, 4)], 7),
    ],
)
def test_iovec_lengthv(iovecs: list[memoryview], expected: int) -> None:
    assert lengthv(iovecs) == expected


@pytest.mark.parametrize(
    ("iovecs", "n", "expected"),
    [
        ([], 0, []),
        ([iov(0, 1)], 1, []),
        ([iov(0, 4)], 2, [b"23"]),
        ([iov(0, 4)], 0, [b"0123"]),
        ([iov(0, 2), iov(5, 3)], 2, [b"567"]),
        ([iov(0, 2), iov(5, 3)], 3, [b"67"]),
        ([iov(0, 2), iov(5, 3)], 5, []),
        ([iov(0, 2), iov(5, 3), iov(9, 1)], 1, [b"1", b"567", b"9"]),
    ],
)
def test_iovec_shiftv(iovecs: list[memoryview], n: int, expected: list[bytes]) -> None:
    before = [bytes(v) for v in iovecs]
    result = shiftv(iovecs, n)
    assert [bytes(v) for v in result] == expected
    assert all(isinstance(v, IOVec) for v in result)
    assert [bytes(v) for v in iovecs] == before  # the input list is left alone


def test_iovec_shiftv_shares_the_buffer() -> None:
    buf = bytearray(b"abcdef")
    (rest,) = shiftv([memoryview(buf)], 2)
    buf[3] = ord("X")
    assert bytes(rest) == b"cXef"  # a slice, not a copy


def test_iovec_shiftv_raises_on_negative() -> None:
    with pytest.raises(ValueError, match=r"^shiftv: -1 is a negative number$"):
        shiftv([], -1)


@pytest.mark.parametrize(
    ("iovecs", "n"),
    [
        ([], 1),
        ([iov(0, 1)], 2),
        ([iov(0, 1), iov(0, 1)], 3),
    ],
)
def test_iovec_shiftv_raises_past_the_end(iovecs: list[memoryview], n: int) -> None:
    with pytest.raises(ValueError, match=r"^shiftv: n > lengthv iovecs$"):
        shiftv(iovecs, n)
