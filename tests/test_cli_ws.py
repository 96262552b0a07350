"""uvicorn's WebSocket options on the ``httpaf`` command, each seen from a real client.

Every test but the first runs the command (``python -m httpaf``) on
``tests/apps/ws_app.py`` and talks to it over a socket: the ``websockets`` library's
client, or a raw socket where the client must do what a library will not (receive
the server's pings, or leave them unanswered). ``docs/cli.md`` and
``docs/websocket.md`` say what each option does.

No test asserts a duration. Two look for something that must *not* happen (a pong
from a server whose reading is paused) and give it a bounded wait: a slow machine
can only make such a check pass, never fail.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import socket
import struct
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from httpaf.asgi import Settings
from httpaf.asgi import serve as asgi_serve
from httpaf.cli import Options, build_parser, options_from_namespace

from helpers import APPS, ServerProcess, httpaf_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

uvicorn = pytest.importorskip("uvicorn")

MiB = 1024 * 1024


def serve(*args: str) -> ServerProcess:
    """``httpaf ws_app:app`` with ``args``, on a free port."""
    return ServerProcess(
        httpaf_command("--app-dir", str(APPS), "--port", "0", *args, "ws_app:app"),
        r"serving on (http://\S+)",
    )



def started(servers: list[ServerProcess], *args: str) -> str:
    """Start the command with ``args``; its ``ws://`` base URL."""
    server = serve(*args)
    servers.append(server)
    return server.url.replace("http://", "ws://", 1)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def connect(url: str, **options: Any) -> Any:
    """The ``websockets`` client, without its own keep-alive or receive limit."""
    return ws_connect(url, ping_interval=None, max_size=None, **options)


# -- defaults ---------------------------------------------------------------------------

WS_NAMES = (
    "ws",
    "ws_max_size",
    "ws_max_queue",
    "ws_ping_interval",
    "ws_ping_timeout",
    "ws_per_message_deflate",
)


def test_defaults_are_uvicorns() -> None:
    """The command's, ``httpaf.run``'s and ``httpaf.asgi.serve``'s defaults are those
    of the installed uvicorn's ``Config``."""
    theirs = inspect.signature(uvicorn.Config.__init__).parameters
    parsed = options_from_namespace(build_parser().parse_args(["m:app"]))
    keywords = Options("m:app")
    served = inspect.signature(asgi_serve).parameters
    settings = inspect.signature(Settings.__init__).parameters
    for name in WS_NAMES:
        expected = theirs[name].default
        assert getattr(parsed, name) == expected, name
        assert getattr(keywords, name) == expected, name
        if name in served:  # (else given through **options to Settings)
            assert served[name].default == expected, name
        assert settings[name].default == expected, name
    assert parsed.ws_options() == {}  # nothing to tell the ASGI server


def test_defaults_seen_from_a_client(servers: list[ServerProcess]) -> None:
    """No option: 16 MiB messages pass and one byte more closes 1009, reading pauses
    at the 32nd message the application has not received, permessage-deflate is
    negotiated (``ws_ping_interval``'s 20 s are left to the in-process check above)."""
    base = started(servers)
    limit = uvicorn.Config(app=None).ws_max_size
    queue = uvicorn.Config(app=None).ws_max_queue

    async def main() -> None:
        async with connect(base + "/echo") as ws:
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
            await ws.send(b"\0" * limit)
            assert len(await ws.recv()) == limit
            await ws.send(b"\0" * (limit + 1))
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await reading_pauses_at(base, queue)

    run(main())


# -- --ws-max-size ------------------------------------------------------------------------


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_max_size(servers: list[ServerProcess], compression: str | None) -> None:
    """A message of the limit passes; one byte more closes 1009 (Message Too Big), also
    when it travels compressed (the limit is on the decompressed message)."""
    base = started(servers, "--ws-max-size", "1000")

    async def main() -> None:
        async with connect(base + "/echo", compression=compression) as ws:
            await ws.send("a" * 1000)
            assert await ws.recv() == "a" * 1000
            await ws.send("a" * 1001)
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    run(main())


# -- --ws-max-queue ------------------------------------------------------------------------


async def pong_within(ws: ClientConnection, seconds: float) -> bool:
    """Send a ping; whether its pong came within ``seconds`` (the waiter is kept)."""
    waiter = await ws.ping()
    try:
        await asyncio.wait_for(asyncio.shield(waiter), seconds)
    except asyncio.TimeoutError:
        return False
    return True


