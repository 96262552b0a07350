"""The pooled asyncio client (``httpaf.client.Client``) over real sockets: our server,
a raw server that misbehaves on cue, TLS, proxies, Unix sockets, limits, timeouts,
retries and cancellation."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import ssl
import struct
import tempfile
import weakref
from typing import Any

import pytest

from httpaf.asyncio import serve
from httpaf.client import (
    Client,
    ConnectError,
    ConnectTimeout,
    LocalProtocolError,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StreamClosed,
    Timeout,
    UnsupportedProtocol,
    WriteTimeout,
)

from helpers import (
    Certs,
    Proxy,
    RawServer,
    client_test_handler,
    ok,
    our_server,
    read_head,
    read_request,
    run_async,
)
from helpers import run_bounded as run

# -- basics against our server ---------------------------------------------------------


def test_get_post_and_keep_alive() -> None:
    async def main() -> None:
        async with our_server() as base, Client() as client:
            response = await client.get(base + "/x")
            assert response.status == 200 and response.reason == "OK"
            assert response.http_version == "HTTP/1.1"
            assert await response.read() == b"" and response.content == b""
            posted = await client.post(base + "/p", content=b"payload" * 1000)
            assert posted.headers["x-method"] == "POST"
            assert await posted.read() == b"payload" * 1000
            text = await client.post(base + "/t", content="héllo")
            assert (await text.read()).decode() == "héllo"
            as_json = await client.post(base + "/j", json={"a": [1, 2]})
            await as_json.read()
            assert as_json.json() == {"a": [1, 2]}
            # One connection served all of it, one request after the other.
            assert client.session.pool.connections == 1

    run(main())


def test_request_head_carries_host_and_user_agent() -> None:
    async def main() -> None:
        async with our_server() as base, Client(headers={"X-Default": "d"}) as client:
            response = await client.get(base + "/headers", headers=[("X-One", "1")])
            text = (await response.read()).decode()
            port = base.rsplit(":", 1)[1]
            assert text.startswith("GET /headers\nHost: 127.0.0.1:" + port)
            assert "User-Agent: httpaf/" in text and "X-Default: d" in text
            assert "X-One: 1" in text

    run(main())


def test_plain_requests_sent_again_follow_the_default_headers() -> None:
    # A GET of a URL alone is prepared once and sent again as it was: until the
    # session's default headers change, which prepares it anew.
    async def main() -> None:
        async with our_server() as base, Client() as client:
            url = base + "/headers"
            texts = [(await (await client.get(url)).read()).decode() for _ in range(3)]
            assert texts[0] == texts[1] == texts[2]
            assert "X-Later" not in texts[0]
            client.session.headers.append(("X-Later", "yes"))
            later = (await (await client.get(url)).read()).decode()
            assert "X-Later: yes" in later
            given = await client.get(url, headers=[("X-Given", "1")])
            assert "X-Given: 1" in (await given.read()).decode()
            client.session.headers.pop()
            assert "X-Later" not in (await (await client.get(url)).read()).decode()

    run(main())


BODIES_OF_FEW_LENGTHS = [b"a" * 10, b"b" * 10, b"c" * 11, b"d" * 10, b"", b"e" * 11]


def test_posts_of_one_length_share_a_head_and_carry_their_own_content() -> None:
    # A head is kept per length of bytes content: each request still sends its own.
    async def main() -> None:
        async with our_server() as base, Client() as client:
            fields = {"Content-Type": "text/plain"}
            for body in BODIES_OF_FEW_LENGTHS:
                echoed = await client.post(base + "/p", content=body, headers=fields)
                assert await echoed.read() == body
                head = await client.put(base + "/headers", content=body, headers=fields)
                text = (await head.read()).decode()
                assert text.startswith("PUT /headers\n")
                assert f"Content-Length: {len(body)}" in text
                assert "Content-Type: text/plain" in text

    run(main())


def test_streaming_request_bodies_sync_async_and_sized() -> None:
    async def agen() -> Any:
        for i in range(50):
            yield b"%03d," % i
            await asyncio.sleep(0)

    async def main() -> None:
        expected = b"".join(b"%03d," % i for i in range(50))
        async with our_server() as base, Client() as client:
            chunked = await client.post(base + "/a", content=agen())
            assert await chunked.read() == expected
            synced = await client.post(base + "/s", content=iter([b"ab", b"", b"cd"]))
            assert await synced.read() == b"abcd"
            sized = await client.post(base + "/z", content=iter([b"ab", b"cd"]),
                                      headers={"Content-Length": "4"})
            assert await sized.read() == b"abcd"
            with_trailers = await client.post(base + "/t", content=agen(),
                                              trailers={"X-Checksum": "7"})
            assert with_trailers.headers["x-trailers"] == "[('X-Checksum', '7')]"
            await with_trailers.read()

    run(main())


def test_streaming_response_and_trailers() -> None:
    async def main() -> None:
        async with our_server() as base, Client() as client:
            response = await client.get(base + "/trailers")
            pieces = [piece async for piece in response]
            assert b"".join(pieces) == b"part one, part two"
            assert response.trailers is not None and response.trailers["x-sum"] == "42"
            big = await client.get(base + "/big/3000000")
            total = 0
            async for piece in big:
                assert piece
                total += len(piece)
            assert total == 3_000_000
            with pytest.raises(StreamClosed):
                await big.read()

    run(main())


def test_response_context_manager_closes_unread_body() -> None:
    async def main() -> None:
        async with our_server() as base, Client() as client:
            async with await client.get(base + "/big/5000000") as response:
                assert response.status == 200
                first = await response.aiter_bytes().__anext__()
                assert first
            assert response.is_closed
            # The connection was given up (its body was unread): a new one serves.
            again = await client.get(base + "/x")
            assert again.status == 200
            await again.read()

    run(main())


def test_a_response_dropped_unread_gives_its_connection_up() -> None:
    """The connection does not hold the application's response: dropped before its
    body (bigger than the reader buffers) came, it is freed at once and its
    connection is given up, so the only connection the pool allows serves again."""

    async def main() -> None:
        async with our_server() as base, Client(max_connections=1,
                                               timeout=Timeout(5.0, pool=1.0)) as client:
            response = await client.get(base + "/big/5000000")
            assert response.status == 200
            gone = weakref.ref(response)
            del response
            assert gone() is None  # (no cycle holds it: freed without the collector)
            again = await client.get(base + "/x")
            assert again.status == 200 and await again.read() == b""

    run(main())


def test_read_after_pieces_were_taken_is_refused() -> None:
    """``read()`` gives the whole body or nothing: once pieces went out by
    ``receive()`` or iteration it would give only the rest, so it refuses."""

    async def main() -> None:
        async with our_server() as base, Client() as client:
            response = await client.get(base + "/big/2000000")
            assert await response.receive()
            with pytest.raises(StreamClosed, match="part of the body"):
                await response.read()
            await response.aclose()
            whole = await client.get(base + "/big/2000000")
            assert len(await whole.read()) == 2_000_000
            assert len(await whole.read()) == 2_000_000  # kept
            empty = await client.get(base + "/x")
            assert await empty.receive() is None  # (its end: nothing was taken)
            assert await empty.read() == b""

    run(main())


def test_base_url_and_relative_urls() -> None:
    async def main() -> None:
        async with our_server() as base, Client(base_url=base + "/api/") as client:
            response = await client.get("/headers")
            assert (await response.read()).startswith(b"GET /headers")

    run(main())


def test_bad_urls_and_local_errors() -> None:
    async def main() -> None:
        async with Client() as client:
            with pytest.raises(UnsupportedProtocol):
                await client.get("ftp://example.com/")
            with pytest.raises(ValueError):
                await client.get("http:///nohost")
            with pytest.raises(LocalProtocolError):
                await client.post("http://127.0.0.1:1/", content=b"abc",
                                  headers={"Content-Length": "5"})

    run(main())


# -- the pool --------------------------------------------------------------------------


def test_max_connections_bounds_the_pool() -> None:
    async def main() -> None:
        seen = 0
        async with our_server() as base, Client(max_connections=3) as client:
            async def one(i: int) -> None:
                nonlocal seen
                response = await client.get(base + f"/{i}")
                seen = max(seen, client.session.pool.connections)
                await response.read()

            await asyncio.gather(*(one(i) for i in range(60)))
            assert seen <= 3 and client.session.pool.connections <= 3

    run(main())


def test_per_host_limit_and_pool_timeout() -> None:
    async def main() -> None:
        async with our_server() as base, Client(
            max_connections_per_host=1, timeout=Timeout(5.0, pool=0.2)
        ) as client:
            held = await client.get(base + "/big/5000000")  # body unread: holds it
            with pytest.raises(PoolTimeout):
                await client.get(base + "/x")
            await held.aclose()
            response = await client.get(base + "/x")
            assert response.status == 200

    run(main())


def test_keepalive_expiry_and_max_keepalive() -> None:
    async def main() -> None:
        async with our_server() as base, Client(keepalive_expiry=0.2,
                                               max_keepalive_connections=2) as client:
            responses = await asyncio.gather(*(client.get(base + f"/{i}") for i in range(6)))
            for response in responses:
                await response.read()
            assert client.session.pool.idle_connections <= 2
            await asyncio.sleep(0.8)
            assert client.session.pool.connections == 0

    run(main())


def test_idle_connection_closed_by_server_is_noticed() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        writer.close()  # keep-alive announced, then closed while idle

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            response = await client.get(server.url)
            assert await response.read() == b"ok"
            await asyncio.sleep(0.1)
            assert client.session.pool.connections == 0  # seen at once, forgotten
            again = await client.get(server.url)
            assert await again.read() == b"ok"
            assert server.connections == 2

    run(main())


# -- retries -----------------------------------------------------------------------------


def _closing_after_first_response(count: list[int], reset: bool = False) -> Any:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count[0] += 1
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        await read_head(reader)  # the next request arrives...
        if reset:  # (an RST instead of a FIN)
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # ...and the connection is dropped without an answer

    return script


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_idempotent_request_retried_once_on_a_fresh_connection(reset: bool) -> None:
    """A reset before any byte of the answer is a close too (it was a ReadError, not
    sent again)."""

    async def main() -> None:
        count = [0]
        async with RawServer(_closing_after_first_response(count, reset)) as server, \
                Client() as client:
            first = await client.get(server.url)
            await first.read()
            retried = await client.get(server.url)  # reused, dropped, sent again
            assert await retried.read() == b"ok"
            assert count[0] == 2

    run(main())


def test_post_is_not_retried() -> None:
    async def main() -> None:
        count = [0]
        async with RawServer(_closing_after_first_response(count)) as server, \
                Client() as client:
            first = await client.post(server.url, content=b"1")
            await first.read()
            with pytest.raises(RemoteProtocolError):
                await client.post(server.url, content=b"2")
            assert count[0] == 1

    run(main())


def test_post_never_goes_on_a_connection_the_server_just_closed() -> None:
    """A server that closes after each answer without saying so: the loop may not
    have seen the close when the next request takes the connection at once. A GET
    would be sent again on a new connection; a POST is not, so the idle connection is
    checked first (its socket shows the end of the stream) and a new one opened."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            for i in range(10):
                response = await client.post(server.url, content=b"%d" % i)
                assert await response.read() == b"ok"
            assert server.connections == 10

    run(main())


