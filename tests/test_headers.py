"""Headers: http/af's lib_test/test_headers.ml and the rest of its ``Headers`` interface.

Deliberate differences from http/af: our Headers is mutable (operations change it in
place and return None), and ``add_list`` appends in the given order.
"""

from __future__ import annotations

import pytest

from httpaf.model.headers import Headers, ci_equal, lower_ascii

Fields = list[tuple[str, str]]


# -- test_headers.ml ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "name", "value", "expected"),
    [
        ([("c", "d"), ("a", "b")], "a", "d", [("c", "d"), ("a", "d")]),
        ([("e", "f"), ("c", "d"), ("a", "b")], "c", "z", [("e", "f"), ("c", "z"), ("a", "b")]),
        # every occurrence goes; the new field takes the place of the *last* one
        ([("c", "d"), ("a", "b"), ("a", "c")], "a", "d", [("c", "d"), ("a", "d")]),
        ([("a", "1"), ("c", "d"), ("a", "2"), ("e", "f")], "a", "x",
         [("c", "d"), ("a", "x"), ("e", "f")]),
        # case-insensitive; the given spelling is the one kept
        ([("Host", "a"), ("x", "y")], "HOST", "b", [("HOST", "b"), ("x", "y")]),
        # absent: unchanged
        ([("c", "d")], "a", "b", [("c", "d")]),
        ([], "a", "b", []),
    ],
)
def test_headers_replace(fields: Fields, name: str, value: str, expected: Fields) -> None:
    headers = Headers(fields)
    assert headers.replace(name, value) is None
    assert headers.to_list() == expected


@pytest.mark.parametrize(
    ("fields", "name", "expected"),
    [
        ([("a", "b"), ("c", "d")], "a", [("c", "d")]),
        ([("c", "d"), ("a", "b")], "a", [("c", "d")]),
        ([("a", "1"), ("c", "d"), ("A", "2")], "a", [("c", "d")]),
        ([("c", "d")], "a", [("c", "d")]),
        ([], "a", []),
        ([("Content-Length", "1")], "CONTENT-LENGTH", []),
    ],
)
def test_headers_remove(fields: Fields, name: str, expected: Fields) -> None:
    headers = Headers(fields)
    assert headers.remove(name) is None
    assert headers.to_list() == expected


def _lowercase_ascii(c: str) -> str:
    """OCaml's Char.lowercase_ascii on a latin-1 character."""
    return chr(ord(c) + 32) if "A" <= c <= "Z" else c


@pytest.mark.parametrize("x", range(256))
def test_headers_ci_equal(x: int) -> None:
    """For all 256×256 byte pairs: mem folds exactly ASCII A–Z, nothing else."""
    cx = chr(x)
    for y in range(256):
        cy = chr(y)
        expected = _lowercase_ascii(cx) == _lowercase_ascii(cy)
        assert Headers([(cy, "value")]).mem(cx) is expected, (x, y)
        assert ci_equal(cx, cy) is expected, (x, y)


# -- the rest of http/af's Headers interface (lib/headers.mli) ---------------------


def test_headers_of_list_keeps_transmission_order() -> None:
    fields = [("b", "1"), ("a", "2"), ("b", "3")]
    headers = Headers(fields)
    assert headers.to_list() == fields
    assert list(headers) == fields
    assert headers.to_rev_list() == fields[::-1]
    assert len(headers) == 3
    fields.append(("c", "4"))  # the constructor copied its input
    assert len(headers) == 3


def test_headers_empty() -> None:
    for headers in (Headers(), Headers(None), Headers([])):
        assert len(headers) == 0
        assert not headers
        assert headers.to_list() == []
        assert headers.to_string() == "\r\n"
        assert headers.get("a") is None


def test_headers_add_appends() -> None:
    headers = Headers([("a", "1")])
    assert headers.add("b", "2") is None
    headers.add("a", "3")
    assert headers.to_list() == [("a", "1"), ("b", "2"), ("a", "3")]


@pytest.mark.parametrize(
    ("fields", "name", "expected"),
    [
        ([("a", "1")], "b", [("a", "1"), ("b", "v")]),
        ([("a", "1")], "a", [("a", "1")]),
        ([("a", "1")], "A", [("a", "1")]),
        ([], "a", [("a", "v")]),
    ],
)
def test_headers_add_unless_exists(fields: Fields, name: str, expected: Fields) -> None:
    headers = Headers(fields)
    headers.add_unless_exists(name, "v")
    assert headers.to_list() == expected


def test_headers_add_list_appends_in_given_order() -> None:
    # Deliberate difference: http/af appends the elements of the list reversed.
    headers = Headers([("a", "1")])
    headers.add_list([("b", "2"), ("c", "3")])
    assert headers.to_list() == [("a", "1"), ("b", "2"), ("c", "3")]
    headers.add_list(iter([("d", "4")]))
    assert headers.to_list()[-1] == ("d", "4")


