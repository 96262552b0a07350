"""The blocking runtime (``httpaf.sync``) over real sockets: the same ClientConnection
as the asyncio client, with the client test servers of ``helpers`` run on a loop thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from httpaf import Config
from httpaf.asyncio import serve
from httpaf.net import (
    ConnectError,
    ConnectTimeout,
    Limits,
    PoolTimeout,
    ReadTimeout,
    RemoteProtocolError,
    StreamClosed,
    Timeout,
    WriteTimeout,
)
from httpaf.sync import SyncSession

from helpers import (
    Certs,
    Proxy,
    RawServer,
    client_test_handler,
    ok,
    read_head,
    read_request,
)


class LoopThread:
    """An event loop on a thread, to run the helper servers for blocking clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    @contextlib.contextmanager
    def entered(self, manager: Any) -> Iterator[Any]:
        value = self.call(manager.__aenter__())
        try:
            yield value
        finally:
            self.call(manager.__aexit__(None, None, None))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def base(loop: LoopThread) -> Iterator[str]:
    server = loop.call(serve(client_test_handler, "127.0.0.1", 0))
    yield f"http://127.0.0.1:{server.port}"
    loop.call(server.shutdown(1.0))


def test_requests_and_keep_alive(base: str) -> None:
    session = SyncSession()
    response = session.request("GET", base + "/x")
    assert response.status == 200 and response.read() == b""
    posted = session.request("POST", base + "/p", content=b"data" * 10000)
    assert posted.read() == b"data" * 10000
    streamed = session.request("POST", base + "/s", content=iter([b"a", b"b"]),
                               trailers={"X-T": "1"})
    assert streamed.read() == b"ab" and streamed.headers["x-trailers"] == "[('X-T', '1')]"
    trailers = session.request("GET", base + "/trailers")
    assert trailers.read() == b"part one, part two" and trailers.trailers["x-sum"] == "42"
    big = session.request("GET", base + "/big/3000000")
    assert sum(len(piece) for piece in big.iter_bytes()) == 3_000_000
    assert session.pool.connections == 1
    session.close()


def test_read_after_pieces_were_taken_is_refused(base: str) -> None:
    """``read()`` gives the whole body or nothing: once iteration took pieces it
    would give only the rest, so it refuses."""
    session = SyncSession()
    response = session.request("GET", base + "/big/2000000")
    assert next(iter(response.iter_bytes()))
    with pytest.raises(StreamClosed, match="part of the body"):
        response.read()
    response.close()
    whole = session.request("GET", base + "/big/2000000")
    assert len(whole.read()) == 2_000_000 and len(whole.read()) == 2_000_000
    session.close()


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_bytes_held_back_by_backpressure_are_parsed_when_the_body_is_read(
        loop: LoopThread, framing: str) -> None:
    """The whole response comes in one read, more than the body reader holds
    (``body_buffer_high_water``): the connection parses up to that and leaves the rest
    in the read buffer. Reading the body parses it from there, without waiting on the
    socket for bytes that came already (the server sends nothing more)."""
    piece = b"c" * 1000
    if framing == "chunked":
        answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + (b"3e8\r\n" + piece + b"\r\n") * 20 + b"0\r\n\r\n")
    else:
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + piece * 20

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(10)  # keeps the connection open, says nothing more

    session = SyncSession(config=Config(body_buffer_high_water=1000), timeout=Timeout(3.0))
    with loop.entered(RawServer(script)) as server:
        assert session.request("GET", server.url).read() == piece * 20


def test_a_response_dropped_unread_gives_its_connection_up(base: str) -> None:
    """Dropped before its body came (more than the buffers hold), a response closes
    its connection and frees its slot, so the only one the pool allows serves again."""
    session = SyncSession(limits=Limits(max_connections=1), timeout=Timeout(5.0, pool=1.0))
    response = session.request("GET", base + "/big/5000000")
    assert response.status == 200
    del response
    assert session.pool.connections == 0
    assert session.request("GET", base + "/x").read() == b""
    session.close()


