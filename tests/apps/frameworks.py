"""The Starlette and FastAPI applications the in-process ASGI tests serve (built
around a data file), with the same routes as ``starlette_app`` and ``fastapi_app``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    StreamingResponse,
)
from starlette.routing import Route

try:
    from fastapi import BackgroundTasks, FastAPI
    from pydantic import BaseModel
except ImportError:  # pragma: no cover
    FastAPI = None  # type: ignore[assignment,misc]
    BaseModel = object  # type: ignore[assignment,misc]


class Item(BaseModel):  # type: ignore[misc,valid-type]
    """The FastAPI app's request model (module level: FastAPI resolves annotations here)."""

    name: str
    price: float
    tags: list[str] = []




def make_starlette_app(data_file: Path) -> tuple[Starlette, list[str]]:
    """The Starlette app of these tests, and the list its background tasks append to."""
    done: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hello from lifespan"}
        done.append("lifespan-shutdown")

    async def index(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello from starlette")

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
        size = pieces = 0
        async for piece in request.stream():
            digest.update(piece)
            size += len(piece)
            pieces += 1
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
        return FileResponse(data_file, media_type="application/octet-stream")

    async def background(request: Request) -> JSONResponse:
        token = request.query_params["token"]

        async def record() -> None:
            await asyncio.sleep(0)
            done.append(token)

        return JSONResponse({"scheduled": token}, background=BackgroundTask(record))

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"greeting": request.state.greeting})

    async def slow(request: Request) -> PlainTextResponse:
        await asyncio.sleep(float(request.query_params.get("delay", "0.3")))
        return PlainTextResponse("slow done " + request.query_params.get("i", ""))

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/items/{item_id:int}", item),
            Route("/echo", echo, methods=["POST"]),
            Route("/json", post_json, methods=["POST"]),
            Route("/stream", stream),
            Route("/download", download),
            Route("/background", background),
            Route("/state", state),
            Route("/slow", slow),
        ],
        lifespan=lifespan,
    )
    return app, done


def make_fastapi_app(data_file: Path) -> tuple[Any, list[str]]:
    """A FastAPI app with the same routes (pydantic models, dependencies)."""
    if FastAPI is None:
        pytest.skip("fastapi is not installed")
    done: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hello from fastapi lifespan"}
        done.append("lifespan-shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"id": item_id, "q": q}

    @app.post("/items")
    async def create_item(item: Item) -> dict[str, Any]:
        return {"created": item.model_dump(), "total": item.price * 2}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    @app.get("/stream")
    async def stream(n: int = 5) -> Any:
        async def generate() -> AsyncIterator[bytes]:
            for i in range(n):
                yield f"line {i}\n".encode()

        return StreamingResponse(generate(), media_type="text/plain")

    @app.get("/download")
    async def download() -> Any:
        return FileResponse(data_file, media_type="application/octet-stream")

    @app.get("/background")
    async def background(token: str, tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(done.append, token)
        return {"scheduled": token}

    @app.get("/state")
    async def state(request: Request) -> dict[str, str]:
        return {"greeting": request.state.greeting}

    return app, done
