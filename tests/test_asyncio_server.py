"""The asyncio runtime over real sockets, driven by real clients (httpx, raw sockets)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from httpaf import Config, Reqd, Response
from httpaf.aio import ServerProtocol
from httpaf.asyncio import new_event_loop, serve, shutdown

from helpers import FakeLoop, FakeTransport, raw_exchange, run_with_server


def echo_handler(reqd: Reqd) -> None:
    """Stream the request body back, with the request's length framing."""
    body = reqd.body
    pieces: list[bytes] = []

    def on_read(data: memoryview) -> None:
        pieces.append(bytes(data))
        body.schedule_read(on_read, on_eof)

    def on_eof() -> None:
        payload = b"".join(pieces)
        reqd.respond_with_string(Response(200, [("X-Target", reqd.request.target)]), payload)

    body.schedule_read(on_read, on_eof)








def test_httpx_get_and_post_keep_alive(loop_kind: str) -> None:
    async def chunks() -> Any:  # an async iterator makes httpx send a chunked body
        yield b"chunk-1;"
        yield b"chunk-2"

    async def scenario(port: int) -> list[Any]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = await client.get("/a")
            second = await client.post("/b", content=b"x" * 100_000)
            third = await client.post("/c", content=chunks())
            return [
                (first.status_code, first.headers["x-target"], first.content),
                (second.status_code, len(second.content)),
                (third.status_code, third.content),
            ]

    results = run_with_server(loop_kind, echo_handler, scenario)
    assert results == [(200, "/a", b""), (200, 100_000), (200, b"chunk-1;chunk-2")]


def test_pipelined_burst_answered_in_order(loop_kind: str) -> None:
    requests = b"".join(
        b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(50)
    ) + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    async def scenario(port: int) -> bytes:
        return await raw_exchange(port, requests)

    data = run_with_server(loop_kind, echo_handler, scenario)
    targets = [
        line.split(b": ")[1] for line in data.split(b"\r\n") if line.startswith(b"X-Target")
    ]
    assert targets == [b"/%d" % i for i in range(50)] + [b"/last"]
    assert data.count(b"HTTP/1.1 200 OK") == 51


def test_large_head_grows_the_buffer(loop_kind: str) -> None:
    """A header block bigger than the initial read buffer works (http/af #18)."""
    big = "v" * 10_000
    config = Config(read_buffer_size=1024)

    async def scenario(port: int) -> tuple[int, str]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/big", headers={"X-Big": big, "X-Big-2": big})
            return response.status_code, response.headers["x-target"]

    assert run_with_server(loop_kind, echo_handler, scenario, config=config) == (200, "/big")