def test_a_response_dropped_while_the_pool_is_locked_is_given_up_later(base: str) -> None:
    """A finalizer can run in the middle of the pool's own work, on the thread that
    holds its lock: it must not wait for that lock (a deadlock), so the connection is
    queued and dropped by the next request instead."""
    session = SyncSession(limits=Limits(max_connections=1), timeout=Timeout(5.0, pool=1.0))
    response = session.request("GET", base + "/big/5000000")
    with session.pool._lock:  # as if collected inside the pool's work
        del response
        assert session.pool.connections == 1
    assert session.request("GET", base + "/x").read() == b""
    assert session.pool.connections == 1
    session.close()


def test_a_thread_waiting_for_the_slot_of_a_given_up_connection_gets_it(base: str) -> None:
    """A connection given up while the pool's lock was taken (queued: no wakeup)
    frees its slot for a thread already waiting, even one without a pool timeout."""
    session = SyncSession(limits=Limits(max_connections=1), timeout=Timeout(5.0, pool=None))
    response = session.request("GET", base + "/big/5000000")
    got: list[bytes] = []
    waiter = threading.Thread(
        target=lambda: got.append(session.request("GET", base + "/x").read()), daemon=True)
    waiter.start()
    time.sleep(0.2)  # the thread waits for the only connection
    with session.pool._lock:  # as if another thread were inside the pool
        del response
    waiter.join(10)
    assert got == [b""]
    session.close()


class ThreadServer:
    """A blocking socket server: ``script(sock, number)`` per connection, on threads."""

    def __init__(self, script: Callable[[socket.socket, int], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.connections = 0
        self.script = script
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(sock, self.connections),
                             daemon=True).start()

    def _run(self, sock: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError), sock:
            self.script(sock, number)

    def close(self) -> None:
        self.listener.close()


def _head(sock: socket.socket, held: bytearray) -> bytes:
    """A request head from ``sock`` (bytes after it stay in ``held``)."""
    while b"\r\n\r\n" not in held:
        data = sock.recv(65536)
        if not data:
            raise OSError("closed")
        held += data
    head, _, rest = bytes(held).partition(b"\r\n\r\n")
    held[:] = rest
    return head


def _body(sock: socket.socket, head: bytes, held: bytearray) -> None:
    match = re.search(rb"(?i)content-length: *(\d+)", head)
    left = int(match.group(1)) if match else 0
    while len(held) < left:
        held += sock.recv(1 << 20)
    del held[:left]


def _drop(sock: socket.socket, reset: bool) -> None:
    if reset:  # an RST instead of a FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize(("method", "content"), [("GET", None), ("PUT", b"x" * 20_000_000)],
                         ids=["get", "put-20mb"])
def test_a_reused_connection_dropped_under_a_request_sends_it_again(
        reset: bool, method: str, content: bytes | None) -> None:
    """The server drops its kept connection on the second request, before any byte of
    an answer, with a close or a reset, while the request is read or written: an
    idempotent request with a body that can be sent again goes once more on a new
    connection (a reset was a ReadError, a failed write a WriteError, neither sent
    again)."""

    def script(sock: socket.socket, number: int) -> None:
        held = bytearray()
        for count in (1, 2):
            head = _head(sock, held)
            if count == 2 and number == 1:
                _drop(sock, reset)  # (a large body: mostly unread, so a failed write)
                return
            _body(sock, head, held)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = ThreadServer(script)
    session = SyncSession(expect_continue_threshold=None)
    try:
        assert session.request(method, server.url, content=b"a" if content else None).read() == b"ok"
        assert session.request(method, server.url, content=content).read() == b"ok"
        assert server.connections == 2
    finally:
        session.close()
        server.close()


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "stream"])
def test_an_answer_and_close_in_the_middle_of_an_upload_is_the_response(
        streamed: bool) -> None:
    """RFC 9112 §9.5: a server may answer before the request's end and stop reading.
    The answer came before the failed write: it is the response (not a WriteError)."""

    def script(sock: socket.socket, number: int) -> None:
        _head(sock, bytearray())
        sock.sendall(b"HTTP/1.1 413 Too Large\r\nConnection: close\r\n"
                     b"Content-Length: 8\r\n\r\ntoo big!")
        _drop(sock, reset=False)  # the unread upload makes it a reset anyway

    def pieces() -> Iterator[bytes]:
        for _ in range(500):
            yield b"u" * 100_000

    server = ThreadServer(script)
    session = SyncSession(expect_continue_threshold=None)
    try:
        content: Any = pieces() if streamed else b"u" * 50_000_000
        response = session.request("POST", server.url, content=content)
        assert response.status == 413 and response.read() == b"too big!"
        assert session.pool.connections == 0
    finally:
        session.close()
        server.close()


