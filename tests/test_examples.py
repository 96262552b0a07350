"""The examples, run as programs and driven by curl, requests and raw sockets."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def start() -> Iterator:  # type: ignore[type-arg]
    """Start an example on a free port; yield its base URL; stop it at the end."""
    processes: list[subprocess.Popen[str]] = []

    def _start(name: str, *args: str) -> str:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / name), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"serving on (http://\S+)", line)
        assert match, f"no announce line, got {line!r}"
        return match.group(1)

    yield _start
    for process in processes:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        assert process.returncode in (0, -15), process.stdout.read() if process.stdout else ""


def raw(url: str, data: bytes) -> bytes:
    """Write ``data`` at once, read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_hello(start) -> None:  # type: ignore[no-untyped-def]
    url = start("hello.py")
    ok = requests.get(f"{url}/hello/world", timeout=5)
    assert (ok.status_code, ok.text, ok.headers["content-type"]) == (
        200,
        "Hello, world!\n",
        "text/plain",
    )
    assert requests.get(f"{url}/other", timeout=5).status_code == 404
    assert requests.post(f"{url}/hello/world", timeout=5).status_code == 405


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_hello_with_curl(start) -> None:  # type: ignore[no-untyped-def]
    url = start("hello.py")
    out = subprocess.run(
        ["curl", "-s", f"{url}/hello/world"], capture_output=True, text=True, timeout=10
    )
    assert out.stdout == "Hello, world!\n"


def test_echo_describes_the_request(start) -> None:  # type: ignore[no-untyped-def]
    url = start("echo.py")
    got = requests.post(f"{url}/path?q=1", data=b"caf\xe9", headers={"X-A": "1"}, timeout=5)
    document = got.json()
    assert got.headers["content-type"] == "application/json"
    assert document["method"] == "POST"
    assert document["target"] == "/path?q=1"
    assert document["version"] == "1.1"
    assert ["X-A", "1"] in document["headers"]
    assert document["body"] == "caf\xe9"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_echo_chunked_upload_with_curl(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = start("echo.py")
    payload = bytes(range(256)) * 1000
    path = tmp_path / "payload"
    path.write_bytes(payload)
    out = subprocess.run(
        ["curl", "-s", "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{path}", url],
        capture_output=True,
        timeout=10,
    )
    document = json.loads(out.stdout)
    assert document["body"].encode("latin-1") == payload
    assert ["Transfer-Encoding", "chunked"] in document["headers"]


def test_echo_pipelined_burst(start) -> None:  # type: ignore[no-untyped-def]
    url = start("echo.py")
    burst = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(20))
    burst += b"POST /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc"
    data = raw(url, burst)
    bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in _split_responses(data)]
    assert [b["target"] for b in bodies] == [f"/{i}" for i in range(20)] + ["/end"]
    assert bodies[-1]["body"] == "abc"


def _split_responses(data: bytes) -> list[bytes]:
    """Cut a stream of Content-Length framed responses into responses."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
        out.append(head + b"\r\n\r\n" + rest[:length])
        data = rest[length:]
    return out


def test_benchmark_server_bytes(start) -> None:  # type: ignore[no-untyped-def]
    url = start("benchmark.py")
    data = raw(url, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 2053\r\n")
    assert len(data.partition(b"\r\n\r\n")[2]) == 2053
    hello = start("benchmark.py", "--hello")
    got = requests.put(f"{hello}/any/path", timeout=5)
    assert (got.text, got.headers["content-type"]) == ("Hello, world!\n", "text/plain")