def test_connections_sharing_the_read_buffer_keep_their_own_bytes(loop_kind: str) -> None:
    """Reads go into one buffer shared by a loop's connections: what one connection
    keeps between reads (half a head, half a body) must survive the others' reads."""
    config = Config(read_buffer_size=64)  # small: heads and bodies span many reads
    bodies = [bytes([65 + i]) * (500 + 37 * i) for i in range(4)]

    async def client(port: int, i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = bodies[i]
        request = b"POST /%d HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\nContent-Length: %d\r\n\r\n" % (
            i, b"p" * (100 + i), len(body)
        ) + body
        for start in range(0, len(request), 45 + i):  # dribbled: others read meanwhile
            writer.write(request[start : start + 45 + i])
            await writer.drain()
            await asyncio.sleep(0)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        data = await reader.readexactly(length)
        writer.close()
        assert b"X-Target: /%d\r\n" % i in head
        return data

    async def scenario(port: int) -> list[bytes]:
        return list(await asyncio.gather(*(client(port, i) for i in range(4))))

    assert run_with_server(loop_kind, echo_handler, scenario, config=config) == bodies


@pytest.mark.parametrize("read_buffer_size", [64, 65536])
def test_kept_body_views_never_show_another_connections_bytes(
    loop_kind: str, read_buffer_size: int
) -> None:
    """A handler keeps every body piece it is given (the view itself, a slice of it and
    a view of the slice) while other connections' bytes are read after them; at the
    end each kept piece still holds its own connection's bytes and nothing else."""
    config = Config(read_buffer_size=read_buffer_size)
    kept: list[tuple[int, memoryview]] = []
    sizes = [3000 + 101 * i for i in range(6)]

    def handler(reqd: Reqd) -> None:
        mark = int(reqd.request.target[1:])
        body = reqd.body

        def on_read(data: memoryview) -> None:
            kept.append((mark, data))  # the view itself,
            kept.append((mark, data[1:]))  # a slice of it,
            kept.append((mark, memoryview(data[:-1])))  # and a view of a slice
            body.schedule_read(on_read, on_eof)

        def on_eof() -> None:
            reqd.respond_with_string(Response(200), b"ok")

        body.schedule_read(on_read, on_eof)

    async def client(port: int, i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = bytes([i]) * sizes[i]  # connection i sends only the byte i
        request = b"POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (i, len(body))
        data = request + body
        for start in range(0, len(data), 700):  # interleaved with the others' reads
            writer.write(data[start : start + 700])
            await writer.drain()
            await asyncio.sleep(0)
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.close()
        return head

    async def scenario(port: int) -> list[bytes]:
        return list(await asyncio.gather(*(client(port, i) for i in range(len(sizes)))))

    heads = run_with_server(loop_kind, handler, scenario, config=config)
    assert all(head.startswith(b"HTTP/1.1 200 ") for head in heads)
    received = [0] * len(sizes)
    for mark, view in kept:
        assert set(bytes(view)) <= {mark}, f"connection {mark} sees another's bytes"
    for mark, view in kept[::3]:
        received[mark] += len(view)
    assert received == sizes  # every byte was delivered, zero-copy, and kept


@pytest.mark.parametrize("piece", [5, 29, 1 << 20])
def test_kept_views_of_a_connections_own_buffer_are_never_written_over(piece: int) -> None:
    """Bytes a connection keeps between reads (here, chunk-size lines cut by the reads)
    go to a buffer of its own, which the runtime compacts when it is full; body views
    of that buffer a handler kept must still show what they showed."""
    kept: list[tuple[memoryview, bytes]] = []

    def handler(reqd: Reqd) -> None:
        body = reqd.body

        def on_read(data: memoryview) -> None:
            kept.append((data, bytes(data)))  # the view, and what it showed then
            body.schedule_read(on_read, on_eof)

        def on_eof() -> None:
            reqd.respond_with_string(Response(200), b"ok")

        body.schedule_read(on_read, on_eof)

    # Small chunks behind long chunk-size lines (an extension): most reads end in a line.
    chunks = [bytes([65 + i % 26]) * (1 + i % 4) for i in range(3000)]
    wire = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(
        b"%x;note=%s\r\n%s\r\n" % (len(c), b"x" * 20, c) for c in chunks
    ) + b"0\r\n\r\n"
    protocol = ServerProtocol(handler, None, Config(read_buffer_size=64), set(), FakeLoop())
    transport = FakeTransport()
    protocol.connection_made(transport)
    # Reads that cut lines anywhere; pieces larger than the room offered fill each
    # buffer to its end, so the kept bytes' buffer is compacted when full.
    for start in range(0, len(wire), piece):
        data = wire[start : start + piece]
        while data:
            buffer = protocol.get_buffer(len(data))
            n = min(len(buffer), len(data))
            buffer[:n] = data[:n]
            protocol.buffer_updated(n)
            data = data[n:]
    assert bytes(transport.data).startswith(b"HTTP/1.1 200 ")
    assert b"".join(shown for _, shown in kept) == b"".join(chunks)
    assert [bytes(view) for view, _ in kept] == [shown for _, shown in kept]


def test_head_over_the_limit_gets_431(loop_kind: str) -> None:
    config = Config(read_buffer_size=1024, max_head_size=4096, max_request_line=1024)
    request = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(5)
    ) + b"\r\n"

    async def scenario(port: int) -> bytes:
        return await raw_exchange(port, request)

    data = run_with_server(loop_kind, echo_handler, scenario, config=config)
    assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


def test_bad_request_then_nothing_else_is_parsed(loop_kind: str) -> None:
    seen: list[str] = []

    def handler(reqd: Reqd) -> None:
        seen.append(reqd.request.target)
        echo_handler(reqd)

    smuggle = (
        b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    )

    async def scenario(port: int) -> bytes:
        return await raw_exchange(port, smuggle)

    data = run_with_server(loop_kind, handler, scenario)
    assert seen == ["/ok"]
    assert data.count(b"HTTP/1.1 200 OK") == 1
    assert b"HTTP/1.1 400 Bad Request" in data
    assert b"smuggled" not in data


def test_handler_exception_is_a_500_and_server_keeps_serving(loop_kind: str) -> None:
    def handler(reqd: Reqd) -> None:
        if reqd.request.target == "/boom":
            raise RuntimeError("secret detail")
        echo_handler(reqd)

    async def scenario(port: int) -> list[Any]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            boom = await client.get("/boom")
            fine = await client.get("/fine")
            return [boom.status_code, boom.text, fine.status_code]

    status, text, after = run_with_server(loop_kind, handler, scenario)
    assert (status, after) == (500, 200)
    assert "secret" not in text


def test_async_handler_responds_later(loop_kind: str) -> None:
    def handler(reqd: Reqd) -> None:
        reqd.body.close()
        loop = asyncio.get_running_loop()
        loop.call_later(
            0.01, reqd.respond_with_string, Response(200), "late " + reqd.request.target
        )

    async def scenario(port: int) -> list[str]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            return [(await client.get(f"/{i}")).text for i in range(3)]

    assert run_with_server(loop_kind, handler, scenario) == ["late /0", "late /1", "late /2"]


def test_streaming_response_with_flow_control(loop_kind: str) -> None:
    """A 4 MB chunked response reaches a slow reader whole (writer waits on the transport)."""
    piece = bytes(range(256)) * 256  # 64 KiB

    def handler(reqd: Reqd) -> None:
        reqd.body.close()
        writer = reqd.respond_with_streaming(Response(200, [("Transfer-Encoding", "chunked")]))
        remaining = [64]

        def more() -> None:
            if remaining[0] == 0:
                writer.close()
                return
            remaining[0] -= 1
            writer.write(piece)
            writer.flush(more)

        more()

    async def scenario(port: int) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await asyncio.sleep(0.2)  # let the server fill the socket buffers
        data = await reader.read()
        writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        decoded = bytearray()
        while True:
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded += body[:size]
            body = body[size + 2 :]
        assert bytes(decoded) == piece * 64
        return len(decoded)

    assert run_with_server(loop_kind, handler, scenario) == 64 * 65536


def test_upgrade_hands_over_the_transport(loop_kind: str) -> None:
    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data.upper())  # type: ignore[attr-defined]

    def handler(reqd: Reqd) -> None:
        reqd.respond_with_upgrade(
            Response(101, [("Connection", "Upgrade"), ("Upgrade", "shout")]),
            lambda transport, leftover: Echo(),
        )

    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\nearly "
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        echoed = await reader.readexactly(6)
        writer.write(b"later")
        echoed += await reader.readexactly(5)
        writer.close()
        return echoed

    assert run_with_server(loop_kind, handler, scenario) == b"EARLY LATER"


def test_graceful_shutdown_finishes_in_flight_requests(loop_kind: str) -> None:
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")

    def handler(reqd: Reqd) -> None:
        reqd.body.close()
        asyncio.get_running_loop().call_later(0.2, reqd.respond_with_string, Response(200), "done")

    async def main() -> tuple[bytes, bool]:
        server = await serve(handler, "127.0.0.1", 0)
        port = server.port
        exchange = asyncio.ensure_future(
            raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        )
        await asyncio.sleep(0.05)
        await shutdown(server, timeout=5)
        data = await exchange
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            refused = True
        return data, refused

    try:
        data, refused = loop.run_until_complete(main())
    finally:
        loop.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\ndone")
    assert refused