def test_expect_continue(base: str) -> None:
    session = SyncSession(expect_continue_threshold=100)
    response = session.request("PUT", base + "/e", content=b"q" * 5000)
    assert response.read() == b"q" * 5000


def test_threads_share_the_pool_within_its_limit(base: str) -> None:
    session = SyncSession(limits=Limits(max_connections=4))
    seen: list[int] = []

    def worker() -> None:
        for i in range(50):
            response = session.request("GET", base + f"/{i}")
            response.read()
            seen.append(session.pool.connections)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 400 and max(seen) <= 4


def test_pool_timeout_and_closing_an_unread_response(base: str) -> None:
    session = SyncSession(limits=Limits(max_connections=1), timeout=Timeout(5.0, pool=0.1))
    held = session.request("GET", base + "/big/5000000")
    with pytest.raises(PoolTimeout):
        session.request("GET", base + "/x")
    held.close()
    assert session.request("GET", base + "/x").status == 200


def test_connect_error_and_timeouts(loop: LoopThread) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    session = SyncSession(timeout=Timeout(0.3))
    with pytest.raises(ConnectError):
        session.request("GET", f"http://127.0.0.1:{port}/")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    with loop.entered(RawServer(silent)) as server:
        with pytest.raises(ReadTimeout):
            session.request("GET", server.url)
        with pytest.raises(WriteTimeout):
            session.request("POST", server.url, content=b"x" * 50_000_000)
        with pytest.raises(ConnectTimeout):
            session.request("GET", server.url.replace("http:", "https:"))


