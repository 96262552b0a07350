"""gunicorn with ``-k httpaf.gunicorn.HttpafWorker``: Starlette, FastAPI and Flask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from helpers import (
    APPS,
    ServerProcess,
    children_of,
    slow_requests_during_shutdown,
    wait_until,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn is POSIX-only")
pytest.importorskip("gunicorn")

from helpers import exercise_asgi_app  # noqa: E402

LISTENING = r"Listening at: (http://\S+)"


def _extra_options() -> list[str]:
    from gunicorn.config import Config

    # gunicorn 25+ opens a control socket at a fixed path: not for parallel test runs.
    return ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


def gunicorn(*args: str, worker: str = "httpaf.gunicorn.HttpafWorker") -> ServerProcess:
    return ServerProcess(
        [
            sys.executable, "-m", "gunicorn",
            "-k", worker,
            "--bind", "127.0.0.1:0",
            "--chdir", str(APPS),
            "--graceful-timeout", "20",
            *_extra_options(),
            *args,
        ],
        pattern=LISTENING,
    )



@pytest.mark.parametrize("name", ["starlette_app:app", "fastapi_app:app"])
def test_asgi_apps(servers: list[ServerProcess], name: str) -> None:
    pytest.importorskip(name.split("_")[0])
    server = gunicorn(name)
    servers.append(server)
    exercise_asgi_app(server.url, name)
    assert server.stop() == 0


def test_flask_app(servers: list[ServerProcess]) -> None:
    pytest.importorskip("flask")
    server = gunicorn("--threads", "4", "flask_app:app")
    servers.append(server)
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/").text == "hello from flask"
        assert client.get("/json").json()["name"] == "flask"
        payload = os.urandom(200_000)
        assert client.post("/upload", content=payload).json()["size"] == len(payload)
        assert client.get("/stream?n=2").text == "line 0\nline 1\n"
        assert client.get("/download").content == bytes(range(256)) * 1200
        assert client.get("/boom").status_code == 500
        assert client.get("/").status_code == 200
        env = client.get("/environ").json()
        assert env["wsgi.multithread"] is True
        assert env["SERVER_PORT"] == server.url.rsplit(":", 1)[1]
    assert server.stop() == 0


def test_settings_are_mapped(servers: list[ServerProcess]) -> None:
    pytest.importorskip("starlette")
    server = gunicorn(
        "--limit-request-line", "200", "--limit-request-fields", "5", "starlette_app:app"
    )
    servers.append(server)
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/").status_code == 200
        assert client.get("/" + "x" * 300).status_code == 414
        headers = {f"X-H{i}": "v" for i in range(10)}
        assert client.get("/", headers=headers).status_code == 431
    assert server.stop() == 0


def test_max_requests_restarts_the_worker(servers: list[ServerProcess]) -> None:
    pytest.importorskip("starlette")
    server = gunicorn("--max-requests", "3", "starlette_app:app")
    servers.append(server)
    pids = set()
    for _ in range(9):
        r = httpx.get(f"{server.url}/pid", timeout=30)
        assert r.status_code == 200
        pids.add(r.json()["pid"])
    assert len(pids) >= 2  # the worker left after 3 requests and another took over
    assert server.stop() == 0


@pytest.mark.parametrize(
    ("name", "workers"), [("starlette_app:app", "1"), ("fastapi_app:app", "2"), ("flask_app:app", "1")]
)
def test_graceful_shutdown(
    servers: list[ServerProcess], tmp_path: Path, name: str, workers: str
) -> None:
    pytest.importorskip(name.split("_")[0])
    server = gunicorn("--workers", workers, name)
    servers.append(server)
    if workers != "1":
        assert wait_until(lambda: len(children_of(server.process.pid)) == int(workers))
    results = slow_requests_during_shutdown(server, tmp_path)
    for result in results:
        assert isinstance(result, httpx.Response), result
        assert (result.status_code, result.text) == (200, "slow done")
    assert server.wait() == 0


def test_quick_shutdown_on_sigint(servers: list[ServerProcess], tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    server = gunicorn("starlette_app:app")
    servers.append(server)
    assert httpx.get(server.url).status_code == 200
    server.send_signal(signal.SIGINT)
    assert server.wait() == 0


def test_boot_error_stops_gunicorn() -> None:
    pytest.importorskip("starlette")
    process = subprocess.run(
        [
            sys.executable, "-m", "gunicorn",
            "-k", "httpaf.gunicorn.HttpafWorker",
            "--bind", "127.0.0.1:0",
            "--chdir", str(APPS),
            "--asgi-lifespan", "on",
            *_extra_options(),
            "failing_app:app",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    from gunicorn.arbiter import Arbiter

    assert process.returncode == Arbiter.WORKER_BOOT_ERROR
    assert "Worker failed to boot" in process.stderr
