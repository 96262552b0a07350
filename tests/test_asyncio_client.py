"""The asyncio client against the asyncio server: keep-alive, pipelining, trailers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from httpaf import Headers, Reqd, Response
from httpaf.asyncio import ClientResponse, connect, new_event_loop, serve


def handler(reqd: Reqd) -> None:
    """``/trailers`` streams a chunked body with a trailer; others echo the body."""
    body = reqd.body
    pieces: list[bytes] = []

    def on_read(data: memoryview) -> None:
        pieces.append(bytes(data))
        body.schedule_read(on_read, on_eof)

    def on_eof() -> None:
        if reqd.request.target == "/trailers":
            writer = reqd.respond_with_streaming(
                Response(200, [("Transfer-Encoding", "chunked"), ("Trailer", "X-Sum")])
            )
            writer.write(b"part one, ")
            writer.write(b"part two")
            writer.close(Headers([("X-Sum", "42")]))
            return
        reqd.respond_with_string(
            Response(201, [("X-Method", str(reqd.request.method))]), b"".join(pieces)
        )

    body.schedule_read(on_read, on_eof)


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_client_keep_alive_pipelining_and_trailers(loop_kind: str) -> None:
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")

    async def main() -> list[Any]:
        async with await serve(handler, "127.0.0.1", 0) as server:
            async with await connect("127.0.0.1", server.port) as client:
                first = await client.request("GET", "/one")
                posted = await client.request("POST", "/two", body=b"payload" * 1000)
                # Three requests written before any response: answered in order.
                pipelined = await asyncio.gather(
                    *(client.request_nowait("PUT", f"/p{i}", body=b"%d" % i) for i in range(3))
                )
                trailers = await client.request("GET", "/trailers")
                connections = server.connection_count
            return [first, posted, pipelined, trailers, connections]

    try:
        first, posted, pipelined, trailers, connections = loop.run_until_complete(main())
    finally:
        loop.close()
    assert isinstance(first, ClientResponse)
    assert (first.status, first.headers.get("x-method"), first.body) == (201, "GET", b"")
    assert (posted.status, posted.body) == (201, b"payload" * 1000)
    assert [r.body for r in pipelined] == [b"0", b"1", b"2"]
    assert trailers.body == b"part one, part two"
    assert trailers.trailers is not None and trailers.trailers.get("x-sum") == "42"
    assert connections == 1  # every request went over the one kept-alive connection


def test_client_reports_a_malformed_response() -> None:
    async def main() -> BaseException | None:
        async def bad_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(bad_server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = await connect("127.0.0.1", port)
        try:
            await client.request("GET", "/")
        except Exception as error:  # noqa: BLE001 - the point is which error
            return error
        finally:
            await client.close()
            server.close()
        return None

    error = asyncio.run(main())
    from httpaf import ParseError

    assert isinstance(error, ParseError)