@contextlib.contextmanager
def thread_server(tls: ssl.SSLContext | None,
                  script: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A one-connection server on a thread: it accepts (and completes TLS with
    ``tls``), then runs ``script(sock, done)``, ``done`` being set when the test is
    over; yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            sock, _ = listener.accept()
            held.append(tls.wrap_socket(sock, server_side=True) if tls else sock)
            script(held[0], done)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        thread.join(5)
        for sock in held:
            sock.close()


def never_answer(sock: socket.socket, done: threading.Event) -> None:
    done.wait(30)


def answer_without_continue(sock: socket.socket, done: threading.Event) -> None:
    """Read the request, body included, without ever sending 100 Continue; answer
    with the body's length."""
    got = b""
    while b"\r\n\r\n" not in got:
        got += sock.recv(65536)
    head, _, body = got.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    text = str(len(body)).encode()
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
    done.wait(30)


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
@pytest.mark.parametrize(
    ("timeout", "method", "content", "error"),
    [
        (Timeout(None, read=0.3), "GET", None, ReadTimeout),
        (Timeout(None, read=1e-7), "GET", None, ReadTimeout),
        (Timeout(None, write=0.3), "POST", b"x" * 50_000_000, WriteTimeout),
    ],
    ids=["read", "read-under-a-microsecond", "write-with-no-read-limit"],
)
def test_each_timeout_bounds_its_own_wait(tls: bool, timeout: Timeout, method: str,
                                          content: bytes | None,
                                          error: type[Exception]) -> None:
    """Against a server that never reads nor answers, the request fails with the
    timeout of the direction it waits in, the other one unset."""
    if tls:
        pytest.importorskip("trustme")
    certs = Certs() if tls else None
    session = SyncSession(timeout=timeout, ssl_context=certs.client if certs else None)
    with thread_server(certs.server if certs else None, never_answer) as url:
        with pytest.raises(error):
            session.request(method, url, content=content)
        assert session.pool.connections == 0


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_expect_continue_to_a_server_that_never_sends_100(tls: bool) -> None:
    """RFC 9110 §10.1.1: with no 100 Continue within its wait, the client sends the
    body anyway. Over TLS the wait must not take a session ticket for an answer and
    block on the response until the read timeout."""
    if tls:
        pytest.importorskip("trustme")
    certs = Certs() if tls else None
    session = SyncSession(expect_continue_threshold=100, timeout=Timeout(None, read=4.0),
                          ssl_context=certs.client if certs else None)
    with thread_server(certs.server if certs else None, answer_without_continue) as url:
        response = session.request("PUT", url, content=b"q" * 5000)
        assert response.read() == b"5000"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_RCVTIMEO path: Linux")
def test_plain_sockets_leave_timeouts_to_the_kernel(base: str) -> None:
    """On Linux a plain socket stays blocking and carries the read and write timeouts
    as SO_RCVTIMEO/SO_SNDTIMEO, so that each read or write is one system call."""
    sockets: list[socket.socket] = []

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            sockets.append(info["return_value"].get_extra_info("socket"))

    session = SyncSession(timeout=Timeout(5.0, read=2.5, write=1.5))
    assert session.request("GET", base + "/x", trace=trace).status == 200
    (sock,) = sockets
    assert sock.gettimeout() is None
    timeval = struct.Struct("ll")
    assert timeval.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                                          timeval.size)) == (2, 500_000)
    assert timeval.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                                          timeval.size)) == (1, 500_000)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         "both Transfer-Encoding and Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "unexpected end of input"),
        (b"garbage\r\n\r\n", "status line"),
    ],
    ids=["CL+TE", "short body", "garbage"],
)
def test_untrustworthy_answers(loop: LoopThread, answer: bytes, fragment: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    session = SyncSession()
    with loop.entered(RawServer(script)) as server:
        with pytest.raises(RemoteProtocolError, match=fragment):
            session.request("GET", server.url).read()
        assert session.pool.connections == 0


@pytest.mark.parametrize(("fields", "split"), [
    (30, False),  # a head of about 3 KB: fits the buffer
    (100, False),  # about 10 KB at once: bigger than the buffer, which grows
    (100, True),  # the same in pieces (the buffer is full with nothing parsed)
    (300, True),  # about 30 KB: the buffer grows twice
], ids=["fits", "bigger", "bigger-in-pieces", "much-bigger"])
def test_a_response_head_bigger_than_the_read_buffer(loop: LoopThread, fields: int,
                                                     split: bool) -> None:
    """The read buffer grows for a head that does not fit it (within
    ``max_head_size``), into a new buffer: the old one is lent out as views and
    cannot be resized. The connection goes on with the same buffer afterwards."""
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(
        b"X-Field-%d: %s\r\n" % (i, b"v" * 90) for i in range(fields)
    ) + b"Content-Length: 4\r\n\r\n"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for body in (b"one!", b"two!"):
            await read_request(reader)
            if split:
                for start in range(0, len(head), 1000):
                    writer.write(head[start:start + 1000])
                    await writer.drain()
                    await asyncio.sleep(0.001)
            else:
                writer.write(head)
            writer.write(body)
            await writer.drain()

    session = SyncSession(config=Config(read_buffer_size=4096))
    with loop.entered(RawServer(script)) as server:
        first = session.request("GET", server.url)
        assert first.read() == b"one!" and first.headers[f"x-field-{fields - 1}"] == "v" * 90
        assert len(first.headers.to_list()) == fields + 1
        assert session.request("GET", server.url).read() == b"two!"
        assert server.connections == 1


def test_retry_on_a_dropped_keep_alive_connection_and_idle_close(loop: LoopThread) -> None:
    count = [0]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count[0] += 1
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        await read_head(reader)
        writer.transport.abort()

    session = SyncSession()
    with loop.entered(RawServer(script)) as server:
        assert session.request("GET", server.url).read() == b"ok"
        assert session.request("GET", server.url).read() == b"ok"  # retried once
        assert count[0] == 2
        with pytest.raises(RemoteProtocolError):
            session.request("POST", server.url, content=b"x")  # not retried

    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"ok"))
        await writer.drain()
        writer.close()

    with loop.entered(RawServer(closing)) as server:
        assert session.request("GET", server.url).read() == b"ok"
        import time

        time.sleep(0.1)
        # The idle connection was closed by the server: seen before reuse.
        assert session.request("GET", server.url).read() == b"ok"
        assert server.connections == 2


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
@pytest.mark.parametrize("size", [10, 20_000, 3_000_000],
                         ids=["written", "scheduled", "scheduled-after-100-continue"])