def test_a_post_waiting_for_the_pool_checks_the_connection_it_is_handed() -> None:
    """A connection released to a request waiting for the pool is checked as an idle
    one is (a POST is not sent again): the server closed it after its answer."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        writer.close()

    async def post(client: Client, url: str, i: int) -> bytes:
        response = await client.post(url, content=b"%d" % i)
        return await response.read()

    async def main() -> None:
        async with RawServer(script) as server, \
                Client(max_connections=1, timeout=Timeout(5.0, pool=None)) as client:
            for _ in range(10):
                answers = await asyncio.gather(*(post(client, server.url, i) for i in range(2)))
                assert answers == [b"ok", b"ok"]
            assert server.connections == 20

    run(main())


# -- timeouts ------------------------------------------------------------------------------


def test_read_timeout() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(10)

    async def main() -> None:
        async with RawServer(script) as server, Client(timeout=0.3) as client:
            with pytest.raises(ReadTimeout):
                await client.get(server.url)
            assert client.session.pool.connections == 0

    run(main())


def test_read_timeout_counts_from_each_request_on_a_kept_connection() -> None:
    """An idle connection's timer is its keep-alive expiry; a request on it moves the
    timer up to the read timeout's (else the silence would be noticed only at the
    expiry, 30 s here: ``wait_for`` would end it first, with the wrong error)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        await read_request(reader)
        await asyncio.sleep(10)  # the second request is never answered

    async def main() -> None:
        async with RawServer(script) as server, \
                Client(timeout=Timeout(5.0, read=0.3), keepalive_expiry=30) as client:
            assert await (await client.get(server.url)).read() == b"ok"
            await asyncio.sleep(0.2)  # idle: the expiry's timer is the one set
            with pytest.raises(ReadTimeout):
                await asyncio.wait_for(client.get(server.url), 5)
            assert server.connections == 1

    run(main())


