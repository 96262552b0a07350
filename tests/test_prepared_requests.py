"""httpaf.net.PreparedRequests: bodiless requests built once per session, rebuilt when
the session's default fields change, bounded."""

from __future__ import annotations

from typing import Any

from httpaf.connection import PreparedRequest
from httpaf.net import URL, PreparedRequests
from httpaf.net import prepared as prepared_module

URL_A = URL.parse("http://example.com/a")


def kept() -> PreparedRequests:
    return PreparedRequests(PreparedRequest, None)


def test_same_request_is_built_once() -> None:
    requests = kept()
    defaults = [("User-Agent", "t")]
    first = requests.get("GET", URL_A, None, defaults)
    assert first is not None
    out, prepared = first
    assert requests.get("GET", URL_A, None, defaults) is first
    assert prepared.head == (b"GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n")
    assert out.request is prepared.request and out.method == "GET" and out.url is URL_A
    # Other fields, or none of the defaults: another request.
    given = requests.get("GET", URL_A, [(b"Accept", b"*/*")], defaults)
    assert given is not None and given is not first
    assert b"Accept: */*\r\n" in given[1].head
    assert requests.get("GET", URL_A, [(b"Accept", b"*/*")], defaults) is given
    bare = requests.get("GET", URL_A, None, None)
    assert bare is not None and b"User-Agent" not in bare[1].head


def test_changed_defaults_build_it_anew() -> None:
    requests = kept()
    defaults = [("User-Agent", "t")]
    first = requests.get("GET", URL_A, None, defaults)
    defaults.append(("X-Later", "1"))
    later = requests.get("GET", URL_A, None, defaults)
    assert later is not None and later is not first
    assert b"X-Later: 1\r\n" in later[1].head


def test_what_is_not_kept() -> None:
    requests = kept()
    assert requests.get("GET", URL_A, {"Accept": "*/*"}, []) is None  # a mapping
    assert requests.get("GET", URL_A, [["Accept", ["*/*"]]], []) is None  # unhashable


def test_a_request_that_cannot_be_prepared_goes_unprepared() -> None:
    requests = kept()
    both = [("Content-Length", "1"), ("Transfer-Encoding", "chunked")]
    entry = requests.get("GET", URL_A, both, [])
    assert entry is not None and entry[1] is None  # sending it fails as it would


def test_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(prepared_module, "PREPARED_LIMIT", 3)
    requests = kept()
    urls = [URL.parse(f"http://example.com/{i}") for i in range(10)]
    for url in urls:
        requests.get("GET", url, None, [])
    assert 0 < len(requests) <= 3