def test_uploads_of_every_size(loop: LoopThread, tls: bool, size: int) -> None:
    """Small bodies are copied into the request's output, large ones scheduled as
    they are (vectored writes on plain sockets, one piece at a time on TLS)."""
    if tls:
        pytest.importorskip("trustme")
    certs = Certs() if tls else None
    server = loop.call(serve(client_test_handler, "127.0.0.1", 0,
                             ssl=certs.server if certs else None))
    try:
        session = SyncSession(ssl_context=certs.client if certs else None)
        body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
        url = f"{'https' if tls else 'http'}://127.0.0.1:{server.port}/e"
        assert session.request("PUT", url, content=body).read() == body
    finally:
        loop.call(server.shutdown(1.0))


def test_tls_and_proxies(loop: LoopThread) -> None:
    pytest.importorskip("trustme")
    certs = Certs()
    tls_server = loop.call(serve(client_test_handler, "127.0.0.1", 0, ssl=certs.server))
    tls_base = f"https://127.0.0.1:{tls_server.port}"
    plain_server = loop.call(serve(client_test_handler, "127.0.0.1", 0))
    plain_base = f"http://127.0.0.1:{plain_server.port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ca = os.path.join(tmp, "ca.pem")
            certs.ca.cert_pem.write_to_path(ca)
            session = SyncSession(verify=ca)
            assert session.request("GET", tls_base + "/x").status == 200
            with pytest.raises(ConnectError):
                SyncSession().request("GET", tls_base + "/x")
            with loop.entered(Proxy()) as proxy:
                proxied = SyncSession(verify=ca, proxy=proxy.url)
                tunnelled = proxied.request("GET", tls_base + "/headers")
                assert tunnelled.read().startswith(b"GET /headers")
                forwarded = proxied.request("GET", plain_base + "/headers")
                assert forwarded.read().startswith(b"GET /headers")
                assert proxy.seen[0].startswith(b"CONNECT 127.0.0.1:")
                assert proxy.seen[1].startswith(f"GET {plain_base}/headers".encode())
    finally:
        loop.call(tls_server.shutdown(1.0))
        loop.call(plain_server.shutdown(1.0))


def test_unix_socket(loop: LoopThread) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        server = loop.call(serve(client_test_handler, sock=sock))
        try:
            session = SyncSession(uds=path)
            response = session.request("GET", "http://anything/headers")
            assert response.read().startswith(b"GET /headers\nHost: anything")
        finally:
            loop.call(server.shutdown(1.0))