async def reading_pauses_at(base: str, count: int) -> None:
    """Check that the server stops reading a connection when ``count`` messages wait
    for an application that does not receive, and not before.

    The server reads frames in order and answers a ping when it reads it, so a pong
    shows that everything sent before it was read; and a paused server still answers
    the pings that came in the read that paused it, never those sent after their pong.
    After ``count - 1`` messages, two pings one after the other are both answered: not
    paused. After message ``count``, a ping may still be answered (the same read), but
    a ping sent after that pong is not read until the application receives.
    """
    key = os.urandom(8).hex()
    async with connect(f"{base}/hold?key={key}", compression=None) as ws:
        for i in range(count - 1):
            await ws.send(f"m{i}")
        for _ in range(2):  # (the second ping surely comes in a read of its own)
            assert await pong_within(ws, 30), "reading paused before max_queue messages"
        await ws.send(f"m{count - 1}")
        if await pong_within(ws, 1):  # (read with message `count`)
            assert not await pong_within(ws, 1), "reading did not pause"
        release = base.replace("ws://", "http://", 1) + f"/release?key={key}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(release)).text == "released"
        assert await ws.recv() == "released"
        for i in range(count):
            assert await ws.recv() == f"m{i}"  # nothing was lost while paused
        assert await pong_within(ws, 30)  # reading goes on


def test_max_queue(servers: list[ServerProcess]) -> None:
    """``--ws-max-queue 3``: reading pauses at the 3rd message not received."""
    base = started(servers, "--ws-max-queue", "3", "--ws-ping-interval", "none")
    run(reading_pauses_at(base, 3))


# -- --ws-ping-interval, --ws-ping-timeout ---------------------------------------------


class RawWebSocket:
    """A client on a plain socket: it sees every frame and answers only when told."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self._recv(1)
        assert head.startswith(b"HTTP/1.1 101 "), head

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the server closed the connection")
            data += chunk
        return data

    def frame(self) -> tuple[int, bytes]:
        """The next frame from the server (unmasked, unfragmented): opcode, payload."""
        first, second = self._recv(2)
        assert first & 0x80 and not second & 0x80
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._recv(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._recv(8))
        return first & 0x0F, self._recv(length)

    def send(self, opcode: int, payload: bytes) -> None:
        """A masked frame (payloads under 126 bytes)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        self.sock.close()


PING, PONG, CLOSE = 0x9, 0xA, 0x8


def test_ping_interval_sends_pings(servers: list[ServerProcess]) -> None:
    """``--ws-ping-interval 0.1``: the client gets pings; answered, they go on."""
    base = started(servers, "--ws-ping-interval", "0.1", "--ws-ping-timeout", "30")
    raw = RawWebSocket(base + "/echo")
    try:
        for _ in range(2):
            opcode, payload = raw.frame()
            assert opcode == PING
            raw.send(PONG, payload)
        raw.send(CLOSE, struct.pack("!H", 1000))
        while (frame := raw.frame())[0] != CLOSE:
            assert frame[0] == PING
        assert frame[1][:2] == struct.pack("!H", 1000)
    finally:
        raw.close()


def test_ping_timeout_closes_1011(servers: list[ServerProcess]) -> None:
    """``--ws-ping-timeout 0.2``: a client that does not answer the ping is sent a close
    frame 1011 "keepalive ping timeout" (as uvicorn's websockets classes) and cut."""
    base = started(servers, "--ws-ping-interval", "0.1", "--ws-ping-timeout", "0.2")
    raw = RawWebSocket(base + "/echo")
    try:
        assert raw.frame()[0] == PING  # (not answered)
        opcode, payload = raw.frame()
        assert opcode == CLOSE
        assert payload == struct.pack("!H", 1011) + b"keepalive ping timeout"
        with pytest.raises(EOFError):
            raw.frame()
    finally:
        raw.close()


def test_ping_timeout_none_keeps_pinging(servers: list[ServerProcess]) -> None:
    """``--ws-ping-timeout none``: pings have no deadline; unanswered, they go on and
    the connection stays open."""
    base = started(servers, "--ws-ping-interval", "0.1", "--ws-ping-timeout", "none")
    raw = RawWebSocket(base + "/echo")
    try:
        for _ in range(3):
            assert raw.frame()[0] == PING  # (none answered)
        raw.send(0x1, b"still open")
        while (frame := raw.frame())[0] == PING:
            pass
        assert frame == (0x1, b"still open")
    finally:
        raw.close()


