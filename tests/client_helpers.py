"""Servers for the client tests: our own, a scripted raw one that misbehaves on cue,
a forward/tunnel proxy, and TLS certificates (trustme)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from httpaf import Headers, Reqd
from httpaf import Response as Head
from httpaf.asyncio import serve

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run(coro: Awaitable[Any], timeout: float = 60) -> Any:
    """Run ``coro`` on a fresh loop, bounded in time."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def echo_handler(reqd: Reqd) -> None:
    """Answers with the request body; ``/trailers`` streams with a trailer, ``/big/N``
    sends N bytes, ``/status/N`` answers N, ``/headers`` echoes the request head."""
    pieces: list[bytes] = []
    target = reqd.request.target

    def on_read(data: memoryview) -> None:
        pieces.append(bytes(data))
        reqd.body.schedule_read(on_read, on_eof)

    def on_eof() -> None:
        body = b"".join(pieces)
        if target == "/trailers":
            writer = reqd.respond_with_streaming(Head(200, [("Transfer-Encoding", "chunked")]))
            writer.write(b"part one, ")
            writer.write(b"part two")
            writer.close(Headers([("X-Sum", "42")]))
        elif target.startswith("/big/"):
            size = int(target.rsplit("/", 1)[1])
            reqd.respond_with_bytes(Head(200), b"x" * size)
        elif target.startswith("/status/"):
            reqd.respond_with_string(Head(int(target.rsplit("/", 1)[1])), b"")
        elif target == "/headers":
            text = "\n".join(f"{n}: {v}" for n, v in reqd.request.headers.to_list())
            reqd.respond_with_string(Head(200), f"{reqd.request.method} {target}\n{text}")
        else:
            trailers = reqd.body.trailers
            extra = [("X-Trailers", repr(trailers.to_list()))] if trailers else []
            reqd.respond_with_string(Head(200, [("X-Method", str(reqd.request.method)), *extra]),
                                     body)

    reqd.body.schedule_read(on_read, on_eof)


@contextlib.asynccontextmanager
async def our_server(**kwargs: Any) -> AsyncIterator[str]:
    """Our server with :func:`echo_handler`; yields its base URL."""
    async with await serve(echo_handler, "127.0.0.1", 0, **kwargs) as server:
        scheme = "https" if kwargs.get("ssl") else "http"
        yield f"{scheme}://127.0.0.1:{server.port}"


class RawServer:
    """A TCP server running ``script(reader, writer)`` per connection (misbehaving on
    purpose); counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self.script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):  # scripts still running (sleeping, say) end now
            task.cancel()
        await asyncio.sleep(0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """A request head (through its blank line)."""
    return await reader.readuntil(b"\r\n\r\n")


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """A request head and its Content-Length body."""
    head = await read_head(reader)
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head, body


def ok(body: bytes = b"ok", *fields: bytes) -> bytes:
    extra = b"".join(f + b"\r\n" for f in fields)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


class Certs:
    """A CA, a server certificate for 127.0.0.1 and localhost, and contexts."""

    def __init__(self) -> None:
        import trustme

        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost", "example.test")
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(self.server)
        self.server.set_alpn_protocols(["http/1.1"])
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)


class Proxy:
    """A forward proxy for ``http`` (absolute-form requests) and a ``CONNECT`` tunnel;
    records what it saw. Requests are relayed on a new upstream connection each."""

    def __init__(self, require_auth: str | None = None) -> None:
        self.require_auth = require_auth
        self.seen: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            while True:
                head = await read_head(reader)
                self.seen.append(head)
                line = head.split(b"\r\n", 1)[0]
                method, target, _ = line.split(b" ")
                if self.require_auth and f"Proxy-Authorization: {self.require_auth}".encode() \
                        not in head:
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                if method == b"CONNECT":
                    host, _, port = target.decode().rpartition(":")
                    up_reader, up_writer = await asyncio.open_connection(host, int(port))
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await writer.drain()
                    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                    return
                # Forwarding: relay one request (absolute form) to its origin.
                rest = target.split(b"://", 1)[1]
                authority, _, path = rest.partition(b"/")
                host, _, port = authority.decode().partition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
                length = 0
                for field in head.split(b"\r\n")[1:]:
                    if field.lower().startswith(b"content-length:"):
                        length = int(field.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                up_writer.write(head.replace(target, b"/" + path, 1) + body)
                await up_writer.drain()
                resp_head = await read_head(up_reader)
                clen = 0
                for field in resp_head.split(b"\r\n")[1:]:
                    if field.lower().startswith(b"content-length:"):
                        clen = int(field.split(b":")[1])
                writer.write(resp_head + await up_reader.readexactly(clen))
                await writer.drain()
                up_writer.close()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def __aenter__(self) -> Proxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.sleep(0)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Nginx:
    """nginx (Debian's package) serving ``files`` (name -> bytes) from a temporary root,
    ``/post`` answering any method with a small JSON body; started and stopped here
    (its master process, by PID). ``Nginx.available()`` says whether it is installed."""

    def __init__(self, files: dict[str, bytes], workers: int = 1) -> None:
        self.files = files
        self.workers = workers
        self.port = 0
        self._proc: Any = None
        self._tmp: Any = None

    @staticmethod
    def available() -> bool:
        import shutil

        return shutil.which("nginx") is not None or os.path.exists("/usr/sbin/nginx")

    def __enter__(self) -> Nginx:
        import socket as _socket
        import subprocess
        import tempfile
        import time

        self._tmp = tempfile.TemporaryDirectory()
        root = self._tmp.name
        os.chmod(root, 0o755)  # nginx's workers may run as another user
        os.makedirs(os.path.join(root, "www"))
        for name, data in self.files.items():
            with open(os.path.join(root, "www", name), "wb") as f:
                f.write(data)
        probe = _socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        conf = os.path.join(root, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
daemon off;
master_process on;
worker_processes {self.workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {{
        listen 127.0.0.1:{self.port};
        root {root}/www;
        location /post {{ default_type application/json; return 200 '{{"ok":true}}'; }}
    }}
}}
""")
        binary = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"
        self._proc = subprocess.Popen([binary, "-c", conf, "-p", root, "-e",
                                       os.path.join(root, "error.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                _socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()  # the master we started, by its PID
            try:
                self._proc.wait(10)
            except Exception:
                self._proc.kill()
                self._proc.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
