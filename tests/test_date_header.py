"""Every response from a server with a clock carries a ``Date`` (RFC 9110 §6.6.1).

The state machine reads no clock: the asyncio runtime keeps one ``DateField`` per loop
current (one string a second, one timer handle for all of the loop's connections) and
the serializer adds it to responses that have no ``Date``. ``Config.date_header`` (and
the servers' ``date_header`` option) turns it off.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from typing import Any

import httpx
import pytest

from httpaf import Config, Reqd, Response
from httpaf.aio import ServerProtocol

from helpers import FakeLoop, FakeTransport, raw, raw_exchange, run_with_server, with_server

IMF_FIXDATE = re.compile(rb"Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n")
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def hello(reqd: Reqd) -> None:
    reqd.respond_with_bytes(Response(200), b"hello")


def own_date(reqd: Reqd) -> None:
    reqd.respond_with_bytes(Response(200, [("date", "Sun, 06 Nov 1994 08:49:37 GMT")]), b"x")


def dates_in(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n") if line.lower().startswith(b"date:")]


def connect(loop: FakeLoop, config: Config, handler: Any = hello) -> tuple[Any, FakeTransport]:
    protocol = ServerProtocol(handler, None, config, set(), loop)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def send(protocol: Any, data: bytes) -> None:
    buffer = protocol.get_buffer(-1)
    buffer[: len(data)] = data
    protocol.buffer_updated(len(data))


def test_one_date_handle_for_all_of_a_loops_connections() -> None:
    loop = FakeLoop()
    config = Config(keep_alive_timeout=None)  # (no timeout handle: only the date's)
    pairs = [connect(loop, config) for _ in range(20)]
    for protocol, _ in pairs:
        send(protocol, GET)
    assert loop.pending() == 1
    now = email.utils.formatdate(time.time(), usegmt=True).encode()
    for _, transport in pairs:
        (line,) = dates_in(bytes(transport.data))
        assert IMF_FIXDATE.fullmatch(line + b"\r\n")
        assert line[6:] in (now, email.utils.formatdate(time.time() - 1, usegmt=True).encode())
    for protocol, _ in pairs:
        protocol.connection_lost(None)
    assert loop.pending() == 0  # the last connection gone, the ticks stop


@pytest.mark.parametrize(
    ("config", "handler", "expected"),
    [
        (Config(), hello, 1),
        (Config(date_header=False), hello, 0),
        (Config(), own_date, 1),  # the response's own, not a second one
    ],
    ids=["added", "off", "the response's own"],
)
def test_date_in_process(config: Config, handler: Any, expected: int) -> None:
    loop = FakeLoop()
    protocol, transport = connect(loop, config, handler)
    send(protocol, GET)
    lines = dates_in(bytes(transport.data))
    assert len(lines) == expected
    if handler is own_date:
        assert lines == [b"date: Sun, 06 Nov 1994 08:49:37 GMT"]
    protocol.connection_lost(None)


def test_native_server_responses_and_errors_carry_a_date(loop_kind: str) -> None:
    async def scenario(port: int) -> tuple[bytes, bytes]:
        ok = await raw_exchange(port, GET + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        bad = await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Field: 1\r\n\r\n")
        return ok, bad

    ok, bad = run_with_server(loop_kind, hello, scenario)
    assert len(IMF_FIXDATE.findall(ok)) == 2
    assert bad.startswith(b"HTTP/1.1 400 ") and len(IMF_FIXDATE.findall(bad)) == 1


def test_the_date_moves_with_the_clock(loop_kind: str) -> None:
    async def scenario(port: int) -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        seen: list[bytes] = []
        for _ in range(30):
            writer.write(GET)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(5)
            seen.extend(dates_in(head))
            if seen[-1] != seen[0]:
                break
            await asyncio.sleep(0.1)
        writer.close()
        return seen

    seen = run_with_server(loop_kind, hello, scenario)
    assert seen[-1] != seen[0]


async def asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize(("option", "expected"), [(True, 1), (False, 0)])
def test_asgi_responses_carry_one_date(loop_kind: str, option: bool, expected: int) -> None:
    async def scenario(port: int) -> bytes:
        return await raw(port, GET + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    data = with_server(loop_kind, asgi_hello, scenario, lifespan="off", date_header=option)
    for response in data.split(b"HTTP/1.1 ")[1:]:
        assert len(dates_in(response)) == expected


def test_wsgi_responses_carry_one_date() -> None:
    from httpaf.wsgi import serve

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    async def main() -> list[str]:
        server = await serve(app, "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient() as client:
                r = await client.get(f"http://127.0.0.1:{server.port}/")
                return r.headers.get_list("date")
        finally:
            await server.shutdown(2)

    dates = asyncio.run(main())
    assert len(dates) == 1 and dates[0].endswith(" GMT")
