"""A pytest plugin for httpx's own test suite: httpaf's transports made httpx's default.

``make test-httpx`` downloads httpx's sdist and runs its tests with ``-p
httpx_transports`` (this file, copied next to them). Every ``httpx.Client`` and
``httpx.AsyncClient`` the tests make then sends through
:class:`httpaf.httpx.HTTPTransport` / :class:`httpaf.httpx.AsyncHTTPTransport`, as do
the transports the tests build themselves. (httpx's clients pick their default
transport by a name bound in ``httpx._client``; rebinding it there is the one way to
make another transport the default without editing the tests.)

The tests that cannot apply are skipped with the reason (``-rs`` lists them): the ones
that ask for HTTP/2, SOCKS or httpcore's internals, the trio variants of the async
client's tests (the async transport runs on asyncio), and the two that need the
Internet.
"""

from __future__ import annotations

from typing import Any

import httpx
import httpx._client
import pytest

import httpaf.httpx

httpx.HTTPTransport = httpaf.httpx.HTTPTransport  # type: ignore[misc]
httpx.AsyncHTTPTransport = httpaf.httpx.AsyncHTTPTransport  # type: ignore[misc]
httpx._client.HTTPTransport = httpaf.httpx.HTTPTransport  # type: ignore[misc]
httpx._client.AsyncHTTPTransport = httpaf.httpx.AsyncHTTPTransport  # type: ignore[misc]

HTTP2 = "HTTP/2: the test makes a client with http2=True, which httpaf refuses (HTTP/1.1 only)"
HTTPCORE = "httpcore internals: the test inspects transport._pool, an httpcore pool"
TRIO = "trio: httpaf's AsyncHTTPTransport runs on asyncio only"
INTERNET = "needs the Internet (example.com through a proxy); httpx's own transport fails here too"

# (test name, or test name prefix of a parametrized one) -> why it cannot apply
CANNOT_APPLY = {
    "tests/client/test_client.py::test_get": HTTP2,
    "tests/client/test_client.py::test_server_extensions": HTTP2,
    "tests/client/test_async_client.py::test_get[asyncio]": HTTP2,
    "tests/client/test_async_client.py::test_server_extensions[asyncio]": HTTP2,
    "tests/client/test_proxies.py::test_socks_proxy": "SOCKS proxies: httpcore's, not ours",
    "tests/client/test_proxies.py::test_async_proxy_close": INTERNET,
    "tests/client/test_proxies.py::test_sync_proxy_close": INTERNET,
    "tests/test_api.py::test_httpcore_lazy_loading": "httpcore internals: the test expects "
    "httpcore to be imported by the first request",
}
TRIO_FILES = ("tests/client/test_async_client.py", "tests/test_timeouts.py",
              "tests/client/test_proxies.py")
# Parametrized tests that check httpcore's pool when a proxy is expected.
POOL_CHECKS = ("tests/client/test_proxies.py::test_transport_for_request",
               "tests/client/test_proxies.py::test_proxies_environ")


def _why_not(item: Any) -> str | None:
    nodeid = item.nodeid
    for name, reason in CANNOT_APPLY.items():
        if nodeid == name or (nodeid.startswith(name + "[") and not name.endswith("]")):
            return reason
    if "[trio" in nodeid and nodeid.startswith(TRIO_FILES):
        return TRIO
    if nodeid.startswith(POOL_CHECKS):
        params = getattr(item, "callspec", None)
        if params is not None and params.params.get("expected") is not None:
            return HTTPCORE
    return None


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        reason = _why_not(item)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"cannot apply: {reason}"))
