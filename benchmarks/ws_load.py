"""The WebSocket load generator of benchmarks/ws_bench.py: CONNS connections, each
sending a message and waiting for its echo before the next (round trips).

    python benchmarks/ws_load.py ws://127.0.0.1:8080/ws --conns 100 --size 1024 \
        --kind binary --seconds 3 [--deflate]

picows' client (Cython) drives the uncompressed runs; it has no permessage-deflate, so
``--deflate`` runs use httpaf's own client (``connect_websocket``, compiled codec),
which offers it. Prints one JSON line: round trips, seconds, and whether the server
agreed to deflate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any


class Counter:
    """Round trips of every connection, and whether the run is still on."""

    def __init__(self) -> None:
        self.count = 0
        self.running = True


async def picows_clients(
    url: str, conns: int, payload: Any, text: bool, counter: Counter
) -> list[Any]:
    from picows import WSListener, WSMsgType, ws_connect

    kind = WSMsgType.TEXT if text else WSMsgType.BINARY

    class Client(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: Any) -> None:
            transport.send(kind, payload)

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
                return
            if not frame.fin:
                return  # (a fragmented echo: the message is counted at its last frame)
            counter.count += 1
            if counter.running:
                transport.send(kind, payload)

    transports = []
    for _ in range(conns):
        transport, _ = await ws_connect(Client, url, max_frame_size=1 << 24)
        transports.append(transport)
    return transports


async def httpaf_clients(url: str, conns: int, payload: Any, counter: Counter) -> list[Any]:
    from httpaf.asyncio import connect_websocket

    clients = []
    for _ in range(conns):
        ws = await connect_websocket(url)

        def on_message(message: Any, ws: Any = ws) -> None:
            counter.count += 1
            if counter.running:
                ws.send_nowait(payload)

        ws.on_message = on_message
        ws.send_nowait(payload)
        clients.append(ws)
    return clients


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--conns", type=int, default=1)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--kind", choices=["text", "binary"], default="binary")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--deflate", action="store_true")
    args = parser.parse_args()
    text = args.kind == "text"
    # Compressible but not trivial: words of a small vocabulary (deflate runs), or
    # random bytes (binary), or random letters (text).
    if args.deflate:
        words = b"the quick brown fox jumps over a lazy dog and keeps running "
        raw = (words * (args.size // len(words) + 1))[: args.size]
    elif text:
        raw = bytes(97 + b % 26 for b in os.urandom(args.size))
    else:
        raw = os.urandom(args.size)
    counter = Counter()
    if args.deflate:
        payload: Any = raw.decode() if text else raw
        clients = await httpaf_clients(args.url, args.conns, payload, counter)
        agreed = all(ws.conn.deflate is not None for ws in clients)
    else:
        clients = await picows_clients(args.url, args.conns, raw, text, counter)
        agreed = False
    await asyncio.sleep(args.warmup)
    start_count, start = counter.count, time.perf_counter()
    await asyncio.sleep(args.seconds)
    count, elapsed = counter.count - start_count, time.perf_counter() - start
    counter.running = False
    print(json.dumps({"round_trips": count, "seconds": elapsed, "deflate": agreed}), flush=True)
    await asyncio.sleep(0.2)
    for client in clients:
        close = getattr(client, "disconnect", None) or client.abort
        close()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
