"""The runtime's timers over real sockets: keep-alive idle, head read (slowloris), body
progress. The state machine reads no clock; these live in httpaf.asyncio. Timeouts are
short so the tests run fast; they assert what happens, never how long it took."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from httpaf import Config, Reqd, Response
from httpaf.asyncio import new_event_loop

from helpers import run_with_server as serve_and_run

SHORT = 0.2  # seconds




def run_with_server(
    loop_kind: str,
    handler: Callable[[Reqd], None],
    scenario: Callable[[int], Awaitable[Any]],
    **config: Any,
) -> Any:
    """``test_asyncio_server.run_with_server`` with the ``Config`` fields as keywords."""
    return serve_and_run(loop_kind, handler, scenario, config=Config(**config))


def hello(reqd: Reqd) -> None:
    reqd.body.close()
    reqd.respond_with_string(Response(200), "hello")


def collecting(seen: list[Any]) -> Callable[[Reqd], None]:
    """Read the whole body, record it (or how it ended), answer with its size."""

    def handler(reqd: Reqd) -> None:
        body = reqd.body
        pieces: list[bytes] = []

        def on_read(data: memoryview) -> None:
            pieces.append(bytes(data))
            body.schedule_read(on_read, on_eof)

        def on_eof() -> None:
            seen.append((body.at_eof, b"".join(pieces)))
            if body.at_eof:
                reqd.respond_with_string(Response(200), str(len(b"".join(pieces))))

        body.schedule_read(on_read, on_eof)

    return handler


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


def test_idle_connection_is_closed_before_its_first_request(loop_kind: str) -> None:
    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data = await read_all(reader)  # returns only because the server closed
        writer.close()
        return data

    assert run_with_server(loop_kind, hello, scenario, keep_alive_timeout=SHORT) == b""


def test_idle_connection_is_closed_after_a_response(loop_kind: str) -> None:
    async def scenario(port: int) -> tuple[bytes, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await read_response(reader)
        rest = await read_all(reader)
        writer.close()
        return first, rest

    first, rest = run_with_server(loop_kind, hello, scenario, keep_alive_timeout=SHORT)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"hello")
    assert rest == b""  # closed silently


def test_keep_alive_serves_requests_that_come_in_time(loop_kind: str) -> None:
    async def scenario(port: int) -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for _ in range(5):
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answers.append(await read_response(reader))
            await asyncio.sleep(SHORT / 4)
        writer.close()
        return answers

    answers = run_with_server(loop_kind, hello, scenario, keep_alive_timeout=SHORT)
    assert len(answers) == 5 and all(a.endswith(b"hello") for a in answers)


def test_keep_alive_timer_does_not_cut_a_slow_handler(loop_kind: str) -> None:
    def slow(reqd: Reqd) -> None:
        reqd.body.close()
        asyncio.get_running_loop().call_later(
            SHORT * 3, reqd.respond_with_string, Response(200), "late"
        )

    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await read_response(reader)
        writer.close()
        return answer

    answer = run_with_server(loop_kind, slow, scenario, keep_alive_timeout=SHORT)
    assert answer.endswith(b"late")


def test_keep_alive_timeout_none_keeps_the_connection(loop_kind: str) -> None:
    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(SHORT * 3)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await read_response(reader)
        writer.close()
        return answer

    answer = run_with_server(
        loop_kind, hello, scenario, keep_alive_timeout=None, head_timeout=None
    )
    assert answer.endswith(b"hello")


def test_slowloris_head_gets_408(loop_kind: str) -> None:
    seen: list[Any] = []

    def handler(reqd: Reqd) -> None:
        seen.append(reqd.request.target)
        hello(reqd)

    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        reading = asyncio.ensure_future(read_all(reader))
        # A field every SHORT/4 seconds: each read is progress, the head never ends.
        # The keep-alive timer must not matter here, and the head timer runs on.
        for i in range(200):
            if reading.done():
                break
            writer.write(b"X-%d: y\r\n" % i)
            await asyncio.sleep(SHORT / 4)
        data = await reading
        writer.close()
        return data

    data = run_with_server(
        loop_kind, handler, scenario, head_timeout=SHORT * 2, keep_alive_timeout=SHORT
    )
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"Connection: close" in data
    assert seen == []


def test_partial_request_line_gets_408(loop_kind: str) -> None:
    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /never-ending")
        data = await read_all(reader)
        writer.close()
        return data

    data = run_with_server(loop_kind, hello, scenario, head_timeout=SHORT)
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_head_timer_restarts_for_each_request(loop_kind: str) -> None:
    """A keep-alive connection whose requests each arrive in time is never cut."""

    async def scenario(port: int) -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for _ in range(4):
            writer.write(b"GET / HTTP/1.1\r\n")
            await asyncio.sleep(SHORT / 4)
            writer.write(b"Host: x\r\n\r\n")
            answers.append(await read_response(reader))
        writer.close()
        return answers

    answers = run_with_server(
        loop_kind, hello, scenario, head_timeout=SHORT, keep_alive_timeout=SHORT
    )
    assert len(answers) == 4 and all(a.startswith(b"HTTP/1.1 200 OK") for a in answers)


def test_stalled_body_closes_the_connection(loop_kind: str) -> None:
    seen: list[Any] = []

    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        data = await read_all(reader)  # then nothing more: the server gives up
        writer.close()
        return data

    data = run_with_server(loop_kind, collecting(seen), scenario, body_timeout=SHORT)
    assert data == b""
    assert seen == [(False, b"0123456789")]  # the handler saw the body end short


def test_slow_but_steady_body_is_received(loop_kind: str) -> None:
    seen: list[Any] = []

    async def scenario(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        for i in range(10):  # the whole body takes longer than the timeout
            await asyncio.sleep(SHORT / 4)
            writer.write(b"%d" % i * 10)
        answer = await read_response(reader)
        writer.close()
        return answer

    answer = run_with_server(
        loop_kind, collecting(seen), scenario, body_timeout=SHORT, keep_alive_timeout=SHORT
    )
    assert answer.endswith(b"\r\n\r\n100")
    assert seen == [(True, b"".join(b"%d" % i * 10 for i in range(10)))]


def test_asgi_app_waiting_for_a_stalled_body_hears_disconnect(loop_kind: str) -> None:
    from httpaf.asgi import serve as serve_asgi

    messages: list[dict[str, Any]] = []
    done = asyncio.Event

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message["more_body"]:
                break
        app.done.set()  # type: ignore[attr-defined]

    async def main() -> bytes:
        app.done = done()  # type: ignore[attr-defined]
        server = await serve_asgi(app, "127.0.0.1", 0, lifespan="off", body_timeout=SHORT)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            data = await asyncio.wait_for(read_all(reader), 10)
            await asyncio.wait_for(app.done.wait(), 10)  # type: ignore[attr-defined]
            writer.close()
            return data
        finally:
            await server.shutdown(2)

    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")
    try:
        data = loop.run_until_complete(main())
    finally:
        loop.close()
    assert data == b""
    assert messages[0] == {"type": "http.request", "body": b"abc", "more_body": True}
    assert messages[-1] == {"type": "http.disconnect"}