def test_read_timeout_in_the_body_and_slow_heads_that_keep_coming() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        # A head dribbled in, a byte every 50 ms: slow, but never silent for long.
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b"abc")
        await writer.drain()
        await asyncio.sleep(10)

    async def main() -> None:
        async with RawServer(script) as server, Client(timeout=0.4) as client:
            response = await client.get(server.url)
            assert response.status == 200
            with pytest.raises(ReadTimeout):
                await response.read()

    run(main())


def test_write_timeout() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)  # never reads

    async def main() -> None:
        async with RawServer(script) as server, Client(timeout=Timeout(5.0, write=0.3)) as client:
            async def body() -> Any:
                for _ in range(4000):
                    yield b"x" * 65536

            with pytest.raises(WriteTimeout):
                await client.post(server.url, content=body())

    run(main())


def test_connect_timeout_on_a_tls_handshake_that_never_ends() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)  # takes the connection, never answers the ClientHello

    async def main() -> None:
        async with RawServer(script) as server, Client(timeout=Timeout(5.0, connect=0.3)) as client:
            with pytest.raises(ConnectTimeout):
                await client.get(server.url.replace("http://", "https://"))

    run(main())


def test_connect_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nobody listens there now

    async def main() -> None:
        async with Client() as client:
            with pytest.raises(ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")

    run(main())


# -- a server that misbehaves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "both Transfer-Encoding and Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
         "Content-Length"),
        (b"garbage\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "status line"),
        (b"HTTP/1.1 103 Early\r\n\r\n" * 20, "too many interim"),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "Transfer-Encoding in an HTTP/1.0 response"),
    ],
    ids=["CL+TE", "two CLs", "garbage", "bare LF", "1xx flood", "TE on 1.0"],
)
def test_untrustworthy_answers_are_protocol_errors(answer: bytes, fragment: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            with pytest.raises(RemoteProtocolError, match=fragment):
                await client.get(server.url)
            assert client.session.pool.connections == 0

    run(main())


@pytest.mark.parametrize("framing", [b"Content-Length: 100", b"Transfer-Encoding: chunked"])
def test_short_body_is_an_error_never_a_complete_body(framing: bytes) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        body = b"hello" if framing.startswith(b"Content") else b"5\r\nhello\r\n"
        writer.write(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            response = await client.get(server.url)
            with pytest.raises(RemoteProtocolError):
                await response.read()

    run(main())


def test_reset_mid_response() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()  # RST

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            response = await client.get(server.url)
            with pytest.raises((ReadError, RemoteProtocolError)):
                await response.read()

    run(main())


def test_close_before_any_answer_on_a_new_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            with pytest.raises(RemoteProtocolError, match="without sending a response"):
                await client.get(server.url)

    run(main())


def test_unsolicited_bytes_on_an_idle_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"ok") + b"HTTP/1.1 200 OK\r\n")  # a second answer nobody asked for
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            response = await client.get(server.url)
            assert await response.read() == b"ok"
            await asyncio.sleep(0.05)
            assert client.session.pool.connections == 0  # closed, not reused

    run(main())


