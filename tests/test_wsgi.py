"""httpaf.wsgi over real sockets: a Flask application and PEP 3333 details."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import select
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from httpaf.asyncio import new_event_loop
from httpaf.wsgi import serve

from helpers import LOOPS

APPS = Path(__file__).resolve().parent / "apps"


@contextmanager
def wsgi_server(app: Any, loop_kind: str = "asyncio", **options: Any) -> Iterator[str]:
    """Serve ``app`` with httpaf.wsgi.serve in a background loop; yield its base URL."""
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def runner() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            try:
                server = await serve(app, "127.0.0.1", 0, **options)
            except BaseException as error:
                holder["error"] = error
                ready.set()
                return
            holder["server"] = server
            holder["stop"] = stop = asyncio.Event()
            ready.set()
            await stop.wait()
            await server.shutdown(2)

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    assert ready.wait(10)
    if "error" in holder:
        raise holder["error"]
    try:
        yield f"http://127.0.0.1:{holder['server'].port}"
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        assert not thread.is_alive()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# Bytes read past a response, per socket.
_PENDING: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_response(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """Read one response with a Content-Length body from ``sock``.

    Bytes of the responses after it (pipelining) are kept for the next call.
    """
    data = _PENDING.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    length = int(fields["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    if len(rest) > length:
        _PENDING[sock] = rest[length:]
    return lines[0].encode(), fields, rest[:length]


def read_until_close(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


# -- Flask ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flask_app() -> Any:
    pytest.importorskip("flask")
    sys.path.insert(0, str(APPS))
    try:
        import flask_app
    finally:
        sys.path.remove(str(APPS))
    return flask_app


@pytest.fixture(params=LOOPS)
def flask_url(request: pytest.FixtureRequest, flask_app: Any) -> Iterator[str]:
    with wsgi_server(flask_app.app, request.param) as url:
        yield url


def test_flask_routes_and_json(flask_url: str) -> None:
    with httpx.Client(base_url=flask_url) as client:
        r = client.get("/")
        assert r.status_code == 200
        assert r.text == "hello from flask"
        assert r.headers["server"] == "httpaf"
        assert "date" in r.headers
        assert client.get("/json").json() == {"ok": True, "items": [1, 2, 3], "name": "flask"}
        r = client.get("/items/42", params=[("q", "a b"), ("tag", "x"), ("tag", "y")])
        assert r.json() == {"id": 42, "q": "a b", "tags": ["x", "y"]}
        assert client.get("/items/nope").status_code == 404
        r = client.post("/json", json={"a": [1, "é"]})
        assert r.json() == {"received": {"a": [1, "é"]}, "type": "application/json"}


def test_flask_form_and_file_upload(flask_url: str) -> None:
    payload = os.urandom(100_000)
    r = httpx.post(
        f"{flask_url}/form",
        data={"name": "ada", "lang": "ocaml"},
        files={"doc": ("doc.bin", payload, "application/octet-stream")},
    )
    assert r.status_code == 200
    assert r.json() == {
        "form": {"name": "ada", "lang": "ocaml"},
        "files": {"doc": {"filename": "doc.bin", "size": len(payload)}},
    }


@pytest.mark.parametrize("chunked", [False, True])
def test_flask_streamed_upload(flask_url: str, chunked: bool) -> None:
    pieces = [os.urandom(50_000) for _ in range(40)]  # 2 MB
    whole = b"".join(pieces)
    content: Any = iter(pieces) if chunked else whole
    r = httpx.post(f"{flask_url}/upload", content=content)
    assert r.status_code == 200
    assert r.json() == {
        "size": len(whole),
        "sha256": hashlib.sha256(whole).hexdigest(),
        "chunked": "chunked" if chunked else None,
    }


def test_flask_streaming_response_is_chunked(flask_url: str) -> None:
    with httpx.Client() as client, client.stream("GET", f"{flask_url}/stream?n=100") as r:
        assert r.status_code == 200
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        text = "".join(r.iter_text())
    assert text == "".join(f"line {i}\n" for i in range(100))


def test_flask_download_uses_sendfile(
    flask_url: str, flask_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = os.sendfile

    def counting(*args: Any) -> int:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(os, "sendfile", counting)
    r = httpx.get(f"{flask_url}/download")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(flask_app.DATA))
    assert r.content == flask_app.DATA
    assert calls, "the file went out without os.sendfile"
    # HEAD: the length, no body
    r = httpx.head(f"{flask_url}/download")
    assert r.headers["content-length"] == str(len(flask_app.DATA))
    assert r.content == b""


def test_flask_error_is_500_and_the_connection_goes_on(flask_url: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(flask_url)), timeout=10) as sock:
        sock.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        status, fields, body = read_response(sock)
        assert status.startswith(b"HTTP/1.1 500")
        assert body == b"Internal Server Error\n"
        assert fields.get("connection") != "close"
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = read_response(sock)
        assert status == b"HTTP/1.1 200 OK"
        assert body == b"hello from flask"


def test_flask_keep_alive_and_pipelining(flask_url: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(flask_url)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(3):
            assert read_response(sock)[2] == b"hello from flask"
        assert json.loads(read_response(sock)[2])["name"] == "flask"


# -- environ ----------------------------------------------------------------------------


def environ_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Answer the environ's str values (and the body) as JSON."""
    body = environ["wsgi.input"].read()
    document = {k: v for k, v in environ.items() if isinstance(v, str)}
    document["body"] = body.decode("latin-1")
    document["wsgi.version"] = list(environ["wsgi.version"])
    document["multithread"] = environ["wsgi.multithread"]
    document["input_terminated"] = environ["wsgi.input_terminated"]
    data = json.dumps(document).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


