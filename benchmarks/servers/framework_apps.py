"""Hello-world apps of the frameworks people run on these servers: ``GET /`` answers the
14-byte ``Hello, world!\\n`` as text through the framework's routing.

    uvicorn benchmarks.servers.framework_apps:fastapi_app
    python -m httpaf benchmarks.servers.framework_apps:starlette_app
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from benchmarks.servers.payloads import HELLO

TEXT = HELLO.decode()

fastapi_app = FastAPI()


@fastapi_app.get("/", response_class=PlainTextResponse)
async def fastapi_hello() -> str:
    """Hello, through FastAPI's routing and response class."""
    return TEXT


async def starlette_hello(request: Request) -> Any:
    """Hello, through Starlette's routing."""
    return PlainTextResponse(TEXT)


starlette_app = Starlette(routes=[Route("/", starlette_hello)])
