"""``httpaf.httpx``: httpx's clients on httpaf's engine, async and sync, over real
sockets (our server and a raw one that misbehaves). httpx's own suite runs with these
transports too: ``make test-httpx``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import RawServer, client_test_handler, ok, our_server, read_request
from helpers import run_bounded as run

httpx = pytest.importorskip("httpx")

import httpaf.httpx  # noqa: E402
from httpaf.asyncio import serve  # noqa: E402
from httpaf.client import Response as AsyncResponse  # noqa: E402
from httpaf.sync import SyncResponse  # noqa: E402


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """Our echo server on a thread of its own (for the sync transport)."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    def main() -> None:
        async def serve_forever() -> None:
            async with await serve(client_test_handler, "127.0.0.1", 0) as server:
                box["url"] = f"http://127.0.0.1:{server.port}"
                box["stop"] = stop = asyncio.Event()
                box["loop"] = asyncio.get_running_loop()
                ready.set()
                await stop.wait()

        asyncio.run(serve_forever())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    yield box["url"]
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(10)


# -- the sync transport ------------------------------------------------------------------


def test_sync_transport_basics(server_url: str) -> None:
    with httpx.Client(transport=httpaf.httpx.HTTPTransport()) as client:
        response = client.get(server_url + "/x")
        assert response.status_code == 200 and response.http_version == "HTTP/1.1"
        assert response.reason_phrase == "OK"
        assert response.extensions["http_version"] == b"HTTP/1.1"
        posted = client.post(server_url + "/p", content=b"abc" * 1000)
        assert posted.content == b"abc" * 1000
        streamed = client.post(server_url + "/s", content=iter([b"a", b"b", b"c"]))
        assert streamed.content == b"abc"
        with client.stream("GET", server_url + "/big/1000000") as big:
            assert sum(len(piece) for piece in big.iter_bytes()) == 1_000_000
        trailers = client.get(server_url + "/trailers")
        assert trailers.content == b"part one, part two"
        headers = client.get(server_url + "/headers").text
        assert "User-Agent: python-httpx/" in headers  # httpx's fields, not ours


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def alive(kind: type) -> int:
    return sum(1 for thing in gc.get_objects() if type(thing) is kind)


def test_sync_transport_lets_go_of_a_closed_response(server_url: str) -> None:
    """httpx's response and its stream hold each other until the cyclic collector
    runs; once httpx has closed the stream, ours (its exchange, its head) is freed by
    reference counting alone."""
    with no_cyclic_gc(), httpx.Client(transport=httpaf.httpx.HTTPTransport()) as client:
        before = alive(SyncResponse)
        kept = [client.get(server_url + "/x") for _ in range(3)]
        assert [response.status_code for response in kept] == [200, 200, 200]
        assert alive(SyncResponse) == before


def test_sync_transport_pool_limit_and_timeouts(server_url: str) -> None:
    transport = httpaf.httpx.HTTPTransport(limits=httpx.Limits(max_connections=1))
    with httpx.Client(transport=transport, timeout=httpx.Timeout(5.0, pool=0.1)) as client:
        with client.stream("GET", server_url + "/x"):
            with pytest.raises(httpx.PoolTimeout):
                client.get(server_url + "/x")
        assert client.get(server_url + "/x").status_code == 200
        assert transport.session.pool.connections == 1


