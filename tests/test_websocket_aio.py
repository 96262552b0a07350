"""WebSocket over asyncio (httpaf.aio.websocket): the native server API, our client,
and interoperation with the ``websockets`` library and ``wsproto``, both ways."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import websockets
import wsproto
import wsproto.events as wse
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

from httpaf import Reqd, Response
from httpaf.asyncio import (
    WebSocket,
    WebSocketClosed,
    accept_websocket,
    connect_websocket,
    serve,
)
from httpaf.model import HandshakeError
from httpaf.websocket import WebSocketConfig

Session = Callable[[WebSocket], Awaitable[object]]


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


async def native_server(session: Session = echo, **options: Any) -> Any:
    def handler(reqd: Reqd) -> None:
        if reqd.request.target.startswith("/ws"):
            accept_websocket(reqd, session, **options)
        else:
            reqd.respond_with_string(Response(404), "no")

    return await serve(handler, "127.0.0.1", 0)


# -- the websockets library's client against our server ---------------------------------


@pytest.mark.parametrize("compression", ["deflate", None])
def test_websockets_client_echo(compression: str | None) -> None:
    async def main() -> None:
        server = await native_server()
        async with server:
            url = f"ws://127.0.0.1:{server.port}/ws"
            async with ws_connect(url, compression=compression, max_size=None) as ws:
                for message in ["hello", "κόσμε" * 1000, b"\x00\xff" * 40000, b""]:
                    await ws.send(message)
                    assert await ws.recv() == message
                await ws.send(["frag", "mented"])
                assert await ws.recv() == "fragmented"
                await ws.ping()
                names = [e.name for e in ws.protocol.extensions]
                assert names == (["permessage-deflate"] if compression else [])
            assert ws.close_code == 1000

    run(main())


def test_bad_handshake_is_answered_426() -> None:
    async def main() -> None:
        server = await native_server()
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 426 ")
            assert b"Sec-WebSocket-Version: 13" in head
            writer.close()

    run(main())


def test_subprotocol_chosen_by_server_preference() -> None:
    async def session(ws: WebSocket) -> None:
        await ws.send(ws.subprotocol or "none")

    async def main() -> None:
        server = await native_server(session, subprotocols=["b", "a"])
        async with server:
            url = f"ws://127.0.0.1:{server.port}/ws"
            async with ws_connect(url, subprotocols=["a", "b"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "b"
                assert await ws.recv() == "b"

    run(main())


def test_server_close_code_and_reason_reach_the_client() -> None:
    async def session(ws: WebSocket) -> None:
        await ws.receive()
        await ws.close(4001, "bye now")

    async def main() -> None:
        server = await native_server(session)
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
                await ws.send("x")
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
            assert (ws.close_code, ws.close_reason) == (4001, "bye now")

    run(main())


def test_message_too_big_closes_1009() -> None:
    seen: list[object] = []

    async def session(ws: WebSocket) -> None:
        try:
            await ws.receive()
        except WebSocketClosed as closed:
            seen.append(closed.code)

    async def main() -> None:
        server = await native_server(session, config=WebSocketConfig(max_message_size=1000))
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/ws", compression=None) as ws:
                await ws.send(b"x" * 1001)
                with pytest.raises(websockets.ConnectionClosedError):
                    await ws.recv()
            assert ws.close_code == 1009
        assert seen == [1009]

    run(main())


def test_keepalive_ping_timeout_closes_1011() -> None:
    closed: list[WebSocket] = []

    async def session(ws: WebSocket) -> None:
        closed.append(ws)
        await ws.wait_closed()

    async def main() -> None:
        server = await native_server(session, ping_interval=0.05, ping_timeout=0.1)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await reader.readuntil(b"\r\n\r\n")
            # Never answer the pings: a ping (0x89), then a close with 1011, then EOF.
            data = await asyncio.wait_for(reader.read(), 5)
            assert data[:2] == b"\x89\x04"
            assert data[6:10] == b"\x88\x18\x03\xf3"
            assert b"keepalive ping timeout" in data
            writer.close()
        assert closed[0].close_code == 1011

    run(main())


def test_receive_queue_pauses_reading() -> None:
    got: list[object] = []
    gate = asyncio.Event()

    async def session(ws: WebSocket) -> None:
        await gate.wait()
        async for message in ws:
            got.append(message)

    async def main() -> None:
        server = await native_server(session, max_queue=2)
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/ws", compression=None) as ws:
                for i in range(50):
                    await ws.send(str(i))
                await asyncio.sleep(0.05)
                protocol = next(c for c in server._connections if isinstance(c, WebSocket))
                assert protocol._read_paused  # two messages wait; reading stopped
                gate.set()
                await asyncio.sleep(0.1)
        assert got == [str(i) for i in range(50)]

    run(main())


def test_send_waits_while_the_transport_is_paused() -> None:
    class Transport(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.data = bytearray()

        def write(self, data: Any) -> None:
            self.data += data

        def is_closing(self) -> bool:
            return False

        def close(self) -> None:
            pass

    async def main() -> None:
        from httpaf.websocket import WebSocketConnection

        ws = WebSocket(WebSocketConnection(False, WebSocketConfig(per_message_deflate=False)))
        transport = Transport()
        ws.connection_made(transport)
        ws.pause_writing()
        task = asyncio.ensure_future(ws.send("x"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not task.done() and not transport.data
        ws.resume_writing()
        await task
        assert bytes(transport.data) == b"\x81\x01x"
        ws.pause_writing()
        task = asyncio.ensure_future(ws.send("y"))
        await asyncio.sleep(0)
        ws.connection_lost(None)  # a send waiting on a lost connection fails
        with pytest.raises(WebSocketClosed):
            await task

    run(main())


# -- our client against the websockets library's server and a wsproto server -----------


def test_our_client_against_websockets_server() -> None:
    async def handler(conn: Any) -> None:
        async for message in conn:
            await conn.send(message)

    async def main() -> None:
        async with ws_serve(handler, "127.0.0.1", 0, subprotocols=["chat"]) as server:  # type: ignore[list-item]
            port = server.sockets[0].getsockname()[1]
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/", subprotocols=["chat"])
            assert ws.subprotocol == "chat" and ws.conn is not None and ws.conn.deflate is not None
            for message in ["hi", b"\x01" * 100000, "é" * 5000]:
                await ws.send(message)
                assert await ws.receive() == message
            await asyncio.wait_for(ws.ping(), 5)
            await ws.close(1000, "done")
            assert ws.close_code == 1000

    run(main())


def test_our_client_sees_a_refusal() -> None:
    async def main() -> None:
        server = await native_server()
        async with server:
            with pytest.raises(HandshakeError) as raised:
                await connect_websocket(f"ws://127.0.0.1:{server.port}/elsewhere")
            assert raised.value.status == 404

    run(main())


async def wsproto_echo_server() -> tuple[asyncio.AbstractServer, int]:
    """A WebSocket echo server made of wsproto's state machine and asyncio streams."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        pieces: list[Any] = []
        while True:
            data = await reader.read(65536)
            conn.receive_data(data or None)
            for event in conn.events():
                if isinstance(event, wse.Request):
                    writer.write(conn.send(wse.AcceptConnection()))
                elif isinstance(event, (wse.TextMessage, wse.BytesMessage)):
                    pieces.append(event.data)
                    if event.message_finished:
                        joined = "".join(pieces) if isinstance(event, wse.TextMessage) else b"".join(pieces)
                        pieces = []
                        kind = wse.TextMessage if isinstance(joined, str) else wse.BytesMessage
                        writer.write(conn.send(kind(data=joined)))  # type: ignore[arg-type]
                elif isinstance(event, wse.Ping):
                    writer.write(conn.send(event.response()))
                elif isinstance(event, wse.CloseConnection):
                    writer.write(conn.send(event.response()))
                    writer.close()
                    return
            if not data:
                writer.close()
                return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_our_client_against_wsproto_server() -> None:
    async def main() -> None:
        server, port = await wsproto_echo_server()
        async with server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/")
            assert ws.conn is not None and ws.conn.deflate is None  # not offered back
            for message in ["hi", b"\x02" * 70000]:
                await ws.send(message)
                assert await ws.receive() == message
            await ws.close()
            assert ws.close_code == 1000

    run(main())