def raw_request(url: str, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return read_until_close(sock)


def test_environ_is_complete() -> None:
    with wsgi_server(environ_app, root_path="/api") as url:
        r = httpx.post(
            f"{url}/api/caf%C3%A9/x%2Fy?a=1&b=%20",
            content=b"hello",
            headers=[("X-Dup", "one"), ("X-Dup", "two"), ("Content-Type", "text/x"),
                     ("Cookie", "a=1"), ("Cookie", "b=2")],
        )
        env = r.json()
    port = str(port_of(url))
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == "/api"
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9/x/y"  # UTF-8 bytes as latin-1
    assert env["QUERY_STRING"] == "a=1&b=%20"
    assert env["RAW_URI"] == "/api/caf%C3%A9/x%2Fy?a=1&b=%20"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == port
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"].isdigit()
    assert env["CONTENT_TYPE"] == "text/x"
    assert env["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["HTTP_X_DUP"] == "one, two"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert env["HTTP_HOST"] == f"127.0.0.1:{port}"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    assert env["multithread"] is True
    assert env["input_terminated"] is True
    assert env["body"] == "hello"


def test_environ_outside_root_path_and_http10() -> None:
    with wsgi_server(environ_app, root_path="/api") as url:
        raw = raw_request(url, b"GET /apiary HTTP/1.0\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    env = json.loads(body)
    assert env["SCRIPT_NAME"] == "/api"
    assert env["PATH_INFO"] == "/apiary"  # not under /api/
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert "CONTENT_LENGTH" not in env


def test_header_names_with_underscores_are_refused_or_dropped() -> None:
    with wsgi_server(environ_app) as url:
        r = httpx.get(url, headers={"X_Forwarded_For": "1.2.3.4"})
        assert r.status_code == 400
        assert httpx.get(url, headers={"X-Forwarded-For": "1.2.3.4"}).status_code == 200
    with wsgi_server(environ_app, header_underscores="drop") as url:
        env = httpx.get(url, headers={"X_Thing": "smuggled", "X-Thing": "real"}).json()
        assert env["HTTP_X_THING"] == "real"


def test_proxy_headers_only_from_trusted_peers() -> None:
    headers = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1", "X-Forwarded-Proto": "https"}
    with wsgi_server(environ_app, forwarded_allow_ips="127.0.0.1,10.0.0.0/8") as url:
        env = httpx.get(url, headers=headers).json()
        assert env["REMOTE_ADDR"] == "203.0.113.7"
        assert env["wsgi.url_scheme"] == "https"
    with wsgi_server(environ_app, forwarded_allow_ips="192.0.2.1") as url:
        env = httpx.get(url, headers=headers).json()
        assert env["REMOTE_ADDR"] == "127.0.0.1"
        assert env["wsgi.url_scheme"] == "http"
    with wsgi_server(environ_app, proxy_headers=False, forwarded_allow_ips="*") as url:
        env = httpx.get(url, headers=headers).json()
        assert env["REMOTE_ADDR"] == "127.0.0.1"


# -- wsgi.input -----------------------------------------------------------------------------


def lines_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    stream = environ["wsgi.input"]
    first = stream.readline()
    limited = stream.readline(3)
    rest = list(stream)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps([first.decode(), limited.decode(), [x.decode() for x in rest]]).encode()]


def test_input_readline_and_iteration() -> None:
    with wsgi_server(lines_app) as url:
        body = b"first line\nsecond line\nthird\nlast"
        r = httpx.post(url, content=iter([body[:7], body[7:20], body[20:]]))
        assert r.json() == ["first line\n", "sec", ["ond line\n", "third\n", "last"]]


def test_request_body_backpressure_and_100_continue() -> None:
    """The body is read only as the application asks for it."""
    entered = threading.Event()
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        entered.set()
        release.wait(30)
        stream = environ["wsgi.input"]
        total = 0
        while piece := stream.read(100_000):
            total += len(piece)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(total).encode()]

    size = 256 * 1024 * 1024
    with wsgi_server(app) as url:
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                + f"Content-Length: {size}\r\n\r\n".encode()
            )
            assert entered.wait(10)
            # The application has not read: no 100 Continue, and the body is not
            # taken in beyond the socket buffers and one high-water mark.
            sock.setblocking(False)
            sent = 0
            block = b"x" * 65536
            while True:
                _, writable, _ = select.select([], [sock], [], 0.5)
                if not writable:
                    break
                try:
                    sent += sock.send(block)
                except BlockingIOError:
                    continue
            assert sent < size // 4
            readable, _, _ = select.select([sock], [], [], 0)
            assert not readable, "something was sent before the application read"
            release.set()
            sock.setblocking(True)
            first = sock.recv(25)
            assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
            remaining = size - sent
            while remaining:
                remaining -= sock.send(block[: min(remaining, len(block))])
            status, _, body = read_response(sock)
            assert status == b"HTTP/1.1 200 OK"
            assert body == str(size).encode()