def test_head_response_with_a_body_does_not_poison_the_next_request() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if head.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            else:
                writer.write(ok(b"ok"))
            await writer.drain()

    async def main() -> None:
        async with RawServer(script) as server, Client() as client:
            head = await client.head(server.url)
            assert head.status == 200 and await head.read() == b""
            await asyncio.sleep(0.05)
            second = await client.get(server.url)
            # "hello" was never taken for this response: the connection that carried it
            # was closed, and this request went on a new one.
            assert await second.read() == b"ok"

    run(main())


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "stream"])
def test_an_answer_and_close_in_the_middle_of_an_upload_is_the_response(
        streamed: bool) -> None:
    """RFC 9112 §9.5: a server may answer before the request's end and close. That
    answer is the response (not a write error), and the closing runs once (asyncio's
    transport would run ``connection_lost`` twice if closed from inside
    ``resume_writing``: the loop's exception handler would hear of it)."""
    total = 30_000_000

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 413 Too Large\r\nConnection: close\r\n"
                     b"Content-Length: 3\r\n\r\nno!")
        await writer.drain()
        while await reader.read(1 << 20):
            pass  # the rest of the upload, dropped

    async def pieces() -> Any:
        for _ in range(total // 100_000):
            yield b"u" * 100_000

    async def main() -> None:
        loop_errors: list[Any] = []
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: loop_errors.append(context))
        async with RawServer(script) as server, \
                Client(expect_continue_threshold=None) as client:
            content = pieces() if streamed else b"u" * total
            response = await client.post(server.url, content=content)
            assert response.status == 413 and await response.read() == b"no!"
            await asyncio.sleep(0.2)
            assert client.session.pool.connections == 0
        assert loop_errors == []

    run(main())


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "stream"])
@pytest.mark.parametrize("ending", ["close", "abort"])
def test_an_answer_from_a_server_that_stops_reading_the_upload_is_the_response(
        streamed: bool, ending: str) -> None:
    """The server answers after the head, reads none of the upload and closes (a
    reset: the upload is unread). The client reads while its writes wait for the
    transport, so the answer, body and all, is in before the reset; the body's writing
    looks at it as soon as it comes (it stops: a 4xx)."""
    body = b"e" * 300_000

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 413 Too Large\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.transport.abort() if ending == "abort" else writer.close()

    async def pieces() -> Any:
        for _ in range(300):
            yield b"u" * 100_000

    async def main() -> None:
        async with RawServer(script) as server, \
                Client(expect_continue_threshold=None) as client:
            content = pieces() if streamed else b"u" * 30_000_000
            response = await client.post(server.url, content=content)
            assert response.status == 413 and await response.read() == body

    run(main())


