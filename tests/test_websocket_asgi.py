"""ASGI WebSocket (spec 2.4) on httpaf.asgi.serve, and on uvicorn with httpaf's
classes: scopes, accept and close, denial responses, disconnect codes, options."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket
from websockets.asyncio.client import connect as ws_connect

import httpaf.asgi


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


async def serving(app: Any, **options: Any) -> Any:
    options.setdefault("access_log", False)
    return await httpaf.asgi.serve(app, "127.0.0.1", 0, lifespan="off", **options)


def test_scope_accept_echo_and_client_close() -> None:
    scopes: list[dict[str, Any]] = []
    disconnects: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        assert (await receive()) == {"type": "websocket.connect"}
        await send({"type": "websocket.accept", "subprotocol": "p2", "headers": [(b"x-hi", b"1")]})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                disconnects.append(message)
                return
            await send({"type": "websocket.send", **{k: v for k, v in message.items() if k != "type"}})

    async def main() -> None:
        server = await serving(app)
        async with server:
            url = f"ws://127.0.0.1:{server.port}/chat/room?x=1"
            async with ws_connect(url, subprotocols=["p1", "p2"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "p2"
                assert ws.response.headers["x-hi"] == "1"
                await ws.send("text")
                assert await ws.recv() == "text"
                await ws.send(b"bytes")
                assert await ws.recv() == b"bytes"
                await ws.close(4000, "see you")
            await asyncio.sleep(0.05)
        scope = scopes[0]
        assert scope["type"] == "websocket" and scope["scheme"] == "ws"
        assert scope["path"] == "/chat/room" and scope["query_string"] == b"x=1"
        assert scope["subprotocols"] == ["p1", "p2"]
        assert scope["asgi"]["spec_version"] == "2.4"
        assert "websocket.http.response" in scope["extensions"]
        assert disconnects == [{"type": "websocket.disconnect", "code": 4000, "reason": "see you"}]

    run(main())


def test_close_before_accept_is_403_and_denial_response() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        if scope["path"] == "/deny":
            await send({"type": "websocket.http.response.start", "status": 401, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b"who ", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"are you?"})
        else:
            await send({"type": "websocket.close"})
        assert (await receive()) == {"type": "websocket.disconnect", "code": 1006}

    async def main() -> None:
        server = await serving(app)
        async with server:
            with pytest.raises(websockets.InvalidStatus) as raised:
                await ws_connect(f"ws://127.0.0.1:{server.port}/")
            assert raised.value.response.status_code == 403
            with pytest.raises(websockets.InvalidStatus) as raised:
                await ws_connect(f"ws://127.0.0.1:{server.port}/deny")
            assert raised.value.response.status_code == 401
            assert raised.value.response.body == b"who are you?"

    run(main())


def test_app_error_before_accept_is_500() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def main() -> None:
        server = await serving(app)
        async with server:
            with pytest.raises(websockets.InvalidStatus) as raised:
                await ws_connect(f"ws://127.0.0.1:{server.port}/")
            assert raised.value.response.status_code == 500

    run(main())


def test_max_size_and_deflate_options() -> None:
    codes: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        codes.append(message.get("code", 0))

    async def main() -> None:
        server = await serving(app, ws_max_size=100, ws_per_message_deflate=False)
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
                assert ws.protocol.extensions == []
                await ws.send(b"x" * 101)
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1009
        assert codes == [1009]

    run(main())


def test_send_after_the_peer_closed_raises_oserror() -> None:
    failures: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        assert (await receive())["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "text": "late"})
        except OSError as error:
            failures.append(error)

    async def main() -> None:
        server = await serving(app)
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/"):
                pass
            await asyncio.sleep(0.1)
        assert len(failures) == 1

    run(main())


def test_ws_none_serves_no_websocket() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    async def main() -> None:
        server = await serving(app, ws="none")
        async with server:
            with pytest.raises(websockets.InvalidStatus):
                await ws_connect(f"ws://127.0.0.1:{server.port}/")
        assert seen == ["http"]

    run(main())


@pytest.mark.parametrize("ws", ["auto", "websockets", "websockets-sansio", "wsproto"])
def test_ws_choices_are_all_ours(ws: str) -> None:
    async def main() -> None:
        server = await serving(starlette_app(), ws=ws)
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/echo") as conn:
                await conn.send("hi")
                assert await conn.recv() == "echo: hi"

    run(main())


def test_bad_options_are_refused() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(ValueError, match="ws must be"):
        run(serving(app, ws="tornado"))
    with pytest.raises(ValueError):
        run(serving(app, ws_max_queue=0))


def starlette_app() -> Starlette:
    async def echo(websocket: StarletteWebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"echo: {text}")

    return Starlette(routes=[WebSocketRoute("/echo", echo)])


def test_keepalive_timeout_closes_1011() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    async def main() -> None:
        server = await serving(app, ws_ping_interval=0.05, ws_ping_timeout=0.05)
        async with server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/", ping_interval=None) as ws:
                ws.transport.write = lambda data: None  # type: ignore[method-assign]
                with pytest.raises(websockets.ConnectionClosedError) as raised:
                    await asyncio.wait_for(ws.recv(), 5)
            assert raised.value.rcvd is not None and raised.value.rcvd.code == 1011

    run(main())


@pytest.mark.parametrize("http", ["httpaf.uvicorn:HttpafProtocol", "h11"])
def test_uvicorn_with_our_websocket_class(http: str) -> None:
    import uvicorn

    async def main() -> None:
        config = uvicorn.Config(
            starlette_app(),
            host="127.0.0.1",
            port=0,
            http=http,
            ws="httpaf.uvicorn:HttpafWebSocketProtocol",
            lifespan="off",
            log_level="warning",
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with ws_connect(f"ws://127.0.0.1:{port}/echo") as conn:
            await conn.send("hi")
            assert await conn.recv() == "echo: hi"
            protocols = {type(c).__name__ for c in server.server_state.connections}
            assert protocols == {"HttpafWebSocketProtocol"}
        server.should_exit = True
        await task

    run(main())