def test_wsproto_client_against_our_server() -> None:
    async def main() -> None:
        server = await native_server()
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            writer.write(conn.send(wse.Request(host="127.0.0.1", target="/ws")))
            got: list[object] = []
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                conn.receive_data(data)
                for event in conn.events():
                    if isinstance(event, wse.AcceptConnection):
                        writer.write(conn.send(wse.TextMessage(data="ünïcode")))
                        writer.write(conn.send(wse.BytesMessage(data=b"\x00" * 3000)))
                    elif isinstance(event, (wse.TextMessage, wse.BytesMessage)):
                        got.append(event.data)
                        if len(got) == 2:
                            writer.write(conn.send(wse.CloseConnection(code=1000, reason="bye")))
                    elif isinstance(event, wse.CloseConnection):
                        got.append(("close", event.code))
            writer.close()
            assert got == ["ünïcode", b"\x00" * 3000, ("close", 1000)]

    run(main())


def test_graceful_shutdown_closes_websockets_1001() -> None:
    async def main() -> None:
        server = await native_server()
        ws = await ws_connect(f"ws://127.0.0.1:{server.port}/ws")
        await ws.send("x")
        assert await ws.recv() == "x"
        await server.shutdown(2)
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1001
        assert server.connection_count == 0

    run(main())


def test_upgraded_connections_leave_the_http_set() -> None:
    async def main() -> None:
        server = await native_server()
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
                await ws.send("x")
                await ws.recv()
                kinds = {type(c).__name__ for c in server._connections}
                assert kinds == {"WebSocket"}
            await asyncio.sleep(0.05)
            assert server.connection_count == 0

    run(main())


@pytest.fixture
def free_port() -> AsyncIterator[int]:  # type: ignore[misc]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_shutdown_aborts_a_websocket_that_does_not_close() -> None:
    """A WebSocket still open after the shutdown timeout is cut like an HTTP connection."""

    async def stubborn(ws: WebSocket) -> None:
        await asyncio.sleep(30)

    async def main() -> None:
        server = await native_server(stubborn)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await reader.readuntil(b"\r\n\r\n")
        protocol = next(c for c in server._connections if isinstance(c, WebSocket))
        protocol.shutdown = lambda: None  # type: ignore[method-assign]  # ignores the stop
        await server.shutdown(0.2)
        assert protocol.transport.is_closing()
        writer.close()

    run(main())


def test_upgraded_http_connection_is_released() -> None:
    """A handshake and a frame in one write: the HTTP connection that read them pauses
    reading (a liveness probe runs meanwhile); once handed over it must keep no timer
    alive, or the probe would hold it (and check a socket that is not its own) forever."""
    import gc

    async def main() -> None:
        server = await native_server()
        async with server:
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(
                    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n\x81\x05hello"  # unmasked: 1002
                )
                data = await asyncio.wait_for(reader.read(), 5)
                assert b"\r\n\r\n\x88" in data
                writer.close()
            await asyncio.sleep(0.1)
            gc.collect()
            left = [o for o in gc.get_objects() if type(o).__name__ == "ServerProtocol"]
            assert left == []

    run(main())
