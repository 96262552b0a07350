"""Whenever the server closes after a response, that response says ``Connection: close``
(RFC 9112 §9.6), over real sockets: the client asked to close, an HTTP/1.0 client did
not ask for keep-alive, an error, a limit, a graceful shutdown, a body of unknown
length; for the native API, ASGI and the uvicorn class, whole and streamed bodies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from httpaf import Config, Reqd, Response
from httpaf.asyncio import serve

from helpers import raw, raw_exchange, run_with_server, with_server


def whole(reqd: Reqd) -> None:
    reqd.respond_with_bytes(Response(200), b"whole")


def streamed(reqd: Reqd) -> None:
    writer = reqd.respond_with_streaming(Response(200, [("Transfer-Encoding", "chunked")]))
    writer.write(b"streamed")
    writer.close()


def unknown_length(reqd: Reqd) -> None:
    writer = reqd.respond_with_streaming(Response(200))  # no length: ends the connection
    writer.write(b"until close")
    writer.close()


def last_head(data: bytes) -> bytes:
    return b"HTTP/1.1 " + data.rpartition(b"HTTP/1.1 ")[2].partition(b"\r\n\r\n")[0]


def says_close(data: bytes) -> bool:
    head = last_head(data).lower()
    return b"\r\nconnection: close" in head


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
CASES = [
    # (name, handler, request bytes, config, expected status of the last response)
    ("client asked", whole, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", None, 200),
    ("client asked, streamed", streamed,
     b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", None, 200),
    ("HTTP/1.0", whole, b"GET / HTTP/1.0\r\n\r\n", None, 200),
    ("HTTP/1.0 streamed", unknown_length, b"GET / HTTP/1.0\r\n\r\n", None, 200),
    ("unknown length", unknown_length, GET, None, 200),
    ("bad request", whole, b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", None, 400),
    ("head too large", whole, b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 300 + b"\r\n\r\n",
     Config(max_field_size=64, max_head_size=256, max_request_line=64), 431),
    ("body too large", whole, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
     Config(max_body_size=10), 413),
    ("after a keep-alive exchange", whole,
     GET + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", None, 200),
]


@pytest.mark.parametrize(
    ("handler", "request_bytes", "config", "status"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_native_last_response_announces_the_close(
    loop_kind: str, handler: Any, request_bytes: bytes, config: Config | None, status: int
) -> None:
    async def scenario(port: int) -> bytes:
        return await raw_exchange(port, request_bytes)

    data = run_with_server(loop_kind, handler, scenario, config=config or Config())
    assert last_head(data).startswith(b"HTTP/1.1 %d " % status)
    assert says_close(data)
    if data.count(b"HTTP/1.1 ") > 1:  # the responses before it do not
        assert b"connection: close" not in data.partition(b"\r\n\r\n")[0].lower()


def test_graceful_shutdown_announces_the_close(loop_kind: str) -> None:
    """A request in flight when the server shuts down: its response says close."""
    started: list[Reqd] = []

    def later(reqd: Reqd) -> None:
        started.append(reqd)

    async def main() -> bytes:
        server = await serve(later, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(GET)
        while not started:
            await asyncio.sleep(0.01)
        shutting = asyncio.ensure_future(server.shutdown(5))
        await asyncio.sleep(0.05)
        started[0].respond_with_bytes(Response(200), b"late")
        data = await asyncio.wait_for(reader.read(), 5)
        await shutting
        writer.close()
        return data

    data = asyncio.run(main())
    assert data.startswith(b"HTTP/1.1 200 ") and says_close(data)


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /stream HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\x00\r\n\r\n",
    ],
    ids=["asked", "asked, streamed", "HTTP/1.0", "HTTP/1.0 streamed", "bad request"],
)
def test_asgi_last_response_announces_the_close(loop_kind: str, request_bytes: bytes) -> None:
    async def scenario(port: int) -> bytes:
        return await raw(port, request_bytes)

    data = with_server(loop_kind, asgi_app, scenario, lifespan="off")
    assert data.startswith(b"HTTP/1.1 ") and says_close(data)