def test_headers_add_multi() -> None:
    headers = Headers([("z", "0")])
    headers.add_multi([("a", ["1", "2"]), ("b", []), ("c", ("3",))])
    assert headers.to_list() == [("z", "0"), ("a", "1"), ("a", "2"), ("c", "3")]


@pytest.mark.parametrize(
    ("fields", "name", "expected"),
    [
        ([("a", "1"), ("b", "2"), ("a", "3")], "a", "3"),  # the last value
        ([("a", "1"), ("b", "2"), ("a", "3")], "A", "3"),
        ([("Content-Type", "text/plain")], "content-type", "text/plain"),
        ([("a", "1")], "b", None),
        ([("a", "")], "a", ""),  # an empty value is present, not absent
    ],
)
def test_headers_get(fields: Fields, name: str, expected: str | None) -> None:
    headers = Headers(fields)
    assert headers.get(name) == expected
    assert headers.mem(name) is (expected is not None)
    assert (name in headers) is (expected is not None)
    if expected is None:
        assert headers.get(name, "dflt") == "dflt"
        with pytest.raises(KeyError):
            headers[name]
    else:
        assert headers[name] == expected


def test_headers_get_multi() -> None:
    headers = Headers([("a", "1"), ("B", "2"), ("A", "3"), ("b", "4")])
    assert headers.get_all("a") == ["1", "3"]
    assert headers.get_all("b") == ["2", "4"]
    assert headers.get_all("c") == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["close"], ["close"]),
        (["Keep-Alive, Upgrade"], ["keep-alive", "upgrade"]),
        (["a, ,B", "c"], ["a", "b", "c"]),
        ([" , ,\t"], []),
        (["\tX\t"], ["x"]),
    ],
)
def test_headers_get_tokens(values: list[str], expected: list[str]) -> None:
    headers = Headers([("Connection", v) for v in values] + [("other", "z")])
    assert headers.get_tokens("connection") == expected


def test_headers_to_string() -> None:
    headers = Headers([("Host", "example.com"), ("X-A", ""), ("x-a", "b c")])
    assert headers.to_string() == "Host: example.com\r\nX-A: \r\nx-a: b c\r\n\r\n"


def test_headers_preserve_name_case() -> None:
    headers = Headers([("X-MiXeD", "v")])
    headers.add("CONTENT-type", "t")
    assert [n for n, _ in headers] == ["X-MiXeD", "CONTENT-type"]


def test_headers_setitem_and_delitem() -> None:
    headers = Headers([("a", "1"), ("b", "2"), ("A", "3")])
    headers["a"] = "x"
    assert headers.to_list() == [("b", "2"), ("a", "x")]
    headers["c"] = "y"
    assert headers.to_list() == [("b", "2"), ("a", "x"), ("c", "y")]
    del headers["B"]
    assert headers.to_list() == [("a", "x"), ("c", "y")]
    with pytest.raises(KeyError):
        del headers["b"]


def test_headers_equality_is_exact_and_ordered() -> None:
    assert Headers([("a", "1")]) == Headers([("a", "1")])
    assert Headers([("a", "1")]) != Headers([("A", "1")])
    assert Headers([("a", "1"), ("b", "2")]) != Headers([("b", "2"), ("a", "1")])
    assert Headers() != [("a", "1")]
    with pytest.raises(TypeError):
        hash(Headers())


def test_headers_copy_is_independent() -> None:
    headers = Headers([("a", "1")])
    copy = headers.copy()
    copy.add("b", "2")
    headers.replace("a", "z")
    assert headers.to_list() == [("a", "z")]
    assert copy.to_list() == [("a", "1"), ("b", "2")]


def test_headers_contains_only_str() -> None:
    headers = Headers([("a", "1")])
    assert "A" in headers
    assert 1 not in headers
    assert b"a" not in headers


def test_headers_repr() -> None:
    assert repr(Headers([("a", "1")])) == "Headers([('a', '1')])"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Content-Length", "content-length"),
        ("ABCXYZ", "abcxyz"),
        ("\xc0\xdeX", "\xc0\xdex"),  # latin-1 capitals are not folded
        ("K\u212a", "k\u212a"),  # KELVIN SIGN is not K
        ("\u0130", "\u0130"),  # str.lower would give two characters
    ],
)
def test_headers_lower_ascii(name: str, expected: str) -> None:
    assert lower_ascii(name) == expected


def test_headers_kelvin_sign_is_not_k() -> None:
    # str.lower() folds U+212A to "k": a name must not match through it.
    headers = Headers([("\u212aey", "v")])
    assert not headers.mem("key")
    assert not Headers([("key", "v")]).mem("\u212aey")
