"""A FastAPI application for the ASGI tests (the CLI, gunicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel

DATA = bytes(range(256)) * 1200
DATA_FILE = Path(tempfile.gettempdir()) / f"httpaf-test-download-{len(DATA)}.bin"

#: Values recorded by background tasks, per process.
DONE: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    if not DATA_FILE.exists() or DATA_FILE.stat().st_size != len(DATA):
        tmp = DATA_FILE.with_name(f"{DATA_FILE.name}.{os.getpid()}")
        tmp.write_bytes(DATA)
        os.replace(tmp, DATA_FILE)
    yield {"greeting": "hello from lifespan", "pid": os.getpid()}


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/", response_class=PlainTextResponse)
async def index() -> str:
    return "hello from fastapi"


@app.get("/json")
async def json_route() -> dict[str, object]:
    return {"ok": True, "items": [1, 2, 3], "name": "fastapi"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict[str, object]:
    return {"id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item) -> dict[str, object]:
    return {"created": item.model_dump(), "total": item.price * 2}


@app.post("/echo")
async def echo(request: Request) -> dict[str, object]:
    digest = hashlib.sha256()
    size = 0
    async for piece in request.stream():
        digest.update(piece)
        size += len(piece)
    return {"size": size, "sha256": digest.hexdigest()}


@app.get("/stream")
async def stream(n: int = 5) -> StreamingResponse:
    async def generate() -> AsyncIterator[bytes]:
        for i in range(n):
            yield f"line {i}\n".encode()
            await asyncio.sleep(0)

    return StreamingResponse(generate(), media_type="text/plain")


@app.get("/download")
async def download() -> FileResponse:
    return FileResponse(DATA_FILE, media_type="application/octet-stream")


@app.get("/background")
async def background(token: str, tasks: BackgroundTasks) -> dict[str, str]:
    def record() -> None:
        DONE.append(token)

    tasks.add_task(record)
    return {"scheduled": token}


@app.get("/background-done")
async def background_done() -> dict[str, list[str]]:
    return {"done": DONE}


@app.get("/state")
async def state(request: Request) -> dict[str, object]:
    return {"greeting": request.state.greeting, "pid": request.state.pid, "here": os.getpid()}


@app.get("/slow", response_class=PlainTextResponse)
async def slow(delay: float = 1.0, mark: str | None = None) -> str:
    """Touch the ``mark`` file on arrival (tests wait for it), then take ``delay`` s."""
    if mark:
        Path(mark).touch()
    await asyncio.sleep(delay)
    return "slow done"


@app.get("/pid")
async def pid() -> dict[str, int]:
    return {"pid": os.getpid()}
