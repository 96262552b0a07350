"""Header fields: an ordered multi-map, case-preserving, case-insensitive lookup.

Field names and values are ``str`` holding the wire bytes decoded as latin-1, so every
byte round-trips. Order is transmission order; duplicate names are kept. Names compare
case-insensitively with only ASCII A-Z folded (RFC 9110 §5.1), never other letters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["Headers", "ci_equal", "lower_ascii"]

_FOLD = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def lower_ascii(name: str) -> str:
    """``name`` with ASCII A-Z lowered and every other character left alone."""
    return name.lower() if name.isascii() else name.translate(_FOLD)


def ci_equal(a: str, b: str) -> bool:
    """ASCII case-insensitive equality of two field names."""
    return len(a) == len(b) and lower_ascii(a) == lower_ascii(b)


class Headers:
    """An ordered list of ``(name, value)`` fields with case-insensitive lookup.

    Unlike http/af's immutable list this is a mutable container; operations that
    http/af returns a new value from change it in place and return ``None``.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] | None = None) -> None:
        self._fields: list[tuple[str, str]] = [] if fields is None else [(n, v) for n, v in fields]

    @classmethod
    def _of_list(cls, fields: list[tuple[str, str]]) -> Headers:
        """Adopt ``fields`` without copying (used by the parsers)."""
        headers = cls.__new__(cls)
        headers._fields = fields
        return headers

    # -- reading -----------------------------------------------------------------

    @property
    def fields(self) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs in order: the container's own list, not a copy
        (for code that reads every field once per message; change it through the
        methods below)."""
        return self._fields

    def __len__(self) -> int:
        return len(self._fields)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __bool__(self) -> bool:
        return bool(self._fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._fields == other._fields
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.mem(name)

    def __getitem__(self, name: str) -> str:
        """The last value of ``name``; ``KeyError`` if absent (http/af ``get_exn``)."""
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def to_list(self) -> list[tuple[str, str]]:
        """A copy of the fields in transmission order."""
        return list(self._fields)

    def to_rev_list(self) -> list[tuple[str, str]]:
        """The fields in reverse transmission order."""
        return self._fields[::-1]

    def mem(self, name: str) -> bool:
        """Whether a field called ``name`` is present."""
        key = lower_ascii(name)
        return any(lower_ascii(n) == key for n, _ in self._fields)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The **last** value of ``name`` in transmission order, or ``default``."""
        key = lower_ascii(name)
        for n, v in reversed(self._fields):
            if lower_ascii(n) == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in transmission order (http/af ``get_multi``)."""
        key = lower_ascii(name)
        return [v for n, v in self._fields if lower_ascii(n) == key]

    def get_tokens(self, name: str) -> list[str]:
        """The comma-separated list elements of every ``name`` field, lowered.

        Empty elements are dropped (RFC 9110 §5.6.1), so ``"a, ,B"`` gives
        ``["a", "b"]``.
        """
        tokens: list[str] = []
        for value in self.get_all(name):
            for item in value.split(","):
                item = item.strip(" \t")
                if item:
                    tokens.append(lower_ascii(item))
        return tokens

    def to_string(self) -> str:
        """The fields as they go on the wire, followed by the blank line."""
        return "".join(f"{n}: {v}\r\n" for n, v in self._fields) + "\r\n"

    # -- changing ----------------------------------------------------------------

    def add(self, name: str, value: str) -> None:
        """Append a field."""
        self._fields.append((name, value))

    def add_unless_exists(self, name: str, value: str) -> None:
        """Append a field unless one with the same name is present."""
        if not self.mem(name):
            self._fields.append((name, value))

    def add_list(self, fields: Iterable[tuple[str, str]]) -> None:
        """Append ``fields`` in the given order.

        (http/af appends them reversed, a documented quirk we do not copy.)
        """
        self._fields.extend(fields)

    def add_multi(self, fields: Iterable[tuple[str, Iterable[str]]]) -> None:
        """Append ``name: v`` for each name and each of its values, in order."""
        for name, values in fields:
            for value in values:
                self._fields.append((name, value))

    def remove(self, name: str) -> None:
        """Drop every field called ``name``."""
        key = lower_ascii(name)
        self._fields = [(n, v) for n, v in self._fields if lower_ascii(n) != key]

    def replace(self, name: str, value: str) -> None:
        """Replace every ``name`` field by one ``(name, value)``.

        As in http/af's implementation, the new field takes the place of the *last*
        occurrence; nothing changes when ``name`` is absent.
        """
        key = lower_ascii(name)
        last = -1
        for i, (n, _) in enumerate(self._fields):
            if lower_ascii(n) == key:
                last = i
        if last < 0:
            return
        self._fields = [
            (name, value) if i == last else (n, v)
            for i, (n, v) in enumerate(self._fields)
            if i == last or lower_ascii(n) != key
        ]

    def __setitem__(self, name: str, value: str) -> None:
        """Set ``name`` to the single value ``value``, appending it if absent."""
        if self.mem(name):
            self.replace(name, value)
        else:
            self.add(name, value)

    def __delitem__(self, name: str) -> None:
        if not self.mem(name):
            raise KeyError(name)
        self.remove(name)

    def copy(self) -> Headers:
        """A shallow copy."""
        return Headers._of_list(list(self._fields))
