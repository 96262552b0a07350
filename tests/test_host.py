"""The ``Host`` field is validated (RFC 9112 §3.2, RFC 3986 §3.2.2-3.2.3):
``uri-host [ ":" port ]``, where uri-host is a reg-name, an IPv4 address or a bracketed
IP-literal and port is digits only. Anything else is a 400 and the connection closes,
in both implementations and in every server; an absolute-form target still needs one
valid Host."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from httpaf import Config, Reqd, Response

from helpers import parse_pieces, raw, raw_exchange, run_with_server, with_server

VALID = [
    b"example.com",
    b"example.com:8080",
    b"EXAMPLE.com.",
    b"127.0.0.1",
    b"127.0.0.1:80",
    b"[::1]",
    b"[::1]:8443",
    b"[2001:db8::7]",
    b"[v1.fe80::a+en1]",
    b"xn--bcher-kva.example",
    b"a%41b",
    b"sub-delims!$&'()*+;=",
    b"",  # RFC 9112 §3.2: empty when the target has no authority
    b"example.com:",  # port = *DIGIT
]

INVALID = [
    (b"a b", "whitespace"),
    (b"a\tb", "whitespace"),
    (b"a.com, b.com", "a list of hosts"),
    (b"user@example.com", "userinfo"),
    (b"example.com/path", "a path, query or fragment"),
    (b"example.com?q", "a path, query or fragment"),
    (b"example.com#f", "a path, query or fragment"),
    (b"exampl\xe9.com", "a character outside ASCII"),
    (b"example.com:80x", "malformed port"),
    (b"example.com:-1", "malformed port"),
    (b"example.com:8:8", "malformed port"),
    (b"::1", "malformed port"),
    (b"[::1", "unclosed bracket"),
    (b"[not-an-ip]", "malformed IP literal"),
    (b"[fe80::1%25eth0]", "malformed IP literal"),
    (b"a%4", "invalid character '%'"),
    (b"a[b]", "invalid character '['"),
    (b'a"b', "invalid character '\"'"),
]


def request(host: bytes, target: bytes = b"/") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"


@pytest.mark.parametrize("host", VALID)
def test_valid_hosts_are_accepted(wire: SimpleNamespace, host: bytes) -> None:
    events = parse_pieces(wire.RequestParser(Config()), [request(host)])
    assert events[0].headers.get("host") == host.decode("latin-1")


@pytest.mark.parametrize(("host", "fault"), INVALID)
@pytest.mark.parametrize("target", [b"/", b"http://example.com/x"])
def test_invalid_hosts_are_refused(
    wire: SimpleNamespace, host: bytes, fault: str, target: bytes
) -> None:
    assert parse_pieces(wire.RequestParser(Config()), [request(host, target)]) == [
        ("error", 400, f"invalid Host: {fault}")
    ]


def hello(reqd: Reqd) -> None:
    reqd.respond_with_bytes(Response(200), b"hello")


@pytest.mark.parametrize(("host", "fault"), INVALID[:4])
def test_native_server_answers_400_and_closes(loop_kind: str, host: bytes, fault: str) -> None:
    async def scenario(port: int) -> bytes:
        return await raw_exchange(port, request(host) + request(b"example.com"))

    data = run_with_server(loop_kind, hello, scenario)
    head = data.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 400 ") and b"\r\nconnection: close" in head
    assert data.count(b"HTTP/1.1 ") == 1  # the next request is never parsed


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_asgi_server_answers_400_and_closes(loop_kind: str) -> None:
    async def scenario(port: int) -> bytes:
        return await raw(port, request(b"user@example.com") + request(b"example.com"))

    data = with_server(loop_kind, asgi_app, scenario, lifespan="off")
    assert data.startswith(b"HTTP/1.1 400 ") and data.count(b"HTTP/1.1 ") == 1
    assert b"\r\nconnection: close" in data.lower()
