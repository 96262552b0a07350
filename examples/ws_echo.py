"""WebSocket echo: every message sent to ``/ws`` comes back, text as text, binary as
binary (the server the WebSocket benchmarks and the Autobahn run use).

    python examples/ws_echo.py --port 8080
    python -m websockets ws://127.0.0.1:8080/ws

Messages are echoed from ``on_message``, as they are read (no task per message);
``--iterate`` echoes them from an ``async for`` loop instead. Other paths get 404.
"""

from __future__ import annotations

from _cli import announce, parse_args

from httpaf import Reqd, Response
from httpaf.asyncio import WebSocket, accept_websocket, run


async def echo_callbacks(ws: WebSocket) -> None:
    """Echo each message as soon as it is read (the handler then just waits)."""
    ws.on_message = ws.send_nowait
    await ws.wait_closed()


async def echo_iterating(ws: WebSocket) -> None:
    """Echo with the session API: ``async for`` and ``await send``."""
    async for message in ws:
        await ws.send(message)


def main() -> None:
    args = parse_args("httpaf WebSocket echo", iterate="echo from an async for loop")
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
