"""WebSocket echo servers of other libraries, for benchmarks/ws_bench.py: every message
on ``/ws`` sent back with its type, as examples/ws_echo.py does.

    python -m benchmarks.servers.ws_peers websockets --port 8080
    python -m benchmarks.servers.ws_peers picows --port 8080
    python -m benchmarks.servers.ws_peers aiohttp --port 8080
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def _loop() -> asyncio.AbstractEventLoop:
    import uvloop

    return uvloop.new_event_loop()


async def websockets_server(port: int) -> None:
    """The ``websockets`` library's own asyncio server (its defaults: deflate on)."""
    from websockets.asyncio.server import serve

    async def echo(conn: Any) -> None:
        async for message in conn:
            await conn.send(message)

    async with serve(echo, "127.0.0.1", port, max_size=None, ping_interval=None):
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


async def picows_server(port: int) -> None:
    """picows (Cython): the echo answers each frame from ``on_ws_frame``."""
    from picows import WSListener, WSMsgType, ws_create_server

    class Echo(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
                transport.send(frame.msg_type, frame.get_payload_as_memoryview())
            elif frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

    server = await ws_create_server(lambda request: Echo(), "127.0.0.1", port)
    print(f"serving on http://127.0.0.1:{port}", flush=True)
    await server.serve_forever()


async def aiohttp_server(port: int) -> None:
    """aiohttp's WebSocket server (its defaults: deflate on)."""
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"serving on http://127.0.0.1:{port}", flush=True)
    await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("server", choices=["websockets", "picows", "aiohttp"])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    run = {"websockets": websockets_server, "picows": picows_server, "aiohttp": aiohttp_server}
    loop = _loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(run[args.server](args.port))


if __name__ == "__main__":
    main()