def test_unread_body_is_discarded_and_the_connection_goes_on() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    with wsgi_server(app) as url:
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
            body = b"z" * 300_000
            sock.sendall(
                b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + body
                + b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            assert read_response(sock)[2] == b"/first"
            assert read_response(sock)[2] == b"/second"


# -- responses ------------------------------------------------------------------------------


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_response_flow_control(loop_kind: str) -> None:
    """The iterable is consumed no faster than the client reads."""
    produced = [0]
    closed = threading.Event()
    total = 128 * 1024 * 1024
    block = b"y" * 65536

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            for _ in range(total // len(block)):
                produced[0] += len(block)
                yield block

        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Body:
        start_response("200 OK", [("Content-Length", str(total))])
        return Body()

    with wsgi_server(app, loop_kind) as url:
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            last = -1
            for _ in range(100):  # wait until production stops
                if produced[0] == last:
                    break
                last = produced[0]
                time.sleep(0.2)
            assert produced[0] < total // 4
            assert not closed.is_set()
            received = 0
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            received = len(head.partition(b"\r\n\r\n")[2])
            while received < total:
                chunk = sock.recv(1 << 20)
                assert chunk
                received += len(chunk)
            assert received == total
    assert closed.wait(5)


def test_close_is_called_when_the_client_goes_away() -> None:
    closed = threading.Event()
    started = threading.Event()

    class Endless:
        def __iter__(self) -> Iterator[bytes]:
            started.set()
            while True:
                yield b"tick\n" * 1000

        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Endless:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Endless()

    with wsgi_server(app) as url:
        sock = socket.create_connection(("127.0.0.1", port_of(url)), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
        assert started.wait(5)
        sock.close()
        assert closed.wait(10)


def test_error_after_the_response_started_cuts_the_connection() -> None:
    closed = threading.Event()

    class Broken:
        def __iter__(self) -> Iterator[bytes]:
            yield b"partial"
            raise RuntimeError("broken mid-body")

        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Broken:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Broken()

    with wsgi_server(app) as url:
        raw = raw_request(url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert b"partial" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # no last chunk: visibly truncated
    assert closed.wait(5)


def test_start_response_exc_info() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        path = environ["PATH_INFO"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        if path == "/before":
            try:
                raise ValueError("oops")
            except ValueError:
                start_response("503 Busy", [("Content-Type", "text/plain")], sys.exc_info())
            return iter([b"replaced"])
        if path == "/twice":
            start_response("200 OK", [])
            return iter([b"never"])

        def body() -> Iterator[bytes]:
            yield b"started"
            try:
                raise KeyError("late")
            except KeyError:
                start_response("500 Oops", [], sys.exc_info())  # re-raises
            yield b"never"

        return body()

    with wsgi_server(app) as url:
        r = httpx.get(f"{url}/before")
        assert (r.status_code, r.reason_phrase, r.text) == (503, "Busy", "replaced")
        r = httpx.get(f"{url}/twice")  # start_response twice without exc_info: a 500
        assert r.status_code == 500
        raw = raw_request(url, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK") and b"started" in raw
        assert not raw.endswith(b"0\r\n\r\n")


def test_content_length_is_respected() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        path = environ["PATH_INFO"]
        if path == "/long":
            start_response("200 OK", [("Content-Length", "5")])
            return iter([b"abc", b"defgh"])
        if path == "/short":
            start_response("200 OK", [("Content-Length", "10")])
            return iter([b"abc"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"no", b"length"])

    with wsgi_server(app) as url:
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
            sock.sendall(b"GET /long HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock)[2] == b"abcde"  # cut at the declared length
            sock.sendall(b"GET /long HTTP/1.1\r\nHost: x\r\n\r\n")  # still usable
            assert read_response(sock)[2] == b"abcde"
        raw = raw_request(url, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK") and raw.endswith(b"\r\n\r\nabc")  # then closed
        raw = raw_request(url, b"GET /none HTTP/1.0\r\n\r\n")  # 1.0: close-delimited
        head, _, body = raw.partition(b"\r\n\r\n")
        assert b"chunked" not in head.lower() and b"content-length" not in head.lower()
        assert body == b"nolength"
        raw = raw_request(url, b"GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"transfer-encoding: chunked" in raw.lower()
        assert raw.endswith(b"2\r\nno\r\n6\r\nlength\r\n0\r\n\r\n")


def test_file_wrapper_fallbacks_and_head(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    closed = []

    class Tracked(io.BytesIO):
        def close(self) -> None:
            closed.append(True)
            super().close()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        wrapper = environ["wsgi.file_wrapper"]
        if environ["PATH_INFO"] == "/memory":
            start_response("200 OK", [])
            return wrapper(Tracked(data), 4096)
        f = open(path, "rb")  # noqa: SIM115 - closed by the server through the wrapper
        if environ["PATH_INFO"] == "/offset":
            f.seek(1000)
            start_response("200 OK", [("Content-Length", "5000")])
        else:
            start_response("200 OK", [])
        return wrapper(f)

    for loop_kind in LOOPS:
        with wsgi_server(app, loop_kind) as url, httpx.Client(base_url=url) as client:
            r = client.get("/file")
            assert r.content == data and r.headers["content-length"] == str(len(data))
            r = client.get("/offset")
            assert r.content == data[1000:6000]
            r = client.get("/memory")
            assert r.content == data
            r = client.head("/file")
            assert r.content == b"" and r.headers["content-length"] == str(len(data))
            assert client.get("/file").content == data  # the connection is still good
    assert len(closed) == 2


def test_thread_pool_is_bounded_and_limit_concurrency() -> None:
    lock = threading.Lock()
    inside = [0]
    most = [0]
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        release.wait(30)
        with lock:
            inside[0] -= 1
        start_response("200 OK", [])
        return [b"ok"]

    with wsgi_server(app, threads=2, limit_concurrency=4) as url:
        results: list[int] = []

        def call() -> None:
            results.append(httpx.get(url, timeout=30).status_code)

        callers = [threading.Thread(target=call) for _ in range(4)]
        for caller in callers:
            caller.start()
        for _ in range(100):
            if inside[0] == 2:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        assert inside[0] == 2  # two threads, the other two requests wait in line
        assert httpx.get(url).status_code == 503  # a fifth is over the limit
        release.set()
        for caller in callers:
            caller.join(30)
    assert results == [200] * 4
    assert most[0] == 2


def test_invalid_response_heads_become_500() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/crlf":
            start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: x=1")])
        elif path == "/name":
            start_response("200 OK", [("Bad Name", "v")])
        elif path == "/status":
            start_response("OK", [])
        else:
            start_response("200 OK", [])
        return [b"fine"]

    with wsgi_server(app) as url, httpx.Client(base_url=url) as client:
        for path in ("/crlf", "/name", "/status"):
            r = client.get(path)
            assert r.status_code == 500, path
            assert "set-cookie" not in r.headers
        assert client.get("/").text == "fine"


def test_input_stream_matches_a_file_whatever_the_pieces() -> None:
    """read/readline/read1/iteration give what a file would, for any piece boundaries."""
    import random

    from httpaf.wsgi import InputStream

    class Pieces:
        def __init__(self, pieces: list[bytes]) -> None:
            self.pieces = pieces

        def next_body_piece(self) -> bytes | None:
            return self.pieces.pop(0) if self.pieces else None

    rng = random.Random(1234)
    data = b"ab\ncdefg\n\nhij\nklmnopqrstu\nvw"
    for _ in range(500):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(0, 8)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        stream = InputStream(Pieces(pieces))  # type: ignore[arg-type]
        reference = io.BytesIO(data)
        for _ in range(20):
            op = rng.choice(["read", "readline", "read1", "readall"])
            n = rng.choice([-1, 0, 1, 2, 3, 5, 8, 20])
            if op == "read":
                assert stream.read(n) == reference.read(n)
            elif op == "readline":
                assert stream.readline(n) == reference.readline(n)
            elif op == "read1":
                got = stream.read1(n)
                assert got == reference.read(len(got))
                if n != 0 and not got:
                    assert reference.read(1) == b""
            else:
                assert stream.read() == reference.read()
        assert list(stream) == list(reference)