# -- Expect: 100-continue ---------------------------------------------------------------


def test_large_upload_waits_for_100_continue() -> None:
    async def main() -> None:
        async with our_server() as base, Client(expect_continue_threshold=1000) as client:
            response = await client.post(base + "/e", content=b"z" * 5000)
            assert await response.read() == b"z" * 5000

    run(main())


def test_final_answer_before_100_continue_skips_the_body() -> None:
    got = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        got.append(head)
        writer.write(b"HTTP/1.1 413 Too Large\r\nContent-Length: 2\r\n\r\nno")
        await writer.drain()
        got.append(await reader.read(100))  # what follows: nothing, then EOF

    async def main() -> None:
        async with RawServer(script) as server, Client(expect_continue_threshold=10) as client:
            response = await client.post(server.url, content=b"b" * 100)
            assert response.status == 413 and await response.read() == b"no"
            await asyncio.sleep(0.1)
            assert b"Expect: 100-continue" in got[0]
            assert client.session.pool.connections == 0
        await asyncio.sleep(0.05)
        assert got[1] == b""  # the body never went out

    run(main())


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs() -> Certs:
    pytest.importorskip("trustme")
    return Certs()


def test_tls_verified_sni_and_alpn(certs: Certs) -> None:
    seen: dict[str, Any] = {}

    def sni(sslobj: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        seen["sni"] = name

    certs.server.sni_callback = sni

    async def main() -> None:
        async with our_server(ssl=certs.server) as base:
            url = base.replace("127.0.0.1", "localhost")
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "ca.pem")
                certs.ca.cert_pem.write_to_path(path)
                async with Client(verify=path) as client:  # a context of ours: with ALPN
                    response = await client.get(url + "/x")
                    assert response.status == 200
                    await response.read()
                    proto = next(iter(client.session.pool._routes.values())).idle[0]
                    ssl_object = proto._transport.get_extra_info("ssl_object")
                    assert ssl_object.selected_alpn_protocol() == "http/1.1"
            async with Client(verify=certs.client) as client:  # a context given: as it is
                response = await client.get(url + "/x")
                assert response.status == 200
            async with Client() as default:  # the system's CAs do not know ours
                with pytest.raises(ConnectError):
                    await default.get(url + "/x")
            async with Client(verify=False) as unverified:
                response = await unverified.get(url + "/x")
                assert response.status == 200

    run(main())
    assert seen["sni"] == "localhost"


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
@pytest.mark.parametrize("size", [10, 20_000, 3_000_000],
                         ids=["one-record", "two-records", "many-records"])
def test_tls_bodies_of_every_size_both_ways(certs: Certs, loop_kind: str, size: int) -> None:
    """Bodies of many TLS records arrive whole through our server and our client. The
    loop's TLS transport reads the records after the first into a slice of what
    ``get_buffer`` returned (a copy, were that a bytearray: the server saw zeros)."""
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)

    async def main() -> None:
        async with our_server(ssl=certs.server) as base, Client(verify=certs.client) as client:
            echoed = await client.request("PUT", base + "/e", content=body)
            assert await echoed.read() == body
            download = await client.get(base + f"/big/{size}")
            assert await download.read() == b"x" * size

    run_async(loop_kind, main)


