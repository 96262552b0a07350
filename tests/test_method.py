"""Method: http/af's lib_test/test_method.ml and our additions."""

from __future__ import annotations

import pytest

from httpaf.model import method as m
from httpaf.model.method import Method

ALL = list(Method)

SAFE = {Method.GET, Method.HEAD, Method.OPTIONS, Method.TRACE}
CACHEABLE = {Method.GET, Method.HEAD, Method.POST}
IDEMPOTENT = SAFE | {Method.PUT, Method.DELETE}


def test_standard_methods_are_the_eight_of_http_af() -> None:
    assert [str(x) for x in ALL] == [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE"
    ]


@pytest.mark.parametrize("meth", ALL, ids=str)
def test_method_is_safe(meth: Method) -> None:
    expected = meth in SAFE
    assert meth.is_safe is expected
    assert m.is_safe(meth) is expected
    assert m.is_safe(meth.value) is expected


@pytest.mark.parametrize("meth", ALL, ids=str)
def test_method_is_cacheable(meth: Method) -> None:
    expected = meth in CACHEABLE
    assert meth.is_cacheable is expected
    assert m.is_cacheable(meth) is expected
    assert m.is_cacheable(meth.value) is expected


@pytest.mark.parametrize("meth", ALL, ids=str)
def test_method_is_idempotent(meth: Method) -> None:
    expected = meth in IDEMPOTENT
    assert meth.is_idempotent is expected
    assert m.is_idempotent(meth) is expected
    assert m.is_idempotent(meth.value) is expected


@pytest.mark.parametrize("name", ["get", "Get", "head", "PATCH", "some-other-verb", ""])
def test_method_other_is_never_classified(name: str) -> None:
    # Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
    assert not m.is_safe(name)
    assert not m.is_cacheable(name)
    assert not m.is_idempotent(name)


@pytest.mark.parametrize("meth", ALL, ids=str)
def test_method_to_string_is_the_name(meth: Method) -> None:
    assert str(meth) == meth.name == meth.value
    assert meth == meth.name  # a Method is the str of its name
    assert f"{meth}" == meth.name


def test_method_of_string_is_case_sensitive() -> None:
    assert Method("GET") is Method.GET
    with pytest.raises(ValueError):
        Method("get")
