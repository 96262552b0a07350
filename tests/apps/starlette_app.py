"""A Starlette application for the ASGI tests (the CLI, gunicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

DATA = bytes(range(256)) * 1200
DATA_FILE = Path(tempfile.gettempdir()) / f"httpaf-test-download-{len(DATA)}.bin"

#: Values recorded by background tasks, per process.
DONE: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
    if not DATA_FILE.exists() or DATA_FILE.stat().st_size != len(DATA):
        tmp = DATA_FILE.with_name(f"{DATA_FILE.name}.{os.getpid()}")
        tmp.write_bytes(DATA)
        os.replace(tmp, DATA_FILE)
    yield {"greeting": "hello from lifespan", "pid": os.getpid()}


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello from starlette")


async def json_route(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "items": [1, 2, 3], "name": "starlette"})


async def item(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "id": request.path_params["item_id"],
            "q": request.query_params.get("q"),
            "tags": request.query_params.getlist("tag"),
        }
    )


async def echo(request: Request) -> JSONResponse:
    digest = hashlib.sha256()
    size = 0
    async for piece in request.stream():
        digest.update(piece)
        size += len(piece)
    return JSONResponse({"size": size, "sha256": digest.hexdigest()})


async def post_json(request: Request) -> JSONResponse:
    return JSONResponse({"received": await request.json()})


async def stream(request: Request) -> StreamingResponse:
    count = int(request.query_params.get("n", "5"))

    async def generate() -> AsyncIterator[bytes]:
        for i in range(count):
            yield f"line {i}\n".encode()
            await asyncio.sleep(0)

    return StreamingResponse(generate(), media_type="text/plain")


async def download(request: Request) -> FileResponse:
    return FileResponse(DATA_FILE, media_type="application/octet-stream")


async def background(request: Request) -> JSONResponse:
    token = request.query_params["token"]

    async def record() -> None:
        await asyncio.sleep(0)
        DONE.append(token)

    return JSONResponse({"scheduled": token}, background=BackgroundTask(record))


async def background_done(request: Request) -> JSONResponse:
    return JSONResponse({"done": DONE})


async def state(request: Request) -> JSONResponse:
    return JSONResponse(
        {"greeting": request.state.greeting, "pid": request.state.pid, "here": os.getpid()}
    )


async def slow(request: Request) -> PlainTextResponse:
    """Touch the ``mark`` file on arrival (tests wait for it), then take ``delay`` s."""
    mark = request.query_params.get("mark")
    if mark:
        Path(mark).touch()
    await asyncio.sleep(float(request.query_params.get("delay", "1")))
    return PlainTextResponse("slow done")


async def pid(request: Request) -> JSONResponse:
    return JSONResponse({"pid": os.getpid()})


app = Starlette(
    routes=[
        Route("/", index),
        Route("/json", json_route),
        Route("/json", post_json, methods=["POST"]),
        Route("/items/{item_id:int}", item),
        Route("/echo", echo, methods=["POST"]),
        Route("/stream", stream),
        Route("/download", download),
        Route("/background", background),
        Route("/background-done", background_done),
        Route("/state", state),
        Route("/slow", slow),
        Route("/pid", pid),
    ],
    lifespan=lifespan,
)