def test_tls_ca_file(certs: Certs) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ca.pem")
        certs.ca.cert_pem.write_to_path(path)

        async def main() -> None:
            async with our_server(ssl=certs.server) as base, Client(verify=path) as client:
                response = await client.get(base + "/x")
                assert response.status == 200

        run(main())


# -- proxies and Unix sockets -------------------------------------------------------------------


def test_forward_proxy_for_http() -> None:
    async def main() -> None:
        async with our_server() as base, Proxy(require_auth="Basic dTpw") as proxy:
            proxied = proxy.url.replace("http://", "http://u:p@")
            async with Client(proxy=proxied) as client:
                response = await client.get(base + "/headers")
                assert (await response.read()).startswith(b"GET /headers")
            assert proxy.seen[0].startswith(f"GET {base}/headers HTTP/1.1".encode())
            async with Client(proxy=proxy.url) as client:  # no credentials: 407
                response = await client.get(base + "/x")
                assert response.status == 407

    run(main())


def test_connect_tunnel_for_https(certs: Certs) -> None:
    async def main() -> None:
        async with our_server(ssl=certs.server) as base, Proxy() as proxy:
            async with Client(proxy=proxy.url, verify=certs.client) as client:
                response = await client.get(base + "/x")
                assert response.status == 200 and await response.read() == b""
                again = await client.get(base + "/headers")  # the same tunnel, reused
                assert (await again.read()).startswith(b"GET /headers")
            port = base.rsplit(":", 1)[1]
            assert proxy.seen == [f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n"
                                  f"Host: 127.0.0.1:{port}\r\n\r\n".encode()]

    run(main())


def test_proxy_refusing_the_tunnel(certs: Certs) -> None:
    async def main() -> None:
        async with Proxy(require_auth="Basic x") as proxy, \
                Client(proxy=proxy.url, verify=certs.client) as client:
            with pytest.raises(ProxyError, match="407"):
                await client.get("https://127.0.0.1:9/")

    run(main())


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with our_server() as base, Proxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            async with Client() as client:
                await (await client.get(base + "/x")).read()
            assert len(proxy.seen) == 1
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            async with Client() as client:
                await (await client.get(base + "/x")).read()
            async with Client(trust_env=False) as client:
                monkeypatch.delenv("NO_PROXY")
                await (await client.get(base + "/x")).read()
            assert len(proxy.seen) == 1

    run(main())


def test_unix_socket() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)

        async def main() -> None:
            async with await serve(client_test_handler, sock=sock), Client(uds=path) as client:
                response = await client.get("http://anything/headers")
                assert (await response.read()).startswith(b"GET /headers\nHost: anything")

        run(main())


# -- cancellation ----------------------------------------------------------------------------


def test_cancelled_requests_leak_no_connection_or_task() -> None:
    """Thousands of requests cancelled at random points: afterwards every connection
    the pool holds is idle and usable, the count matches, and no task is left."""

    async def main() -> None:
        before = asyncio.all_tasks()
        rng = random.Random(7)
        async with our_server() as base, Client(max_connections=20) as client:
            pool = client.session.pool

            async def one(i: int) -> None:
                response = await client.get(base + ("/big/200000" if i % 3 == 0 else f"/{i}"))
                await response.read()

            for _ in range(40):
                tasks = [asyncio.ensure_future(one(i)) for i in range(100)]
                await asyncio.sleep(rng.random() * 0.003)
                for task in tasks:
                    if rng.random() < 0.5:
                        task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                assert pool.connections <= 20
            await asyncio.sleep(0.05)
            routes = list(pool._routes.values())
            idle = sum(len(r.idle) for r in routes)
            assert pool.connections == idle == pool.idle_connections
            assert all(p.usable and p.exchange is None for r in routes for p in r.idle)
            # The pool still works, to its limit.
            results = await asyncio.gather(*(client.get(base + f"/{i}") for i in range(40)))
            for response in results:
                await response.read()
        await asyncio.sleep(0.05)
        assert asyncio.all_tasks() - before == set()  # not one task left behind

    run(main(), timeout=120)


def test_cancel_while_waiting_for_the_pool() -> None:
    async def main() -> None:
        async with our_server() as base, Client(max_connections=1) as client:
            held = await client.get(base + "/big/5000000")
            waiting = asyncio.ensure_future(client.get(base + "/x"))
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await held.aclose()
            response = await client.get(base + "/x")
            assert response.status == 200
            await response.read()
            assert client.session.pool.connections == 1

    run(main())
