"""The clients against other servers: nginx (Debian's package; skipped when it is not
installed), uvicorn and aiohttp's server, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import httpaf.httpx
from httpaf.client import Client
from httpaf.sync import SyncSession

from helpers import Nginx
from helpers import run_bounded as run

FILES = {"small": b"s" * 2000, "kib": b"k" * 1024, "mib": bytes(range(256)) * 4096}


@pytest.fixture(scope="module")
def nginx() -> Any:
    if not Nginx.available():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    with Nginx(FILES) as server:
        yield server


def test_native_client_against_nginx(nginx: Nginx) -> None:
    async def main() -> None:
        async with Client(max_connections=10) as client:
            for name, data in FILES.items():
                response = await client.get(f"{nginx.url}/{name}")
                assert response.status == 200
                assert await response.read() == data
            head = await client.head(f"{nginx.url}/mib")
            assert head.headers["content-length"] == str(len(FILES["mib"]))
            assert await head.read() == b""
            posted = await client.post(f"{nginx.url}/post", json={"a": 1})
            assert json.loads(await posted.read()) == {"ok": True}
            missing = await client.get(f"{nginx.url}/nothing")
            assert missing.status == 404
            await missing.read()
            many = await asyncio.gather(*(client.get(f"{nginx.url}/small") for _ in range(100)))
            for response in many:
                assert await response.read() == FILES["small"]
            assert client.session.pool.connections <= 10

    run(main())


def test_sync_and_httpx_transports_against_nginx(nginx: Nginx) -> None:
    import httpx

    session = SyncSession()
    for _ in range(3):
        assert session.request("GET", f"{nginx.url}/mib").read() == FILES["mib"]
    assert session.pool.connections == 1
    with httpx.Client(transport=httpaf.httpx.HTTPTransport()) as client:
        assert client.get(f"{nginx.url}/kib").content == FILES["kib"]
        assert client.post(f"{nginx.url}/post", content=b"{}").json() == {"ok": True}

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpaf.httpx.AsyncHTTPTransport()) as client:
            response = await client.get(f"{nginx.url}/mib")
            assert response.content == FILES["mib"]

    run(main())


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the request body, chunked (no Content-Length), with the method."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"x-method", scope["method"].encode())]})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    await send({"type": "http.response.body", "body": body[len(body) // 2 :]})


def test_native_client_against_uvicorn() -> None:
    uvicorn = pytest.importorskip("uvicorn")

    async def main() -> None:
        config = uvicorn.Config(asgi_app, host="127.0.0.1", port=0, log_level="error",
                                lifespan="off", loop="asyncio")
        server = uvicorn.Server(config)
        task = asyncio.ensure_future(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            async with Client() as client:
                for size in (0, 10, 100_000):
                    response = await client.post(f"http://127.0.0.1:{port}/", content=b"u" * size)
                    assert response.headers["x-method"] == "POST"
                    assert await response.read() == b"u" * size

                async def pieces() -> Any:
                    for _ in range(10):
                        yield b"0123456789"

                streamed = await client.put(f"http://127.0.0.1:{port}/", content=pieces())
                assert await streamed.read() == b"0123456789" * 10
                assert client.session.pool.connections == 1
        finally:
            server.should_exit = True
            await task

    run(main())


def test_native_client_against_aiohttp_server() -> None:
    web = pytest.importorskip("aiohttp.web")

    async def handler(request: Any) -> Any:
        data = await request.read()
        if request.path == "/stream":
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(5):
                await response.write(b"chunk")
            await response.write_eof()
            return response
        return web.Response(body=data, headers={"X-Method": request.method})

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with Client() as client:
                echoed = await client.post(f"http://127.0.0.1:{port}/e", content=b"hello")
                assert await echoed.read() == b"hello"
                streamed = await client.get(f"http://127.0.0.1:{port}/stream")
                assert await streamed.read() == b"chunk" * 5
                for _ in range(20):
                    response = await client.get(f"http://127.0.0.1:{port}/x")
                    await response.read()
                assert client.session.pool.connections == 1
        finally:
            await runner.cleanup()

    run(main())
