"""Version: http/af's lib_test/test_version.ml and our additions."""

from __future__ import annotations

import pytest

from httpaf.model.version import HTTP_1_0, HTTP_1_1, Version


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (HTTP_1_1, HTTP_1_0, 1),
        (HTTP_1_1, HTTP_1_1, 0),
        (HTTP_1_0, HTTP_1_0, 0),
        (HTTP_1_0, HTTP_1_1, -1),
        # lexicographic on (major, minor): the major digit wins
        (Version(2, 0), Version(1, 9), 1),
        (Version(0, 9), Version(1, 0), -1),
    ],
)
def test_version_compare(a: Version, b: Version, expected: int) -> None:
    assert a.compare(b) == expected
    assert (a < b) == (expected < 0)
    assert (a > b) == (expected > 0)
    assert (a == b) == (expected == 0)
    assert (a <= b) == (expected <= 0)
    assert (a >= b) == (expected >= 0)


@pytest.mark.parametrize(
    ("version", "text"),
    [(HTTP_1_1, "HTTP/1.1"), (HTTP_1_0, "HTTP/1.0"), (Version(2, 0), "HTTP/2.0")],
)
def test_version_to_string(version: Version, text: str) -> None:
    assert str(version) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HTTP/1.1", HTTP_1_1),
        ("HTTP/1.0", HTTP_1_0),
        ("HTTP/2.0", Version(2, 0)),
        ("HTTP/0.9", Version(0, 9)),
    ],
)
def test_version_of_string(text: str, expected: Version) -> None:
    assert Version.of_string(text) == expected


def test_version_of_string_returns_the_shared_constants() -> None:
    assert Version.of_string("HTTP/1.1") is HTTP_1_1
    assert Version.of_string("HTTP/1.0") is HTTP_1_0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "HTTP/1",
        "HTTP/1.",
        "HTTP/1.22",  # one digit each, as http/af
        "HTTP/11.1",
        "HTTP1.1",
        "http/1.1",
        "HTTP/1,1",
        "HTTP/a.b",
        "HTTP/1.\u0661",  # ARABIC-INDIC DIGIT ONE: a Unicode digit, not ASCII
        "HTTP/\uff11.1",  # FULLWIDTH DIGIT ONE
        " HTTP/1.1",
        "HTTP/1.1 ",
    ],
)
def test_version_of_string_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="invalid HTTP version"):
        Version.of_string(text)


@pytest.mark.parametrize(("major", "minor"), [(10, 0), (1, 10), (-1, 1), (1, -1)])
def test_version_digits_out_of_range(major: int, minor: int) -> None:
    with pytest.raises(ValueError):
        Version(major, minor)


def test_version_is_immutable_and_hashable() -> None:
    with pytest.raises(AttributeError):
        HTTP_1_1.major = 2  # type: ignore[misc]
    assert HTTP_1_1.major == 1 and HTTP_1_1.minor == 1
    assert {Version(1, 1): "x"}[HTTP_1_1] == "x"
    assert len({HTTP_1_0, Version(1, 0), HTTP_1_1}) == 2


def test_version_repr() -> None:
    assert repr(HTTP_1_0) == "Version(1, 0)"


@pytest.mark.parametrize("other", [5, "HTTP/1.1", None, (1, 1)])
def test_version_ordering_against_other_types(other: object) -> None:
    # Equality is simply False; ordering is a TypeError, as for unrelated Python types.
    assert (HTTP_1_1 == other) is False
    assert (HTTP_1_1 != other) is True
    with pytest.raises(TypeError):
        HTTP_1_1 < other  # type: ignore[operator]  # noqa: B015
    with pytest.raises(TypeError):
        HTTP_1_1 >= other  # type: ignore[operator]  # noqa: B015
