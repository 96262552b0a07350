"""httpaf.net.PreparedRequests: request heads built once per session (bodiless, or
per length of bytes content), rebuilt when the session's default fields change,
bounded."""

from __future__ import annotations

from typing import Any

import pytest

from httpaf.connection import PreparedRequest
from httpaf.net import URL, LocalProtocolError, PreparedRequests, Route
from httpaf.net import prepared as prepared_module

URL_A = URL.parse("http://example.com/a")
DIRECT = Route(("http", "example.com", 80), "example.com", 80)
PROXIED = Route(("proxy",), "proxy", 3128, forward=True)


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


def test_dict_fields_are_kept_by_their_items_in_order() -> None:
    requests = kept()
    first = requests.get("GET", URL_A, {"Accept": "*/*", "X-A": "1"}, [])
    assert first is not None and first[1] is not None
    assert requests.get("GET", URL_A, {"Accept": "*/*", "X-A": "1"}, []) is first
    swapped = requests.get("GET", URL_A, {"X-A": "1", "Accept": "*/*"}, [])
    assert swapped is not None and swapped is not first
    assert swapped[1].head.index(b"X-A") < swapped[1].head.index(b"Accept")


def test_what_is_not_kept() -> None:
    requests = kept()
    mapping = type("Fields", (dict,), {})({"Accept": "*/*"})  # not a plain dict
    assert requests.get("GET", URL_A, mapping, []) is None
    assert requests.get("GET", URL_A, [["Accept", ["*/*"]]], []) is None  # unhashable


def test_bytes_content_goes_after_a_head_kept_per_length() -> None:
    requests = kept()
    fields = {"Content-Type": "application/json"}
    out1, prepared1 = requests.request("POST", URL_A, DIRECT, fields, b"[1]", None, None, [])
    out2, prepared2 = requests.request("POST", URL_A, DIRECT, fields, b"[2]", None, None, [])
    assert prepared1 is not None and prepared2 is prepared1 and len(requests) == 1
    assert prepared1.head == (b"POST /a HTTP/1.1\r\nHost: example.com\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 3\r\n\r\n")
    # Each request carries its own content; the kept one holds none.
    assert (out1.body.data, out2.body.data) == (b"[1]", b"[2]")
    assert out1.body.length == out2.body.length == 3 and out1.body.replayable
    assert out1.request is out2.request is prepared1.request
    kept_out = requests.get("POST", URL_A, fields, [], 3)
    assert kept_out is not None and kept_out[0].body.data is None
    # Another length: another head.
    out3, prepared3 = requests.request("POST", URL_A, DIRECT, fields, b"[10]", None, None, [])
    assert prepared3 is not prepared1 and b"Content-Length: 4\r\n" in prepared3.head
    assert out3.body.data == b"[10]"


@pytest.mark.parametrize(
    "content, json, trailers, route",
    [
        (bytearray(b"[1]"), None, None, DIRECT),  # not bytes
        (iter([b"[1]"]), None, None, DIRECT),  # a stream
        (iter([b"[1]"]), None, [("X-Sum", "1")], DIRECT),  # trailers
        (b"[1]", None, None, PROXIED),  # a forward proxy's absolute form
        (b"x" * (prepared_module.KEPT_CONTENT_LIMIT + 1), None, None, DIRECT),  # large
    ],
    ids=["bytearray", "stream", "trailers", "forward-proxy", "large"],
)
def test_requests_built_each_time(content: Any, json: Any, trailers: Any, route: Route) -> None:
    requests = kept()
    out, prepared = requests.request("POST", URL_A, route, None, content, json, trailers, [])
    assert prepared is None and len(requests) == 0
    if isinstance(content, bytes):
        assert out.body.data is content


def test_json_goes_after_a_head_kept_per_length_with_its_content_type() -> None:
    requests = kept()
    out1, prepared1 = requests.request("POST", URL_A, DIRECT, None, None, {"a": 1}, None, [])
    out2, prepared2 = requests.request("POST", URL_A, DIRECT, None, None, {"a": 2}, None, [])
    assert prepared1 is not None and prepared2 is prepared1
    assert prepared1.head == (b"POST /a HTTP/1.1\r\nHost: example.com\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 7\r\n\r\n")
    assert (out1.body.data, out2.body.data) == (b'{"a":1}', b'{"a":2}')
    # A Content-Type given (in the fields or the defaults) is kept, not doubled.
    given = [("Content-Type", "application/vnd.x+json")]
    _, prepared3 = requests.request("POST", URL_A, DIRECT, given, None, {"a": 1}, None, [])
    _, prepared4 = requests.request("POST", URL_A, DIRECT, None, None, {"a": 1}, None, given)
    for prepared in (prepared3, prepared4):
        assert prepared is not None and prepared.head.count(b"Content-Type") == 1
        assert b"Content-Type: application/vnd.x+json\r\n" in prepared.head
    # Bytes of the same length are another request: no Content-Type added.
    _, raw = requests.request("POST", URL_A, DIRECT, None, b'{"a":1}', None, None, [])
    assert raw is not prepared1 and b"Content-Type" not in raw.head


def test_json_and_content_together_are_refused_each_time() -> None:
    requests = kept()
    for _ in range(2):
        with pytest.raises(LocalProtocolError, match="content or json"):
            requests.request("POST", URL_A, DIRECT, None, b"[1]", [1], None, [])
    assert len(requests) == 0


def test_empty_content_is_the_bodiless_request() -> None:
    requests = kept()
    out, prepared = requests.request("POST", URL_A, DIRECT, None, b"", None, None, [])
    assert prepared is not None and out.body.data is None and out.body.length == 0
    assert b"Content-Length: 0\r\n" in prepared.head


def test_expect_continue_is_decided_by_the_length() -> None:
    requests = PreparedRequests(PreparedRequest, 100)
    small, _ = requests.request("PUT", URL_A, DIRECT, None, b"x" * 99, None, None, [])
    large, prepared = requests.request("PUT", URL_A, DIRECT, None, b"x" * 100, None, None, [])
    assert not small.expect_continue and large.expect_continue
    assert b"Expect: 100-continue\r\n" in prepared.head


@pytest.mark.parametrize("fields", [[("Content-Length", "5")], [("Transfer-Encoding", "chunked")]],
                         ids=["wrong-length", "chunked"])
def test_content_that_contradicts_the_fields_is_refused_each_time(fields: Any) -> None:
    requests = kept()
    for _ in range(2):  # (nothing is kept that would let the second one through)
        with pytest.raises(LocalProtocolError):
            requests.request("POST", URL_A, DIRECT, fields, b"[1]", None, None, [])
    assert len(requests) == 0


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
