"""WebSocket echo: every message sent to ``/ws`` comes back, text as text, binary as
binary (the server the WebSocket benchmarks and the Autobahn run use).

    python examples/ws_echo.py --port 8080
    python -m websockets ws://127.0.0.1:8080/ws

Messages are echoed from ``on_message``, as they are read (no task per message);
``--iterate`` echoes them from an ``async for`` loop instead; ``--asgi`` serves the
ASGI application :func:`app` with :func:`httpaf.asgi.run` (uvicorn's WebSocket
defaults). Other paths get 404.
"""

from __future__ import annotations

from typing import Any

from _cli import announce, parse_args

from httpaf import Reqd, Response
from httpaf.asyncio import WebSocket, accept_websocket, run


async def echo_callbacks(ws: WebSocket) -> None:
    """Echo each message as soon as it is read (the handler then just waits).

    (A message read together with the peer's close frame is not answered: the
    ``WebSocketClosed`` its ``send_nowait`` raises is ignored by the runtime.)
    """
    ws.on_message = ws.send_nowait
    await ws.wait_closed()


async def echo_iterating(ws: WebSocket) -> None:
    """Echo with the session API: ``async for`` and ``await send``."""
    async for message in ws:
        await ws.send(message)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same echo as an ASGI application (404 for HTTP and other paths)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http" or scope["path"] != "/ws":
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close"})
            return
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found\n"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


def main() -> None:
    args = parse_args(
        "httpaf WebSocket echo",
        iterate="echo from an async for loop",
        asgi="serve the ASGI echo application",
    )
    if args.asgi:
        import httpaf.asgi

        httpaf.asgi.run(
            app,
            args.host,
            args.port,
            use_uvloop=False if args.no_uvloop else None,
            ready=announce,
            access_log=False,
        )
        return
    session = echo_iterating if args.iterate else echo_callbacks

    def handler(reqd: Reqd) -> None:
        reqd.body.close()
        if reqd.request.target == "/ws":
            accept_websocket(reqd, session)
        else:
            reqd.respond_with_string(Response(404, [("Connection", "close")]), "not found\n")

    run(handler, args.host, args.port, use_uvloop=False if args.no_uvloop else None, ready=announce)


if __name__ == "__main__":
    main()