def test_sync_errors_are_httpx_errors() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with httpx.Client(transport=httpaf.httpx.HTTPTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://127.0.0.1:{port}/")
        with pytest.raises(httpx.UnsupportedProtocol):
            client.get("ftp://example.com/")

    # A server that never answers: ReadTimeout; one that sends garbage: a protocol error.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    accepted: list[socket.socket] = []

    def accept() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            accepted.append(conn)
            conn.recv(65536)
            if len(accepted) == 2:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    with httpx.Client(transport=httpaf.httpx.HTTPTransport(), timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(url)
        with pytest.raises(httpx.RemoteProtocolError, match="Content-Length"):
            client.get(url)
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_http2_refused_clearly() -> None:
    with pytest.raises(ValueError, match="HTTP/1.1 only"):
        httpaf.httpx.HTTPTransport(http2=True)
    with pytest.raises(ValueError, match="HTTP/1.1 only"):
        httpaf.httpx.AsyncHTTPTransport(http2=True)


def test_trace_extension(server_url: str) -> None:
    events: list[str] = []
    with httpx.Client(transport=httpaf.httpx.HTTPTransport()) as client:
        response = client.get(server_url + "/x",
                              extensions={"trace": lambda name, info: events.append(name)})
        assert response.status_code == 200
    assert events[:2] == ["connection.connect_tcp.started", "connection.connect_tcp.complete"]
    assert "http11.receive_response_headers.complete" in events
    assert events[-1] == "http11.response_closed.complete"


# -- the async transport -------------------------------------------------------------------


def test_async_transport_basics() -> None:
    async def main() -> None:
        async with our_server() as base:
            transport = httpaf.httpx.AsyncHTTPTransport()
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.get(base + "/x")
                assert response.status_code == 200 and response.reason_phrase == "OK"

                async def body() -> Any:
                    yield b"one,"
                    yield b"two"

                posted = await client.post(base + "/p", content=body())
                assert posted.content == b"one,two"
                async with client.stream("GET", base + "/big/2000000") as big:
                    total = 0
                    async for piece in big.aiter_bytes():
                        total += len(piece)
                    assert total == 2_000_000
                results = await asyncio.gather(*(client.get(base + f"/{i}") for i in range(50)))
                assert {r.status_code for r in results} == {200}
                assert transport.session.pool.connections <= 100

    run(main())


def test_async_transport_lets_go_of_a_closed_response() -> None:
    """The async twin of ``test_sync_transport_lets_go_of_a_closed_response``."""

    async def main() -> None:
        async with our_server() as base:
            async with httpx.AsyncClient(transport=httpaf.httpx.AsyncHTTPTransport()) as client:
                before = alive(AsyncResponse)
                kept = [await client.get(base + "/x") for _ in range(3)]
                assert [response.status_code for response in kept] == [200, 200, 200]
                assert alive(AsyncResponse) == before

    with no_cyclic_gc():
        run(main())


def test_async_timeouts_and_errors_map_to_httpx() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    async def main() -> None:
        transport = httpaf.httpx.AsyncHTTPTransport()
        async with httpx.AsyncClient(transport=transport, timeout=0.3) as client:
            async with RawServer(silent) as server:
                with pytest.raises(httpx.ReadTimeout):
                    await client.get(server.url)
            async with RawServer(short) as server:
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.get(server.url)
            async with RawServer(silent) as server:
                with pytest.raises(httpx.WriteTimeout):
                    await client.put(server.url, content=b"*" * 50_000_000,
                                     timeout=httpx.Timeout(None, write=1e-6))

    run(main())


def test_async_pool_timeout_while_a_stream_is_open() -> None:
    async def main() -> None:
        async with our_server() as base:
            transport = httpaf.httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1))
            async with httpx.AsyncClient(transport=transport,
                                         timeout=httpx.Timeout(5.0, pool=0.05)) as client:
                async with client.stream("GET", base + "/x"):
                    with pytest.raises(httpx.PoolTimeout):
                        await client.get(base + "/x")
                assert (await client.get(base + "/x")).status_code == 200

    run(main())


def test_async_response_held_past_the_read_timeout_keeps_its_connection() -> None:
    """A response that has arrived whole waits for the application as long as it
    likes: the read timeout is for the server's silence, and nothing more is awaited
    from it, so the connection is not closed and serves the next request."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_request(reader)
            writer.write(ok(b"ok"))
            await writer.drain()

    async def main() -> None:
        async with RawServer(script) as server, httpx.AsyncClient(
            transport=httpaf.httpx.AsyncHTTPTransport(), timeout=httpx.Timeout(5.0, read=0.2)
        ) as client:
            async with client.stream("GET", server.url) as response:
                await asyncio.sleep(0.6)  # the application is busy elsewhere
                assert await response.aread() == b"ok"
            assert (await client.get(server.url)).content == b"ok"
            assert server.connections == 1

    run(main())


def test_async_retries_a_dropped_keep_alive_connection() -> None:
    count = [0]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count[0] += 1
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()

    async def main() -> None:
        async with RawServer(script) as server, httpx.AsyncClient(
            transport=httpaf.httpx.AsyncHTTPTransport()
        ) as client:
            assert (await client.get(server.url)).content == b"ok"
            assert (await client.get(server.url)).content == b"ok"
            assert count[0] == 2

    run(main())
