"""The ``httpaf`` command over real sockets: Flask (WSGI), Starlette and FastAPI (ASGI)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from httpaf.cli import build_parser, detect_interface, load_app, make_config

from helpers import (
    APPS,
    DATA,
    ServerProcess,
    children_of,
    exercise_asgi_app,
    httpaf_command,
    slow_requests_during_shutdown,
    wait_until,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")



def serve(*args: str, script: bool = False) -> ServerProcess:
    return ServerProcess(
        httpaf_command("--app-dir", str(APPS), "--port", "0", *args, script=script)
    )



# -- without a server -----------------------------------------------------------------


def test_interface_detection_and_loading() -> None:
    async def asgi_function(scope: object, receive: object, send: object) -> None: ...

    class AsgiClass:
        async def __call__(self, scope: object, receive: object, send: object) -> None: ...

    def wsgi_function(environ: object, start_response: object) -> list[bytes]:
        return []

    assert detect_interface(asgi_function) == "asgi"
    assert detect_interface(AsgiClass()) == "asgi"
    assert detect_interface(wsgi_function) == "wsgi"
    pytest.importorskip("flask")
    app = load_app("flask_app:create_app", factory=True, app_dir=str(APPS))
    assert detect_interface(app) == "wsgi"
    with pytest.raises(Exception, match="module:attribute"):
        load_app("no_colon")
    with pytest.raises(Exception, match="could not import"):
        load_app("surely_no_such_module_here:app")
    with pytest.raises(Exception, match="not found"):
        load_app("flask_app:nope", app_dir=str(APPS))


def test_config_options_follow_the_dataclass() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["m:app", "--max-request-line", "100", "--max-body-size", "none", "--no-require-host"]
    )
    config = make_config(args)
    assert config.max_request_line == 100
    assert config.max_body_size is None
    assert config.require_host is False
    import dataclasses

    from httpaf import Config

    flags = set(parser._option_string_actions)
    for field in dataclasses.fields(Config):
        assert "--" + field.name.replace("_", "-") in flags


def test_version_and_bad_app() -> None:
    out = subprocess.run(
        httpaf_command("--version", script=True), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0
    import httpaf

    assert f"({httpaf.implementation})" in out.stdout
    out = subprocess.run(
        httpaf_command("--port", "0", "surely_no_such_module_here:app"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 3
    assert "could not import module" in out.stderr
    out = subprocess.run(
        httpaf_command("--port", "0", "--workers", "2", "surely_no_such_module_here:app"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3


@pytest.mark.parametrize("workers", ["1", "2"])
def test_failed_lifespan_startup_is_a_boot_error(workers: str) -> None:
    out = subprocess.run(
        httpaf_command(
            "--app-dir", str(APPS), "--port", "0", "--lifespan", "on", "--workers", workers,
            "failing_app:app",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3
    assert "no database" in out.stderr


# -- Flask over WSGI ----------------------------------------------------------------------


def test_flask_through_the_console_script(servers: list[ServerProcess], tmp_path: Path) -> None:
    pytest.importorskip("flask")
    server = serve("flask_app:app", "--root-path", "/mount", script=True)
    servers.append(server)
    assert "(WSGI, " in server.output
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/").text == "hello from flask"
        assert client.get("/items/7", params={"q": "x"}).json() == {"id": 7, "q": "x", "tags": []}
        payload = os.urandom(300_000)
        r = client.post("/upload", content=iter([payload[:100_000], payload[100_000:]]))
        assert r.json()["sha256"] == hashlib.sha256(payload).hexdigest()
        r = client.post("/form", data={"a": "1"}, files={"f": ("f.txt", b"abc")})
        assert r.json() == {"form": {"a": "1"}, "files": {"f": {"filename": "f.txt", "size": 3}}}
        assert client.get("/stream?n=3").text == "line 0\nline 1\nline 2\n"
        r = client.get("/download")
        assert r.content == DATA
        assert client.get("/boom").status_code == 500
        assert client.get("/").status_code == 200
        env = client.get("/mount/environ").json()
        assert env["SCRIPT_NAME"] == "/mount" and env["PATH_INFO"] == "/environ"
    assert server.stop() == 0


def test_flask_factory_uds_and_limits(servers: list[ServerProcess], tmp_path: Path) -> None:
    pytest.importorskip("flask")
    path = str(tmp_path / "httpaf.sock")
    server = ServerProcess(
        httpaf_command(
            "--app-dir", str(APPS), "--uds", path, "--factory", "--interface", "wsgi",
            "--max-request-line", "200", "--no-access-log", "--no-server-header",
            "--timeout-keep-alive", "3", "flask_app:create_app",
        ),
        pattern=r"serving on (unix:\S+)",
    )
    servers.append(server)
    transport = httpx.HTTPTransport(uds=path)
    with httpx.Client(transport=transport, base_url="http://local") as client:
        r = client.get("/")
        assert r.text == "hello from flask"
        assert "server" not in r.headers and "date" in r.headers
        assert client.get("/" + "x" * 300).status_code == 414
    assert server.stop() == 0
    assert not os.path.exists(path)


def test_flask_graceful_shutdown(servers: list[ServerProcess], tmp_path: Path) -> None:
    pytest.importorskip("flask")
    server = serve("flask_app:app")
    servers.append(server)
    results = slow_requests_during_shutdown(server, tmp_path)
    for result in results:
        assert isinstance(result, httpx.Response), result
        assert (result.status_code, result.text) == (200, "slow done")
    assert server.wait() == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url)


# -- Starlette and FastAPI over ASGI ----------------------------------------------------------


ASGI_APPS = ["starlette_app:app", "fastapi_app:app"]


@pytest.mark.parametrize("name", ASGI_APPS)
def test_asgi_apps_through_the_command(servers: list[ServerProcess], name: str) -> None:
    pytest.importorskip(name.split("_")[0])
    server = serve(name)
    servers.append(server)
    assert "(ASGI, " in server.output
    exercise_asgi_app(server.url, name)
    assert server.stop() == 0


@pytest.mark.parametrize("name", ASGI_APPS)
def test_asgi_apps_with_two_workers(servers: list[ServerProcess], name: str) -> None:
    pytest.importorskip(name.split("_")[0])
    server = serve(name, "--workers", "2", "--loop", "asyncio")
    servers.append(server)
    assert "with 2 workers" in server.output
    exercise_asgi_app(server.url, name, same_process=False)
    parent = server.process.pid
    assert wait_until(lambda: len(children_of(parent)) == 2)
    workers = children_of(parent)
    # A worker that dies is replaced, and the server goes on.
    victim = httpx.get(f"{server.url}/pid").json()["pid"]
    assert victim in workers
    os.kill(victim, signal.SIGKILL)
    assert wait_until(
        lambda: len(children_of(parent)) == 2 and victim not in children_of(parent)
    ), server.output
    for _ in range(4):
        assert httpx.get(f"{server.url}/json").status_code == 200
    assert server.stop() == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_asgi_graceful_shutdown(
    servers: list[ServerProcess], tmp_path: Path, workers: str
) -> None:
    pytest.importorskip("starlette")
    server = serve("starlette_app:app", "--workers", workers)
    servers.append(server)
    results = slow_requests_during_shutdown(server, tmp_path)
    for result in results:
        assert isinstance(result, httpx.Response), result
        assert (result.status_code, result.text) == (200, "slow done")
    assert server.wait() == 0


def test_reuse_port_workers(servers: list[ServerProcess]) -> None:
    pytest.importorskip("starlette")
    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT")
    server = serve("starlette_app:app", "--workers", "2", "--reuse-port")
    servers.append(server)
    assert wait_until(lambda: _answers(server.url))
    for _ in range(5):
        assert httpx.get(f"{server.url}/").text == "hello from starlette"
    assert server.stop() == 0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
