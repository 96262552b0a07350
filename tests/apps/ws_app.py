"""A WebSocket application for the command's tests (ASGI 3, one worker process).

- WebSocket ``/echo``: every message sent back as it came (text or bytes).
- WebSocket ``/hold?key=K``: accepted, then nothing is received until ``GET
  /release?key=K``; then ``"released"`` is sent and every message is echoed, so
  messages the client sent meanwhile wait in the server.
- HTTP ``/release?key=K``: lets ``/hold?key=K`` go on; any other HTTP request is
  answered with what its scope says (``type``, ``path``, and its ``upgrade`` and
  ``connection`` fields), as JSON.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

_held: dict[str, asyncio.Event] = {}


def _key(scope: dict[str, Any]) -> str:
    return parse_qs(scope["query_string"].decode()).get("key", [""])[0]


def _event(key: str) -> asyncio.Event:
    return _held.setdefault(key, asyncio.Event())


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await _http(scope, send)
    elif scope["type"] == "websocket":
        await _websocket(scope, receive, send)


async def _http(scope: dict[str, Any], send: Any) -> None:
    if scope["path"] == "/release":
        _event(_key(scope)).set()
        body = b"released"
    else:
        fields = {k.decode(): v.decode() for k, v in scope["headers"]}
        body = json.dumps(
            {
                "type": scope["type"],
                "path": scope["path"],
                "upgrade": fields.get("upgrade"),
                "connection": fields.get("connection"),
            }
        ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def _websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    if scope["path"] == "/hold":
        await _event(_key(scope)).wait()
        await send({"type": "websocket.send", "text": "released"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", **{k: message.get(k) for k in ("text", "bytes")}})
