"""httpaf.uvicorn.HttpafProtocol inside a real uvicorn.Server, over real sockets:
Starlette and FastAPI apps, keep-alive, limits, max requests, graceful shutdown,
WebSocket hand-off and logs. (uvicorn's own protocol tests run through
``make test-uvicorn``.)"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

uvicorn = pytest.importorskip("uvicorn")

from httpaf.asyncio import new_event_loop  # noqa: E402
from httpaf.uvicorn import HttpafProtocol  # noqa: E402

from apps.frameworks import make_fastapi_app, make_starlette_app  # noqa: E402
from helpers import DATA, FakeTransport, exercise_framework_app  # noqa: E402


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


def run_uvicorn(
    loop_kind: str,
    app: Any,
    scenario: Callable[[int, Any], Awaitable[Any]],
    **config: Any,
) -> Any:
    """Run ``uvicorn.Server`` with our protocol class, and ``scenario(port, server)``."""
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")
    config.setdefault("http", HttpafProtocol)
    config.setdefault("log_level", "warning")

    async def main() -> Any:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, **config))
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        try:
            return await asyncio.wait_for(scenario(port, server), 30)
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 30)
            sock.close()

    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


async def raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    chunks = []
    while True:
        chunk = await asyncio.wait_for(reader.read(65536), 10)
        if not chunk:
            break
        chunks.append(chunk)
    writer.close()
    return b"".join(chunks)


def test_starlette_app(loop_kind: str, data_file: Path) -> None:
    app, done = make_starlette_app(data_file)

    async def scenario(port: int, server: Any) -> None:
        await exercise_framework_app(port, "hello from lifespan", server_header="uvicorn")

    run_uvicorn(loop_kind, app, scenario, lifespan="on")
    assert done == ["t1", "lifespan-shutdown"]


def test_fastapi_app_by_import_string(loop_kind: str, data_file: Path) -> None:
    app, done = make_fastapi_app(data_file)

    async def scenario(port: int, server: Any) -> None:
        await exercise_framework_app(port, "hello from fastapi lifespan", server_header="uvicorn")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            r = await client.post("/items", json={"name": "pen", "price": 2})
            assert r.json()["total"] == 4

    run_uvicorn(
        loop_kind, app, scenario, lifespan="on", http="httpaf.uvicorn:HttpafProtocol"
    )
    assert done == ["t1", "lifespan-shutdown"]


def simple_app(body: bytes = b"hi") -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


def test_scope_as_uvicorn_announces_it(loop_kind: str) -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        await simple_app()(scope, receive, send)

    async def scenario(port: int, server: Any) -> None:
        await raw(port, b"GET /a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")

    run_uvicorn(loop_kind, app, scenario, lifespan="off", root_path="/r", proxy_headers=False)
    scope = scopes[0]
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == (
        "/r/a/b",
        b"/r/a%2Fb",
        b"x=1",
    )


def test_keep_alive_timeout(loop_kind: str) -> None:
    async def scenario(port: int, server: Any) -> tuple[bytes, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(2)
        rest = await asyncio.wait_for(reader.read(), 10)  # the idle connection closes
        writer.close()
        return head + body, rest

    answer, rest = run_uvicorn(
        loop_kind, simple_app(), scenario, lifespan="off", timeout_keep_alive=0.2
    )
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"hi")
    assert rest == b""


def test_invalid_request(loop_kind: str) -> None:
    async def scenario(port: int, server: Any) -> bytes:
        return await raw(port, b"GET /?x=y z HTTP/1.1\r\nHost: x\r\n\r\n")

    data = run_uvicorn(loop_kind, simple_app(), scenario, lifespan="off")
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert data.endswith(b"Invalid HTTP request received.")


def test_limit_concurrency(loop_kind: str) -> None:
    async def scenario(port: int, server: Any) -> bytes:
        # One connection already counts against a limit of 1 (uvicorn's rule).
        return await raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    data = run_uvicorn(loop_kind, simple_app(), scenario, lifespan="off", limit_concurrency=1)
    assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert data.endswith(b"\r\n\r\nService Unavailable")


def test_limit_max_requests_counts_responses(loop_kind: str) -> None:
    async def scenario(port: int, server: Any) -> list[int]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            statuses = [(await client.get("/")).status_code for _ in range(3)]
        statuses.append(server.server_state.total_requests)
        for _ in range(200):  # the main loop notices within a tick, and stops listening
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                statuses.append("stopped")
                break
            writer.close()
            await asyncio.sleep(0.05)
        return statuses

    assert run_uvicorn(
        loop_kind, simple_app(), scenario, lifespan="off", limit_max_requests=3
    ) == [200, 200, 200, 3, "stopped"]


def test_graceful_shutdown_loses_no_request(loop_kind: str, data_file: Path) -> None:
    app, done = make_starlette_app(data_file)

    async def scenario(port: int, server: Any) -> list[Any]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            requests = [
                asyncio.ensure_future(client.get("/slow", params={"delay": 0.3, "i": i}))
                for i in range(8)
            ]
            await asyncio.sleep(0.1)
            server.should_exit = True  # what SIGTERM does
            responses = await asyncio.gather(*requests)
        return [(r.status_code, r.text) for r in responses]

    results = run_uvicorn(loop_kind, app, scenario, lifespan="on")
    assert results == [(200, f"slow done {i}") for i in range(8)]
    assert done == ["lifespan-shutdown"]


@pytest.mark.parametrize("ws", ["websockets-sansio", "wsproto"])
def test_websocket_hand_off(loop_kind: str, ws: str) -> None:
    websockets_client = pytest.importorskip("websockets.asyncio.client")
    pytest.importorskip(ws.split("-")[0])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            message = await receive()
            await send({"type": "websocket.send", "text": message["text"].upper()})
            await send({"type": "websocket.close"})
        else:
            await simple_app(b"plain")(scope, receive, send)

    async def scenario(port: int, server: Any) -> tuple[str, str]:
        async with httpx.AsyncClient() as client:
            plain = (await client.get(f"http://127.0.0.1:{port}/")).text
        async with websockets_client.connect(f"ws://127.0.0.1:{port}/ws") as websocket:
            await websocket.send("hello")
            echoed = await websocket.recv()
        return plain, str(echoed)

    assert run_uvicorn(loop_kind, app, scenario, lifespan="off", ws=ws) == ("plain", "HELLO")


def test_access_log(loop_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(port: int, server: Any) -> None:
        await raw(port, b"GET /p?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    # uvicorn's logging config may stop propagation at "uvicorn": listen right there.
    access = logging.getLogger("uvicorn.access")
    access.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            run_uvicorn(
                loop_kind, simple_app(), scenario, lifespan="off", log_config=None, log_level="info"
            )
    finally:
        access.removeHandler(caplog.handler)
    lines = {r.getMessage() for r in caplog.records if r.name == "uvicorn.access"}
    assert len(lines) == 1 and lines.pop().endswith('"GET /p?q=1 HTTP/1.1" 200')


# -- in process: uvicorn's state read per response, and a loop without a clock ----------


def _protocol(app: Any, loop: Any, **config: Any) -> tuple[Any, Any]:
    from uvicorn.server import ServerState

    config.setdefault("lifespan", "off")
    config.setdefault("proxy_headers", False)
    state = ServerState()
    state.default_headers = [(b"date", b"Mon, 01 Jan 2024 00:00:00 GMT"), (b"server", b"uvicorn")]
    protocol = HttpafProtocol(uvicorn.Config(app, http=HttpafProtocol, **config), state, {}, loop)
    return protocol, state


def _serve(loop: Any, protocol: Any, transport: FakeTransport, request: bytes) -> bytes:
    """Feed ``request`` as a loop callback (as a transport does), and what was written."""
    before = len(transport.data)
    done = loop.create_future()

    def feed() -> None:
        protocol.data_received(request)
        done.set_result(None)

    loop.call_soon(feed)
    loop.run_until_complete(done)
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))
    return bytes(transport.data[before:])


def test_new_default_headers_make_new_heads() -> None:
    loop = new_event_loop(use_uvloop=False)
    try:
        start = {"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]}

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await send(start)
            await send({"type": "http.response.body", "body": b"hi"})

        protocol, state = _protocol(app, loop)
        transport = FakeTransport()
        protocol.connection_made(transport)
        get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        heads = [_serve(loop, protocol, transport, get).split(b"\r\n\r\n")[0] for _ in range(2)]
        state.default_headers = [(b"date", b"Tue, 02 Jan 2024 00:00:00 GMT"), (b"server", b"x")]
        heads += [_serve(loop, protocol, transport, get).split(b"\r\n\r\n")[0] for _ in range(2)]
        expected = [
            b"HTTP/1.1 200 OK\r\ndate: %s\r\nserver: %s\r\nx-a: 1\r\nContent-Length: 2" % pair
            for pair in [(b"Mon, 01 Jan 2024 00:00:00 GMT", b"uvicorn")] * 2
            + [(b"Tue, 02 Jan 2024 00:00:00 GMT", b"x")] * 2
        ]
        assert heads == expected
        assert state.total_requests == 4
        protocol.connection_lost(None)
    finally:
        loop.close()


class _NoClock:
    """A loop without ``time`` (as uvicorn's test double): timers are handles."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.handles: list[asyncio.TimerHandle] = []

    def call_later(self, delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        handle = self._loop.call_later(delay, callback, *args)
        self.handles.append(handle)
        return handle

    def create_task(self, coro: Any) -> Any:
        return self._loop.create_task(coro)

    def create_future(self) -> Any:
        return self._loop.create_future()

    def call_soon(self, callback: Any, *args: Any) -> Any:
        return self._loop.call_soon(callback, *args)


def test_timers_on_a_loop_without_a_clock_end_with_the_connection() -> None:
    loop = new_event_loop(use_uvloop=False)
    try:
        fake = _NoClock(loop)
        protocol, _ = _protocol(simple_app(), fake, timeout_keep_alive=5)
        transport = FakeTransport()
        protocol.connection_made(transport)
        assert protocol.timeout_keep_alive_task is not None  # before the first request
        data = _serve(loop, protocol, transport, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"hi")
        assert protocol.timeout_keep_alive_task is not None  # idle again
        _serve(loop, protocol, transport, b"GET / HTTP/1.1\r\n")  # a head that stalls
        head_timer = protocol._timer
        assert head_timer is not None and protocol.timeout_keep_alive_task is None
        protocol.connection_lost(None)
        assert protocol._timer is None and head_timer.cancelled()
        assert all(handle.cancelled() for handle in fake.handles)
    finally:
        loop.close()
