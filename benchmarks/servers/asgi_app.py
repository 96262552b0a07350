"""A bare ASGI app (no framework): what uvicorn, granian and httpaf's ASGI serve."""

from __future__ import annotations

from typing import Any

from benchmarks.servers.payloads import ALICE, HELLO

_TEXT = (b"content-type", b"text/plain")
_HELLO_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [_TEXT, (b"content-length", b"%d" % len(HELLO))],
}
_ALICE_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [_TEXT, (b"content-length", b"%d" % len(ALICE))],
}
_HELLO_BODY = {"type": "http.response.body", "body": HELLO}
_ALICE_BODY = {"type": "http.response.body", "body": ALICE}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Hello on /, the 2053-byte text on /alice, an echo on /upload."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/upload":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [_TEXT, (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
    elif path == "/alice":
        await send(_ALICE_START)
        await send(_ALICE_BODY)
    else:
        await send(_HELLO_START)
        await send(_HELLO_BODY)
