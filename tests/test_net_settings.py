"""``Timeout`` and ``Limits`` (``httpaf.net``): what each accepts, as a table."""

from __future__ import annotations

import math

import pytest

from httpaf.net import Limits, Timeout


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, (5.0, 5.0, 5.0, 5.0)),
    ({"timeout": None}, (None, None, None, None)),
    ({"timeout": 2, "read": 30.0}, (2, 30.0, 2, 2)),
    ({"timeout": 1.0, "pool": None}, (1.0, 1.0, 1.0, None)),
    # Infinite is for ever, as None says (a socket cannot be given an infinite timeout).
    ({"timeout": math.inf}, (None, None, None, None)),
    ({"timeout": 1.0, "read": math.inf}, (1.0, None, 1.0, 1.0)),
], ids=["default", "none", "one-set", "pool-none", "infinite", "read-infinite"])
def test_timeout_phases(kwargs: dict[str, float | None],
                        expected: tuple[float | None, ...]) -> None:
    timeout = Timeout(**kwargs)
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == expected


@pytest.mark.parametrize("kwargs", [
    {"timeout": 0}, {"timeout": -1.0}, {"timeout": math.nan}, {"read": 0}, {"pool": -5},
    {"connect": math.nan},
], ids=["zero", "negative", "nan", "read-zero", "pool-negative", "connect-nan"])
def test_timeout_refuses_what_is_no_duration(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive seconds or None"):
        Timeout(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {"max_connections": 0}, {"max_connections_per_host": 0}, {"max_connections": -1},
    {"max_keepalive_connections": 1.5},
], ids=["no-connections", "none-per-host", "negative", "not-an-int"])
def test_limits_refuse_what_no_pool_can_work_with(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Limits(**kwargs)  # type: ignore[arg-type]