def test_plain_requests_sent_again_follow_the_default_headers(base: str) -> None:
    # As the asyncio client's: a bodiless request is prepared once and sent again as
    # it was, until the session's default headers change.
    session = SyncSession()
    try:
        url = base + "/headers"
        texts = [session.request("GET", url).read().decode() for _ in range(3)]
        assert texts[0] == texts[1] == texts[2] and "X-Later" not in texts[0]
        session.headers.append(("X-Later", "yes"))
        assert "X-Later: yes" in session.request("GET", url).read().decode()
        given = session.request("GET", url, headers=[("X-Given", "1")]).read().decode()
        assert "X-Given: 1" in given and "X-Later: yes" in given
    finally:
        session.close()


def test_a_body_all_in_is_taken_at_once_and_frees_the_connection(base: str) -> None:
    # A small body is all in with its head: read() and iteration hand it over without
    # another read, its end counts (the connection goes back to the pool), and a
    # response closed before its body was read still refuses to give it.
    session = SyncSession(release_early=False)
    try:
        url = base + "/p"
        response = session.request("POST", url, content=b"x" * 100)
        assert response.read() == b"x" * 100 and response.read() == b"x" * 100
        assert session.pool.idle_connections == 1
        pieces = list(session.request("POST", url, content=b"y" * 100).iter_bytes())
        assert pieces == [b"y" * 100] and session.pool.idle_connections == 1
        assert list(session.request("GET", base + "/x").iter_bytes()) == []
        assert session.pool.idle_connections == 1 and session.pool.connections == 1
        closed = session.request("POST", url, content=b"z")
        closed.close()
        with pytest.raises(StreamClosed):
            closed.read()
    finally:
        session.close()


def test_posts_of_one_length_share_a_head_and_carry_their_own_content(base: str) -> None:
    # As the asyncio client's: a head is kept per length of bytes content.
    session = SyncSession()
    try:
        fields = {"Content-Type": "text/plain"}
        for body in [b"a" * 10, b"b" * 10, b"c" * 11, b"d" * 10, b"", b"e" * 11]:
            assert session.request("POST", base + "/p", content=body, headers=fields).read() == body
            text = session.request("PUT", base + "/headers", content=body,
                                   headers=fields).read().decode()
            assert text.startswith("PUT /headers\n") and f"Content-Length: {len(body)}" in text
    finally:
        session.close()


def answer_each_after(delay: float) -> Callable[[socket.socket, threading.Event], None]:
    """A keep-alive server answering each bodiless request after ``delay`` seconds,
    with its request line as the body."""
    def script(sock: socket.socket, done: threading.Event) -> None:
        got = b""
        while not done.is_set():
            while b"\r\n\r\n" not in got:
                piece = sock.recv(65536)
                if not piece:
                    return
                got += piece
            head, _, got = got.partition(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0]
            done.wait(delay)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(line), line))
    return script


@pytest.mark.parametrize("busy_read", [None, 1e-6, 0.0001, 0.05],
                         ids=["off", "1us", "default", "50ms"])
@pytest.mark.parametrize("delay", [0.0, 0.02], ids=["at-once", "after-20ms"])
def test_busy_reads_take_every_answer_whatever_its_speed(busy_read: float | None,
                                                          delay: float) -> None:
    """Answers found within the busy window and answers that come after it (the
    blocking read takes them) alike, on one kept connection."""
    session = SyncSession(config=Config(busy_read=busy_read))
    with thread_server(None, answer_each_after(delay)) as url:
        for i in range(12):
            assert session.request("GET", f"{url}/{i}").read() == f"GET /{i} HTTP/1.1".encode()
        assert session.pool.connections == 1
        session.close()


def test_a_read_timeout_shorter_than_the_busy_window_is_kept() -> None:
    """The busy window does not stretch a shorter read timeout (one of 0.2 s with a
    window of a minute fails well within the minute)."""
    session = SyncSession(config=Config(busy_read=60.0), timeout=Timeout(None, read=0.2))
    with thread_server(None, never_answer) as url:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            session.request("GET", url)
        assert time.monotonic() - started < 30  # (a guard against the minute, no timing)
        session.close()
