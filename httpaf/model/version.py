"""HTTP protocol versions (RFC 9110 §2.5)."""

from __future__ import annotations

from functools import total_ordering

__all__ = ["Version", "HTTP_1_0", "HTTP_1_1"]


@total_ordering
class Version:
    """An HTTP version ``major.minor``, ordered lexicographically."""

    __slots__ = ("major", "minor", "_text")

    major: int
    minor: int
    _text: str

    def __init__(self, major: int, minor: int) -> None:
        if not (0 <= major <= 9 and 0 <= minor <= 9):
            raise ValueError(f"HTTP version digits must be 0-9: {major}.{minor}")
        object.__setattr__(self, "major", major)
        object.__setattr__(self, "minor", minor)
        object.__setattr__(self, "_text", f"HTTP/{major}.{minor}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Version is immutable")

    @classmethod
    def of_string(cls, text: str) -> Version:
        """Parse ``"HTTP/x.y"``; raise ``ValueError`` for anything else."""
        if text == "HTTP/1.1":
            return HTTP_1_1
        if text == "HTTP/1.0":
            return HTTP_1_0
        if len(text) == 8 and text.startswith("HTTP/") and text[6] == ".":
            major, minor = text[5], text[7]
            if major in "0123456789" and minor in "0123456789":
                return cls(int(major), int(minor))
        raise ValueError(f"invalid HTTP version: {text!r}")

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Version({self.major}, {self.minor})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.major == other.major and self.minor == other.minor

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __hash__(self) -> int:
        return hash((self.major, self.minor))

    def compare(self, other: Version) -> int:
        """http/af's ``Version.compare``: -1, 0 or 1."""
        a, b = (self.major, self.minor), (other.major, other.minor)
        return (a > b) - (a < b)


HTTP_1_0 = Version(1, 0)
HTTP_1_1 = Version(1, 1)
