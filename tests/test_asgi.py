"""httpaf.asgi over real sockets: Starlette and FastAPI apps, and raw ASGI apps for the
protocol details (streaming both ways, backpressure, disconnect, 100-continue,
trailers, pathsend, proxy headers, limits, lifespan, graceful shutdown)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from httpaf.asgi import ClientDisconnected, LifespanFailure, serve

from helpers import DATA, dechunk, exercise_framework_app, raw, run_async, with_server

pytest.importorskip("starlette")

from apps.frameworks import make_fastapi_app, make_starlette_app  # noqa: E402


def test_starlette_app(loop_kind: str, data_file: Path) -> None:
    app, done = make_starlette_app(data_file)

    async def scenario(port: int) -> None:
        await exercise_framework_app(port, "hello from lifespan")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            r = await client.post("/json", json={"a": [1, 2]})
            assert r.json() == {"received": {"a": [1, 2]}}
            r = await client.head("/download")
            assert r.content == b"" and r.headers["content-length"] == str(len(DATA))

    with_server(loop_kind, app, scenario)
    assert done == ["t1", "lifespan-shutdown"]


def test_fastapi_app(loop_kind: str, data_file: Path) -> None:
    app, done = make_fastapi_app(data_file)

    async def scenario(port: int) -> None:
        await exercise_framework_app(port, "hello from fastapi lifespan")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            r = await client.post("/items", json={"name": "pen", "price": 1.5})
            assert r.json() == {
                "created": {"name": "pen", "price": 1.5, "tags": []},
                "total": 3.0,
            }
            r = await client.post("/items", json={"name": "pen"})
            assert r.status_code == 422

    with_server(loop_kind, app, scenario)
    assert done == ["t1", "lifespan-shutdown"]


# -- the scope ----------------------------------------------------------------------


def recording_app(scopes: list[dict[str, Any]]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return  # unsupported: fine in "auto"
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_scope(loop_kind: str) -> None:
    scopes: list[dict[str, Any]] = []

    async def scenario(port: int) -> bytes:
        return await raw(
            port,
            b"GET /a%20b/c%2Fd?x=1&y=%20 HTTP/1.1\r\nHost: h\r\nX-Custom: Va lue\r\n"
            b"Connection: close\r\n\r\n",
        )

    data = with_server(loop_kind, recording_app(scopes), scenario, root_path="/api")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    scope = scopes[0]
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET" and type(scope["method"]) is str  # the ASGI type
    assert scope["scheme"] == "http"
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/a b/c/d"
    assert scope["raw_path"] == b"/api/a%20b/c%2Fd"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["headers"] == [
        (b"host", b"h"),
        (b"x-custom", b"Va lue"),
        (b"connection", b"close"),
    ]
    assert scope["client"][0] == "127.0.0.1" and isinstance(scope["client"][1], int)
    assert scope["server"] == ("127.0.0.1", scope["server"][1])
    assert scope["state"] == {}
    assert "http.response.pathsend" in scope["extensions"]


def test_http10_scope_and_close_delimited_stream(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["http_version"] == "1.0"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one ", "more_body": True})
        await send({"type": "http.response.body", "body": b"two"})

    async def scenario(port: int) -> bytes:
        return await raw(port, b"GET / HTTP/1.0\r\n\r\n")

    data = with_server(loop_kind, app, scenario, lifespan="off")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"transfer-encoding" not in head.lower() and b"content-length" not in head.lower()
    assert body == b"one two"  # the body ends with the connection


# -- framing of responses -------------------------------------------------------------


def test_single_body_gets_content_length_streamed_gets_chunked(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/single":
            await send({"type": "http.response.body", "body": b"whole"})
        else:
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
            await send({"type": "http.response.body", "body": b"bc"})

    async def scenario(port: int) -> bytes:
        return await raw(
            port,
            b"GET /single HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /streamed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )

    data = with_server(loop_kind, app, scenario, lifespan="off", date_header=False)
    first, _, rest = data.partition(b"HTTP/1.1 200 OK\r\n")[2].partition(b"HTTP/1.1 200 OK\r\n")
    assert first == b"server: httpaf\r\nContent-Length: 5\r\n\r\nwhole"
    head, _, body = rest.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert body == b"1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"


def test_trailers(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [], "trailers": True}
        )
        await send({"type": "http.response.body", "body": b"data", "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})
        await send(
            {
                "type": "http.response.trailers",
                "headers": [(b"x-checksum", b"abc")],
                "more_trailers": True,
            }
        )
        await send({"type": "http.response.trailers", "headers": [(b"x-count", b"2")]})

    async def scenario(port: int) -> bytes:
        return await raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n", until_close=False, wait=0.5)

    data = with_server(loop_kind, app, scenario, lifespan="off")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    payload, trailers = dechunk(body)
    assert payload == b"data!"
    assert trailers == b"x-checksum: abc\r\nx-count: 2\r\n\r\n"


def test_response_header_injection_cuts_the_connection(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"x", b"a\r\nSet-Cookie: evil")]}
        )
        await send({"type": "http.response.body", "body": b"body"})

    async def scenario(port: int) -> bytes:
        return await raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert b"evil" not in data and b"200" not in data


def test_app_errors(loop_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/before":
            raise RuntimeError("secret")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})
        raise RuntimeError("midway")

    async def scenario(port: int) -> tuple[bytes, bytes]:
        before = await raw(port, b"GET /before HTTP/1.1\r\nHost: x\r\n\r\n")
        midway = await raw(port, b"GET /midway HTTP/1.1\r\nHost: x\r\n\r\n")
        return before, midway

    with caplog.at_level(logging.ERROR, logger="httpaf.error"):
        before, midway = with_server(loop_kind, app, scenario, lifespan="off")
    assert before.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"secret" not in before
    # After the start the connection is cut: the client sees a truncated body.
    assert midway.startswith(b"HTTP/1.1 200 OK\r\n") and midway.endswith(b"\r\n\r\n12345")
    assert sum("Exception in ASGI application" in r.message for r in caplog.records) == 2


# -- request bodies -------------------------------------------------------------------


def test_streaming_request_body_and_100_continue(loop_kind: str) -> None:
    messages: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body"):
                break
        size = sum(len(m["body"]) for m in messages)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"got %d" % size})

    async def scenario(port: int) -> tuple[bytes, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        interim = await reader.readuntil(b"\r\n\r\n")  # before any body byte is sent
        for _ in range(3):
            writer.write(b"5\r\nhello\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        final = await reader.readuntil(b"got 15")
        writer.close()
        return interim, final

    interim, final = with_server(loop_kind, app, scenario, lifespan="off")
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(messages) >= 2 and messages[-1]["more_body"] is False
    assert all(m["type"] == "http.request" for m in messages)
    assert b"".join(m["body"] for m in messages) == b"hello" * 3


def test_no_100_continue_when_the_app_does_not_read(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b"too big"})

    async def scenario(port: int) -> bytes:
        return await raw(
            port,
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert data.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in data


def test_reading_pauses_while_the_app_does_not_receive(loop_kind: str) -> None:
    """A 32 MiB upload is not buffered by the server while the app is not reading."""
    size = 32 * 1024 * 1024
    release = asyncio.Event
    state: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        state["started"].set()
        await state["release"].wait()
        total = 0
        while True:
            message = await receive()
            total += len(message["body"])
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % total})

    async def scenario(port: int) -> tuple[int, bytes]:
        state["started"], state["release"] = release(), release()
        loop = asyncio.get_running_loop()
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        await state["started"].wait()
        chunk = b"x" * 65536
        accepted = 0
        while accepted < size:
            try:
                accepted += sock.send(chunk[: size - accepted])
            except BlockingIOError:
                # The kernel buffers are full: the server stopped reading.
                break
        stalled_at = accepted
        state["release"].set()
        while accepted < size:
            piece = chunk[: size - accepted]
            await loop.sock_sendall(sock, piece)
            accepted += len(piece)
        data = b""
        while not data.endswith(b"%d" % size):
            piece = await loop.sock_recv(sock, 65536)
            if not piece:
                break
            data += piece
        sock.close()
        return stalled_at, data

    stalled_at, data = with_server(loop_kind, app, scenario, lifespan="off")
    assert stalled_at < size  # the sender was held back
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"%d" % size)


# -- backpressure and disconnects on the response side ---------------------------------


def test_send_waits_for_a_slow_reader(loop_kind: str) -> None:
    """The app's sends wait while the peer does not read: the server buffers little."""
    piece = bytes(range(256)) * 4096  # 1 MiB
    count = 32
    sent: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(count):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent.append(i)
        await send({"type": "http.response.body", "body": b""})

    async def scenario(port: int) -> tuple[int, int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while len(sent) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # not reading: the server's buffers fill up
        sent_while_stalled = len(sent)
        data = await reader.read()
        writer.close()
        body = dechunk(data.partition(b"\r\n\r\n")[2])[0]
        assert body == piece * count
        return sent_while_stalled, len(body)

    stalled, total = with_server(loop_kind, app, scenario, lifespan="off")
    assert stalled < count // 2
    assert total == len(piece) * count


def test_disconnect_is_reported(loop_kind: str) -> None:
    events: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        events["waiting"].set()
        events["message"] = await receive()  # blocks until the client goes away
        events["done"].set()

    async def scenario(port: int) -> None:
        events["waiting"], events["done"] = asyncio.Event(), asyncio.Event()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await events["waiting"].wait()
        writer.close()
        await events["done"].wait()

    with_server(loop_kind, app, scenario, lifespan="off")
    assert events["message"] == {"type": "http.disconnect"}


def test_send_after_the_client_left_raises(loop_kind: str) -> None:
    events: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
                await asyncio.sleep(0.01)
        except ClientDisconnected as error:
            events["error"] = error
        events["done"].set()

    async def scenario(port: int) -> None:
        events["done"] = asyncio.Event()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readexactly(100_000)
        writer.transport.abort()
        await events["done"].wait()

    with_server(loop_kind, app, scenario, lifespan="off")
    assert isinstance(events["error"], OSError)


def test_disconnect_after_the_response(loop_kind: str) -> None:
    got: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        got.append(await receive())
        got.append(await receive())

    async def scenario(port: int) -> bytes:
        return await raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert data.endswith(b"\r\n\r\nok")
    assert got == [{"type": "http.disconnect"}, {"type": "http.disconnect"}]


# -- pathsend -------------------------------------------------------------------------


def test_pathsend_uses_sendfile_on_asyncio(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = asyncio.BaseEventLoop.sendfile

    async def spy(self: Any, transport: Any, file: Any, offset: int = 0, count: Any = None, **kw: Any) -> int:
        sent = await real(self, transport, file, offset, count, **kw)
        calls.append(sent)
        return sent

    monkeypatch.setattr(asyncio.BaseEventLoop, "sendfile", spy)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-file", b"1")]})
        await send({"type": "http.response.pathsend", "path": str(data_file)})

    async def scenario(port: int) -> list[bytes]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            return [(await client.get("/")).content for _ in range(3)]

    bodies = with_server("asyncio", app, scenario, lifespan="off")
    assert bodies == [DATA] * 3
    assert calls == [len(DATA)] * 3


def test_pathsend_without_sendfile(loop_kind: str, data_file: Path) -> None:
    """uvloop has no loop.sendfile, chunked framing cannot use it: pieces are read."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"transfer-encoding", b"chunked")] if scope["path"] == "/chunked" else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": str(data_file)})

    async def scenario(port: int) -> list[Any]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            plain = await client.get("/")
            chunked = await client.get("/chunked")
            return [plain.content, plain.headers.get("content-length"), chunked.content]

    plain, length, chunked = with_server(loop_kind, app, scenario, lifespan="off")
    assert plain == DATA and length == str(len(DATA)) and chunked == DATA


# -- proxy headers, root_path, logs, limits ---------------------------------------------


def test_proxy_headers(loop_kind: str) -> None:
    scopes: list[dict[str, Any]] = []
    request = (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.9\r\n"
        b"X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"
    )

    async def scenario(port: int) -> None:
        await raw(port, request)

    # 127.0.0.1 (us) and 10.0.0.0/8 (another proxy) are trusted: the client is 1.2.3.4.
    with_server(
        loop_kind, recording_app(scopes), scenario, forwarded_allow_ips="127.0.0.1, 10.0.0.0/8"
    )
    assert scopes[0]["client"] == ("1.2.3.4", 0) and scopes[0]["scheme"] == "https"
    # Only 127.0.0.1 trusted: the right-most untrusted address is the client.
    with_server(loop_kind, recording_app(scopes), scenario)
    assert scopes[1]["client"] == ("10.0.0.9", 0)
    # A peer that is not trusted cannot set them.
    with_server(loop_kind, recording_app(scopes), scenario, forwarded_allow_ips="10.1.1.1")
    assert scopes[2]["client"][0] == "127.0.0.1" and scopes[2]["scheme"] == "http"
    with_server(loop_kind, recording_app(scopes), scenario, proxy_headers=False)
    assert scopes[3]["client"][0] == "127.0.0.1"


def test_access_log_escapes_control_characters(
    loop_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    request = (
        b"GET /p?q=1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: evil\x85\xa0line\r\n"
        b"Connection: close\r\n\r\n"
    )

    async def scenario(port: int) -> None:
        await raw(port, request)

    with caplog.at_level(logging.INFO, logger="httpaf.access"):
        with_server(loop_kind, recording_app([]), scenario)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpaf.access"]
    assert lines == ['evil\\x85\\xa0line:0 - "GET /p?q=1 HTTP/1.1" 200']


def test_access_log_off(loop_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(port: int) -> None:
        await raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    with caplog.at_level(logging.INFO, logger="httpaf.access"):
        with_server(loop_kind, recording_app([]), scenario, access_log=False)
    assert not [r for r in caplog.records if r.name == "httpaf.access"]


def test_limit_concurrency(loop_kind: str) -> None:
    gate: dict[str, asyncio.Event] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        gate["in"].set()
        await gate["out"].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario(port: int) -> tuple[bytes, bytes]:
        gate["in"], gate["out"] = asyncio.Event(), asyncio.Event()
        first = asyncio.ensure_future(raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        await gate["in"].wait()
        second = await raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        gate["out"].set()
        return await first, second

    first, second = with_server(loop_kind, app, scenario, lifespan="off", limit_concurrency=1)
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert second.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert second.endswith(b"Service Unavailable")


def test_serve_options_are_checked() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="bogus"):
            await serve(recording_app([]), "127.0.0.1", 0, bogus=1)
        with pytest.raises(ValueError, match="lifespan"):
            await serve(recording_app([]), "127.0.0.1", 0, lifespan="maybe")
        with pytest.raises(ValueError, match="keep_alive_timeout"):
            await serve(recording_app([]), "127.0.0.1", 0, keep_alive_timeout=-1)

    run_async("asyncio", main)


# -- lifespan and shutdown -----------------------------------------------------------


def test_lifespan_startup_failure_stops_serve() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    async def main() -> None:
        with pytest.raises(LifespanFailure, match="no database"):
            await serve(app, "127.0.0.1", 0)

    run_async("asyncio", main)


def test_lifespan_on_requires_support() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("http only")

    async def main() -> None:
        with pytest.raises(LifespanFailure):
            await serve(app, "127.0.0.1", 0, lifespan="on")
        server = await serve(app, "127.0.0.1", 0, lifespan="auto")  # tolerated
        await server.shutdown()

    run_async("asyncio", main)


def test_graceful_shutdown_loses_no_request(loop_kind: str, data_file: Path) -> None:
    app, done = make_starlette_app(data_file)

    async def main() -> tuple[list[Any], bool]:
        server = await serve(app, "127.0.0.1", 0)
        port = server.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            requests = [
                asyncio.ensure_future(client.get("/slow", params={"delay": 0.3, "i": i}))
                for i in range(10)
            ]
            for _ in range(500):  # all in flight (on a loaded machine this takes a while)
                if server.connection_count >= 10:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # and their requests sent
            await server.shutdown(10)
            responses = await asyncio.gather(*requests)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            refused = True
        return [(r.status_code, r.text) for r in responses], refused

    results, refused = run_async(loop_kind, main)
    assert results == [(200, f"slow done {i}") for i in range(10)]
    assert refused
    assert done == ["lifespan-shutdown"]


def test_run_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            from httpaf.asgi import run

            async def app(scope, receive, send):
                if scope["type"] == "lifespan":
                    while True:
                        message = await receive()
                        if message["type"] == "lifespan.startup":
                            await send({"type": "lifespan.startup.complete"})
                        else:
                            print("lifespan shutdown", flush=True)
                            await send({"type": "lifespan.shutdown.complete"})
                            return
                await asyncio.sleep(0.5)
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"finished"})

            run(app, "127.0.0.1", 0, ready=lambda s: print("port", s.port, flush=True))
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            # The request is in flight (the app sleeps); ask the server to stop.
            proc.send_signal(signal.SIGTERM)
            data = b""
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        assert proc.wait(timeout=15) == 0
        rest = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"finished")
    assert b"connection: close" in data.lower()  # the server says it is closing
    assert "lifespan shutdown" in rest