# -- --ws-per-message-deflate ------------------------------------------------------------


@pytest.mark.parametrize(("value", "negotiated"), [("true", True), ("false", False)])
def test_per_message_deflate(servers: list[ServerProcess], value: str, negotiated: bool) -> None:
    """The ``websockets`` client offers permessage-deflate: accepted or not."""
    base = started(servers, "--ws-per-message-deflate", value)

    async def main() -> None:
        async with connect(base + "/echo") as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert ("permessage-deflate" in extensions) is negotiated
            await ws.send("x" * 10000)
            assert await ws.recv() == "x" * 10000

    run(main())


# -- --ws ---------------------------------------------------------------------------------

NOTICE = "httpaf serves WebSocket itself"


@pytest.mark.parametrize(
    ("ws", "workers"),
    [
        ("websockets", "1"),
        ("websockets-sansio", "1"),
        ("wsproto", "2"),
        ("httpaf.uvicorn:HttpafWebSocketProtocol", "1"),
    ],
)
def test_ws_choices_are_served_by_httpaf(
    servers: list[ServerProcess], ws: str, workers: str
) -> None:
    """uvicorn's implementations (and a ``module:Class``) are accepted; httpaf's serves
    WebSocket, and says so once at startup (also with workers)."""
    base = started(servers, "--ws", ws, "--workers", workers)

    async def main() -> None:
        async with connect(base + "/echo") as ws_conn:
            await ws_conn.send("hi")
            assert await ws_conn.recv() == "hi"

    run(main())
    server = servers[0]
    assert server.stop() == 0
    assert server.output.count(NOTICE) == 1
    assert f"--ws {ws}: {NOTICE}" in server.output


def test_ws_auto_says_nothing(servers: list[ServerProcess]) -> None:
    base = started(servers, "--ws", "auto")

    async def main() -> None:
        async with connect(base + "/echo") as ws:
            await ws.send(b"\x00\x01")
            assert await ws.recv() == b"\x00\x01"

    run(main())
    assert NOTICE not in servers[0].output


def test_unknown_ws_is_refused() -> None:
    out = subprocess.run(
        httpaf_command("--port", "0", "--ws", "tornado", "m:app"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--ws must be one of auto, none, websockets" in out.stderr


UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def local_address(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")


def test_ws_none(servers: list[ServerProcess]) -> None:
    """``--ws none``: an upgrade request reaches the application as a plain ``http``
    request and is answered as one, on a connection that stays open; a WebSocket client
    is refused with that answer; each such request logs a warning, as uvicorn does."""
    base = started(servers, "--ws", "none")
    http = base.replace("ws://", "http://", 1)
    with httpx.Client() as client:
        answer = client.get(http + "/echo", headers=UPGRADE)
        assert answer.status_code == 200
        assert answer.json() == {
            "type": "http",
            "path": "/echo",
            "upgrade": "websocket",
            "connection": "Upgrade",
        }
        again = client.get(http + "/again")
        assert again.json()["path"] == "/again"
        assert local_address(again) == local_address(answer)  # the same connection

    async def main() -> None:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(base + "/echo"):
                pass
        assert refused.value.response.status_code == 200

    run(main())
    server = servers[-1]
    server.wait_for("Unsupported upgrade request")
    assert server.stop() == 0
    assert server.output.count("Unsupported upgrade request") == 2  # not for /again


def test_ws_none_is_what_uvicorn_does() -> None:
    """uvicorn with ``ws="none"`` answers the same upgrade request the same way."""
    sys.path.insert(0, str(APPS))
    try:
        import ws_app
    finally:
        sys.path.remove(str(APPS))

    async def main() -> Any:
        config = uvicorn.Config(
            ws_app.app, host="127.0.0.1", port=0, ws="none", lifespan="off", log_level="error"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"http://127.0.0.1:{port}/echo", headers=UPGRADE)
                again = await client.get(f"http://127.0.0.1:{port}/again")
                assert local_address(again) == local_address(answer)
        finally:
            server.should_exit = True
            await task
        return answer, again

    answer, again = run(main())
    assert answer.status_code == 200
    assert json.loads(answer.text) == {
        "type": "http",
        "path": "/echo",
        "upgrade": "websocket",
        "connection": "Upgrade",
    }
    assert again.status_code == 200
