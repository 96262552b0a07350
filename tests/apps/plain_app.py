"""Framework-free applications for the command's tests: what a request sees, as JSON.

``app`` (ASGI 3), ``wsgi_app`` (WSGI) and ``Asgi2App`` (ASGI 2) answer every request
with ``{"pid": ..., "env": $name for ?env=name, "path": ...}``; ``/slow?delay=s`` waits
first. ``create_app`` is a factory of ``app``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any
from urllib.parse import parse_qs


def _answer(path: str, query: str) -> bytes:
    params = parse_qs(query)
    name = params.get("env", [""])[0]
    return json.dumps(
        {"pid": os.getpid(), "env": os.environ.get(name) if name else None, "path": path}
    ).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    query = scope["query_string"].decode()
    delay = parse_qs(query).get("delay")
    if delay:
        await asyncio.sleep(float(delay[0]))
    body = _answer(scope["path"], query)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app() -> Any:
    return app


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    query = environ.get("QUERY_STRING", "")
    delay = parse_qs(query).get("delay")
    if delay:
        time.sleep(float(delay[0]))
    body = _answer(environ["PATH_INFO"], query)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


class Asgi2App:
    """An ASGI 2 application: made with the scope, then called with receive and send."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        if self.scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2"})
