"""Fault injection over real sockets against the asyncio server.

Each test starts a server in-process on a free port, injects one fault (client resets
and half-closes at every stage, failing or silent handlers, a client that stops reading,
a pipelining flood, 10,000 connections, garbage after a keep-alive request, slow or
silent clients), and then checks that the server

- still answers a normal request on a new connection, and
- leaks nothing: ``Server.connection_count`` back to 0, the process's open fds back to
  what they were before the fault (``/proc/self/fd``), no asyncio task left behind, and
  no error reported to the loop's exception handler.

Each runs on asyncio's loop and on uvloop. Waits are bounded polls, never timing
assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any

import pytest

from httpaf import Config, Reqd, Response
from httpaf.asyncio import Server, new_event_loop, serve

from helpers import LOOPS

if not os.path.isdir("/proc/self/fd"):
    pytest.skip("the fault tests count fds in /proc/self/fd (Linux)", allow_module_level=True)

import resource  # noqa: E402 - POSIX only

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
PIECE = bytes(range(256)) * 256  # 64 KiB


@pytest.fixture(params=LOOPS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    return str(request.param)


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- handlers -----------------------------------------------------------------------------


def read_body(reqd: Reqd, done: Callable[[bytes], None]) -> None:
    body = reqd.body
    pieces: list[bytes] = []

    def on_read(data: memoryview) -> None:
        pieces.append(bytes(data))
        body.schedule_read(on_read, on_eof)

    def on_eof() -> None:
        done(b"".join(pieces))

    body.schedule_read(on_read, on_eof)


def stream(reqd: Reqd, pieces: int, chunked: bool = False) -> None:
    """Answer with ``pieces`` x 64 KiB, each written once the previous one went out."""
    headers = (
        [("Transfer-Encoding", "chunked")] if chunked
        else [("Content-Length", str(pieces * len(PIECE)))]
    )
    writer = reqd.respond_with_streaming(Response(200, headers))
    left = [pieces]

    def more() -> None:
        if writer.is_closed:
            return
        if left[0] == 0:
            writer.close()
            return
        left[0] -= 1
        writer.write(PIECE)
        writer.flush(more)

    more()


def app(reqd: Reqd) -> None:
    """/health, /echo (the body's length), /big (4 MiB), /chunked (4 MiB, chunked)."""
    target = reqd.request.target
    if target == "/big":
        reqd.body.close()
        stream(reqd, 64)
    elif target == "/chunked":
        reqd.body.close()
        stream(reqd, 64, chunked=True)
    else:
        read_body(reqd, lambda body: reqd.respond_with_string(
            Response(200, [("X-Target", target)]), b"%d" % len(body)))


# -- the harness ----------------------------------------------------------------------------


class Fault:
    """What a scenario gets: the server, its port, and the server's connections."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.port = server.port

    @property
    def protocols(self) -> list[Any]:
        return list(self.server._connections)

    async def connect(self, local: str | None = None) -> tuple[asyncio.StreamReader,
                                                                asyncio.StreamWriter]:
        return await asyncio.open_connection(
            "127.0.0.1", self.port, local_addr=(local, 0) if local else None)

    async def wait_for(self, predicate: Callable[[], bool], what: str,
                       seconds: float = 10.0) -> None:
        """Poll ``predicate`` until it holds (bounded: a hang is a failure, not a wait)."""
        for _ in range(int(seconds / 0.01)):
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"gave up waiting for {what}")


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets an RST."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def half_close(writer: asyncio.StreamWriter) -> None:
    writer.write_eof()


async def read_all(reader: asyncio.StreamReader, seconds: float = 10.0) -> bytes:
    """Read until EOF (bounded)."""
    return await asyncio.wait_for(reader.read(), seconds)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One response with a Content-Length body: (head, body)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await asyncio.wait_for(reader.readexactly(length), 10)


async def health(fault: Fault) -> None:
    reader, writer = await fault.connect()
    writer.write(HEALTH)
    data = await read_all(reader)
    writer.close()
    await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:200]


def run_fault(
    loop_kind: str,
    scenario: Callable[[Fault], Awaitable[Any]],
    handler: Callable[[Reqd], None] = app,
    config: Config | None = None,
    limit: float = 60,
) -> Any:
    """Serve ``handler``, run ``scenario``, then check serving and leaks."""
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    async def main() -> Any:
        server = await serve(handler, "127.0.0.1", 0, config=config)
        fault = Fault(server)
        me = asyncio.current_task()
        tasks_before = {t for t in asyncio.all_tasks() if t is not me}
        fds_before = fd_count()
        try:
            result = await asyncio.wait_for(scenario(fault), limit)
            await health(fault)
            await fault.wait_for(lambda: server.connection_count == 0, "connections to close")
            await fault.wait_for(lambda: fd_count() <= fds_before,
                                 f"fds back to {fds_before} (now {fd_count()})")
            left = {t for t in asyncio.all_tasks() if t is not me and not t.done()}
            assert left <= tasks_before, f"tasks left behind: {left - tasks_before}"
            return result
        finally:
            await server.shutdown(timeout=1)

    try:
        result = loop.run_until_complete(main())
    finally:
        loop.close()
    assert not errors, errors
    return result


# -- resets and half-closes ---------------------------------------------------------------


def test_reset_in_the_middle_of_the_head(loop_kind: str) -> None:
    async def scenario(fault: Fault) -> None:
        reader, writer = await fault.connect()
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le")
        await fault.wait_for(lambda: fault.server.connection_count == 1, "the connection")
        await asyncio.sleep(0.05)
        reset(writer)

    run_fault(loop_kind, scenario)


def test_reset_in_the_middle_of_the_body(loop_kind: str) -> None:
    bodies: list[bytes] = []

    def handler(reqd: Reqd) -> None:
        if reqd.request.target == "/echo":
            read_body(reqd, bodies.append)  # never completes: the client resets
        else:
            app(reqd)

    async def scenario(fault: Fault) -> None:
        reader, writer = await fault.connect()
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        writer.write(b"a" * 5000)
        await writer.drain()
        await asyncio.sleep(0.05)
        reset(writer)

    run_fault(loop_kind, scenario, handler)


def test_reset_in_the_middle_of_the_response(loop_kind: str) -> None:
    async def scenario(fault: Fault) -> int:
        reader, writer = await fault.connect()
        writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        got = len(await reader.readexactly(100_000))
        reset(writer)
        return got

    assert run_fault(loop_kind, scenario) == 100_000


def test_reset_in_the_middle_of_a_chunked_response(loop_kind: str) -> None:
    async def scenario(fault: Fault) -> None:
        reader, writer = await fault.connect()
        writer.write(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readexactly(200_000)
        reset(writer)

    run_fault(loop_kind, scenario)


def test_half_close_in_the_middle_of_the_head(loop_kind: str) -> None:
    """An incomplete head then EOF: 400 (or a plain close), never a request."""
    seen: list[str] = []

    def handler(reqd: Reqd) -> None:
        seen.append(reqd.request.target)
        app(reqd)

    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        writer.write(b"GET /half HTTP/1.1\r\nHost: x\r\nX-")
        half_close(writer)
        data = await read_all(reader)
        writer.close()
        return data

    data = run_fault(loop_kind, scenario, handler)
    assert data == b"" or data.startswith(b"HTTP/1.1 400 "), data
    assert seen == ["/health"]


def test_half_close_in_the_middle_of_the_body(loop_kind: str) -> None:
    """EOF inside a Content-Length body: the body ends in an error, the reply is 400."""
    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        half_close(writer)
        data = await read_all(reader)
        writer.close()
        return data

    data = run_fault(loop_kind, scenario)
    assert data.startswith(b"HTTP/1.1 400 "), data
    assert b"X-Target" not in data  # the handler's answer is not sent for a cut body


def test_half_close_after_the_request_still_gets_the_response(loop_kind: str) -> None:
    async def scenario(fault: Fault) -> tuple[bytes, bytes]:
        reader, writer = await fault.connect()
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        half_close(writer)
        data = await read_all(reader)
        writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return head.split(b"\r\n")[0], body

    assert run_fault(loop_kind, scenario) == (b"HTTP/1.1 200 OK", b"3")


def test_half_close_in_the_middle_of_the_response(loop_kind: str) -> None:
    """The client stops sending while a 4 MiB response streams: it still gets all of it.

    On asyncio's selector loop this once made connection_lost run twice (the close came
    from inside resume_writing, CPython gh-156512): the loop's error check catches it.
    """
    async def scenario(fault: Fault) -> int:
        reader, writer = await fault.connect()
        writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readexactly(10_000)
        half_close(writer)
        rest = await read_all(reader, 30)
        writer.close()
        head, _, body = (first + rest).partition(b"\r\n\r\n")
        assert body == PIECE * 64
        return len(body)

    assert run_fault(loop_kind, scenario) == 64 * len(PIECE)


# -- handlers that fail or stay silent ------------------------------------------------------


def test_handler_raises_before_responding(loop_kind: str) -> None:
    def handler(reqd: Reqd) -> None:
        if reqd.request.target == "/boom":
            raise RuntimeError("secret")
        app(reqd)

    async def scenario(fault: Fault) -> tuple[bytes, bytes]:
        reader, writer = await fault.connect()
        writer.write(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await read_all(reader)  # the error ends the connection
        writer.close()
        return data.split(b"\r\n")[0], data

    status, data = run_fault(loop_kind, scenario, handler)
    assert status == b"HTTP/1.1 500 Internal Server Error"
    assert b"secret" not in data and b"/after" not in data


def test_handler_raises_after_starting_its_response(loop_kind: str) -> None:
    def handler(reqd: Reqd) -> None:
        if reqd.request.target != "/boom":
            app(reqd)
            return
        reqd.body.close()
        writer = reqd.respond_with_streaming(Response(200, [("Content-Length", "1000")]))
        writer.write(b"x" * 10)
        writer.flush()
        raise RuntimeError("half way")

    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        writer.write(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await read_all(reader)  # cut short: a truncated message, then EOF
        writer.close()
        return data

    data = run_fault(loop_kind, scenario, handler)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and len(body) < 1000


def test_handler_raises_later_in_a_callback(loop_kind: str) -> None:
    """An exception from a body callback after the response started: the same cut."""
    def handler(reqd: Reqd) -> None:
        if reqd.request.target != "/boom":
            app(reqd)
            return
        writer = reqd.respond_with_streaming(Response(200, [("Content-Length", "1000")]))
        writer.write(b"x" * 10)
        writer.flush()

        def on_read(data: memoryview) -> None:
            raise RuntimeError("in a callback")

        reqd.body.schedule_read(on_read, lambda: None)

    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        writer.write(b"POST /boom HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        data = await read_all(reader)
        writer.close()
        return data

    data = run_fault(loop_kind, scenario, handler)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and len(body) < 1000




@pytest.mark.parametrize("pipelined", [False, True], ids=["alone", "pipelined"])
def test_handler_never_responds_and_the_client_resets(loop_kind: str, pipelined: bool) -> None:
    """The client gives up with an RST: the server must let the connection go.

    Pipelined, reading is paused (more requests than it may parse): the runtime's
    liveness probe has to notice the reset without reading.
    """
    held: list[Reqd] = []

    def handler(reqd: Reqd) -> None:
        if reqd.request.target == "/never":
            held.append(reqd)  # no answer, ever
        else:
            app(reqd)

    async def scenario(fault: Fault) -> None:
        reader, writer = await fault.connect()
        writer.write(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
        if pipelined:  # more than max_pipelined_requests: reading has to pause
            writer.write(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n" * 40)
        await fault.wait_for(lambda: bool(held), "the request")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.2)  # the client gives up
        reset(writer)
        await fault.wait_for(lambda: fault.server.connection_count == 0,
                             "the abandoned connection to close", seconds=1.5)

    run_fault(loop_kind, scenario, handler)


def test_handler_answers_after_the_client_closed(loop_kind: str) -> None:
    """A FIN may be a half-close (the client still reads), so the server keeps the
    connection while the handler works; once the answer goes out it closes, leaking
    nothing, although nobody reads it."""
    held: list[Reqd] = []

    def handler(reqd: Reqd) -> None:
        if reqd.request.target == "/late":
            held.append(reqd)
        else:
            app(reqd)

    async def scenario(fault: Fault) -> None:
        reader, writer = await fault.connect()
        writer.write(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        await fault.wait_for(lambda: bool(held), "the request")
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
        held[0].respond_with_string(Response(200), b"too late" * 1000)
        await fault.wait_for(lambda: fault.server.connection_count == 0,
                             "the connection to close after its answer")

    run_fault(loop_kind, scenario, handler)


# -- flow control ---------------------------------------------------------------------------


def test_client_that_stops_reading_a_large_response(loop_kind: str) -> None:
    """The server buffers at most about one piece plus the transport's high-water mark."""
    pieces = 2048  # 128 MiB: far more than the socket buffers hold
    written: list[int] = [0]

    def handler(reqd: Reqd) -> None:
        if reqd.request.target != "/huge":
            app(reqd)
            return
        reqd.body.close()
        writer = reqd.respond_with_streaming(
            Response(200, [("Content-Length", str(pieces * len(PIECE)))]))

        def more() -> None:
            if not writer.is_closed and written[0] < pieces:
                written[0] += 1
                writer.write(PIECE)
                writer.flush(more)

        more()

    async def scenario(fault: Fault) -> int:
        reader, writer = await fault.connect()
        writer.write(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readexactly(1000)
        writer.transport.pause_reading()  # and never reads again
        peak = 0
        stalled = 0
        last = -1
        for _ in range(1000):  # until the server stops producing (bounded)
            await asyncio.sleep(0.01)
            for protocol in fault.protocols:
                held = (protocol._transport.get_write_buffer_size()
                        + protocol.conn._serializer.pending_bytes)
                peak = max(peak, held)
            stalled = stalled + 1 if written[0] == last else 0
            last = written[0]
            if stalled >= 30:
                break
        assert written[0] < pieces, "the whole response fit in socket buffers?"
        reset(writer)
        return peak

    peak = run_fault(loop_kind, scenario, handler)
    assert peak <= 1 << 20, f"server held {peak} bytes for a client that does not read"


def _flood_server_state(fault: Fault) -> tuple[int, int, bool]:
    queue = held = 0
    paused = False
    for protocol in fault.protocols:
        queue = max(queue, len(protocol.conn._queue))
        held = max(held, protocol._transport.get_write_buffer_size()
                   + protocol.conn._serializer.pending_bytes)
        paused = paused or protocol._reading_paused
    return queue, held, paused


def test_pipelining_flood_waiting_for_the_handler(loop_kind: str) -> None:
    """5,000 pipelined requests while the handler holds its answers: 32 queued at most,
    reading paused; then every one is answered, in order."""
    held: list[Reqd] = []

    def handler(reqd: Reqd) -> None:
        if reqd.request.target.startswith("/q"):
            held.append(reqd)
        else:
            app(reqd)

    count = 5000

    async def scenario(fault: Fault) -> list[bytes]:
        reader, writer = await fault.connect()
        writer.write(b"".join(b"GET /q%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(count)))
        await fault.wait_for(lambda: bool(held), "the first request")
        await fault.wait_for(lambda: _flood_server_state(fault)[2], "reading to pause")
        queue, _, paused = _flood_server_state(fault)
        assert paused and queue <= Config().max_pipelined_requests, (queue, paused)
        targets: list[bytes] = []
        answered = 0
        while answered < count:
            await fault.wait_for(lambda n=answered: len(held) > n, "the next request")
            reqd = held[answered]
            reqd.respond_with_string(Response(200), reqd.request.target)
            answered += 1
            queue, _, _ = _flood_server_state(fault)
            assert queue <= Config().max_pipelined_requests
            if answered % 500 == 0 or answered == count:
                while len(targets) < answered:
                    _, body = await read_response(reader)
                    targets.append(body)
        writer.close()
        return targets

    targets = run_fault(loop_kind, scenario, handler)
    assert targets == [b"/q%d" % i for i in range(count)]




def test_pipelining_flood_from_a_client_that_never_reads(loop_kind: str) -> None:
    """Responses that cannot be written must stop the reading, not pile up."""
    def handler(reqd: Reqd) -> None:
        reqd.respond_with_string(Response(200), b"r" * 100)

    async def scenario(fault: Fault) -> int:
        sock = socket.create_connection(("127.0.0.1", fault.port))
        sock.setblocking(False)
        burst = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
        sent = stuck = peak = 0
        try:
            while sent < 8 << 20 and stuck < 100:  # bounded: 8 MiB of requests
                try:
                    sent += sock.send(burst)
                    stuck = 0
                except BlockingIOError:
                    stuck += 1  # the server stopped reading: what we want
                await asyncio.sleep(0.005 if stuck else 0)
                peak = max(peak, _flood_server_state(fault)[1])
        finally:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        return peak

    peak = run_fault(loop_kind, scenario, handler)
    assert peak <= 2 << 20, f"server held {peak} bytes of responses nobody reads"


# -- many connections -------------------------------------------------------------------------

CLIENT = r"""
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, count, batch = map(int, sys.argv[1:4])

class Client(asyncio.Protocol):
    def __init__(self, done):
        self.done, self.data = done, b""
    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"GET /many HTTP/1.1\r\nHost: x\r\n\r\n")
    def data_received(self, data):
        self.data += data
        if self.data.endswith(b"\r\n\r\n1") or self.data.endswith(b"\r\n\r\n0"):
            if not self.done.done():
                self.done.set_result(self.data.startswith(b"HTTP/1.1 200 OK"))
    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(False)

async def main():
    loop = asyncio.get_running_loop()
    clients, ok = [], 0
    for start in range(0, count, batch):
        dones = [loop.create_future() for _ in range(min(batch, count - start))]
        # Spread the source addresses: no shortage of ephemeral ports or TIME_WAIT.
        made = await asyncio.gather(*(
            loop.create_connection(lambda d=d: Client(d), "127.0.0.1", port,
                                   local_addr=("127.0.%d.%d" % (1 + i // 250, 2 + i % 250), 0))
            for i, d in zip(range(start, start + len(dones)), dones)))
        clients += [t for t, _ in made]
        ok += sum(await asyncio.gather(*dones))
    print("READY", ok, flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    for transport in clients:
        transport.close()
    await asyncio.sleep(0.5)
    print("CLOSED", flush=True)

asyncio.run(main())
"""


def test_ten_thousand_concurrent_connections(loop_kind: str) -> None:
    count = 10_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < count + 500:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {count + 500}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def handler(reqd: Reqd) -> None:
        reqd.respond_with_string(Response(200), b"1")

    async def scenario(fault: Fault) -> int:
        # The clients live in a child process: 10,000 fds on each side would not fit
        # under one process's limit.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT, str(fault.port), str(count), "500",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            assert line == b"READY %d\n" % count, line
            open_now = fault.server.connection_count
            proc.stdin.write(b"close\n")
            await proc.stdin.drain()
            assert await asyncio.wait_for(proc.stdout.readline(), 60) == b"CLOSED\n"
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await fault.wait_for(lambda: fault.server.connection_count == 0,
                             "10,000 connections to close", seconds=60)
        return open_now

    try:
        assert run_fault(loop_kind, scenario, lambda r: app(r) if r.request.target == "/health"
                         else handler(r), limit=240) == count
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- garbage --------------------------------------------------------------------------------


def test_garbage_after_a_keep_alive_request(loop_kind: str) -> None:
    seen: list[str] = []

    def handler(reqd: Reqd) -> None:
        seen.append(reqd.request.target)
        app(reqd)

    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        writer.write(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\x00\xa5garbage\r\n\r\n"
                     b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await read_all(reader)
        writer.close()
        return data

    data = run_fault(loop_kind, scenario, handler)
    first, _, rest = data.partition(b"\r\n\r\n0")
    assert first.startswith(b"HTTP/1.1 200 OK") and b"/first" in first
    assert rest.startswith(b"HTTP/1.1 400 Bad Request"), rest
    assert seen == ["/first", "/health"]


def test_garbage_instead_of_a_request(loop_kind: str) -> None:
    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        writer.write(bytes(range(256)) * 64)
        data = await read_all(reader)
        writer.close()
        return data

    data = run_fault(loop_kind, scenario)
    assert data.startswith(b"HTTP/1.1 400 Bad Request"), data[:100]


# -- timeouts (Config fields added by the runtime) ------------------------------------------

CONFIG_FIELDS = {f.name for f in fields(Config)}
TIMEOUTS = {"keep_alive_timeout", "head_timeout", "body_timeout"}
needs_timeouts = pytest.mark.skipif(
    not TIMEOUTS <= CONFIG_FIELDS, reason="Config has no keep_alive/head/body timeouts yet"
)


async def dribble(writer: asyncio.StreamWriter, data: bytes, reader: asyncio.StreamReader,
                  interval: float = 0.05) -> bytes:
    """Send ``data`` a byte at a time until the server answers or closes; what it sent."""
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        with contextlib.suppress(asyncio.TimeoutError):
            answer = await asyncio.wait_for(reader.read(65536), interval)
            return answer + await read_all(reader)
    return await read_all(reader)


@needs_timeouts
def test_slowloris_head_gets_408_and_close(loop_kind: str) -> None:
    config = Config(head_timeout=0.5, keep_alive_timeout=30.0)
    seen: list[str] = []

    def handler(reqd: Reqd) -> None:
        seen.append(reqd.request.target)
        app(reqd)

    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        # 400 bytes at one per 50 ms would take 20 s: far past the head timeout.
        head = b"GET /slow HTTP/1.1\r\nHost: x\r\n" + b"X-Drip: " + b"d" * 360 + b"\r\n\r\n"
        data = await dribble(writer, head, reader)
        writer.close()
        return data

    data = run_fault(loop_kind, scenario, handler, config=config)
    assert data == b"" or data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
    assert seen == ["/health"]


@needs_timeouts
def test_idle_connection_closed_after_keep_alive_timeout(loop_kind: str) -> None:
    config = Config(keep_alive_timeout=0.3)

    async def scenario(fault: Fault) -> tuple[bytes, bytes]:
        silent_reader, silent = await fault.connect()  # never sends a byte
        reader, writer = await fault.connect()
        writer.write(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = await read_response(reader)
        after = await read_all(reader)  # then nothing: the server closes, silently
        nothing = await read_all(silent_reader)
        writer.close()
        silent.close()
        return after, nothing

    assert run_fault(loop_kind, scenario, config=config) == (b"", b"")


@needs_timeouts
def test_client_that_never_sends_the_announced_body(loop_kind: str) -> None:
    config = Config(body_timeout=0.5, keep_alive_timeout=30.0)
    ends: list[str] = []

    def handler(reqd: Reqd) -> None:
        if reqd.request.target != "/upload":
            app(reqd)
            return
        body = reqd.body

        def on_read(data: memoryview) -> None:
            body.schedule_read(on_read, on_eof)

        def on_eof() -> None:
            ends.append("eof")
            with contextlib.suppress(Exception):  # the connection may be gone already
                reqd.respond_with_string(Response(200), "complete?")

        body.schedule_read(on_read, on_eof)

    async def scenario(fault: Fault) -> bytes:
        reader, writer = await fault.connect()
        writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"b" * 10)
        data = await read_all(reader)  # and never the other 990 bytes
        writer.close()
        return data

    data = run_fault(loop_kind, scenario, handler, config=config)
    assert b"complete?" not in data, data  # a cut body is never answered as complete


@needs_timeouts
def test_slow_but_steady_body_is_not_timed_out(loop_kind: str) -> None:
    """The body timeout is about progress: a byte every 50 ms keeps a 1 s timeout away."""
    config = Config(body_timeout=1.0, head_timeout=5.0, keep_alive_timeout=30.0)

    async def scenario(fault: Fault) -> tuple[bytes, bytes]:
        reader, writer = await fault.connect()
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n")
        for _ in range(40):  # 2 s in all: twice the timeout
            writer.write(b"z")
            await asyncio.sleep(0.05)
        head, body = await read_response(reader)
        writer.close()
        return head.split(b"\r\n")[0], body

    assert run_fault(loop_kind, scenario, config=config) == (b"HTTP/1.1 200 OK", b"40")
