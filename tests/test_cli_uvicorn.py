"""uvicorn's command line on ``httpaf``: every option, run for real.

The option list comes from the installed uvicorn's own ``--help`` and its click
definitions (names and defaults); the servers are real processes on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from httpaf.cli import Options, build_parser, options_from_namespace
from httpaf.cli._app import resolve_app
from httpaf.cli._logging import _use_twins, read_log_config
from httpaf.cli._worker import serve_options

from helpers import APPS, ServerProcess, children_of, httpaf_command, wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")

uvicorn_main = pytest.importorskip("uvicorn.main")


def serve(*args: str, pattern: str = r"serving on (http://\S+)", **kw: Any) -> ServerProcess:
    return ServerProcess(
        httpaf_command("--app-dir", str(APPS), "--port", "0", *args), pattern, **kw
    )



# -- the option list ------------------------------------------------------------------


def uvicorn_help_options() -> set[str]:
    """The options of the installed uvicorn's ``--help`` (both forms of a switch)."""
    script = Path(sys.executable).with_name("uvicorn")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "uvicorn"]
    out = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    found: set[str] = set()
    for first, second in re.findall(r"^\s+(--[\w-]+)(?:\s.*?/\s*(--[\w-]+))?", out.stdout, re.M):
        found.update(x for x in (first, second) if x)
    return found - {"--help"}


def test_every_uvicorn_option_is_in_httpaf_help() -> None:
    theirs = uvicorn_help_options()
    assert {"--reload", "--env-file", "--ssl-ca-certs", "--no-use-colors"} <= theirs
    out = subprocess.run(
        httpaf_command("--help", script=True), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ours = set(re.findall(r"(?<![\w-])(--[a-z0-9][\w-]*)", out.stdout))
    missing = sorted(theirs - ours)
    assert not missing, f"uvicorn options missing from httpaf --help: {missing}"


#: Where httpaf's default differs in form only (``None`` where click has ``()``) or
#: by design (logging: uvicorn's look on httpaf's loggers; documented in docs/cli.md).
DEFAULT_FORMS = {"reload_dirs", "reload_includes", "reload_excludes", "headers", "log_config"}


def test_every_uvicorn_default_is_httpafs() -> None:
    options = options_from_namespace(build_parser().parse_args(["m:app"]))
    compared = 0
    for param in uvicorn_main.main.params:
        if param.name in (None, "app") or not param.expose_value or param.name in DEFAULT_FORMS:
            continue
        ours = getattr(options, param.name)
        assert ours == param.default, (param.name, ours, param.default)
        compared += 1
    assert compared >= 45


def test_uvicorn_run_keywords_are_httpaf_run_keywords() -> None:
    import inspect

    import uvicorn

    keywords = {
        name: p.default
        for name, p in inspect.signature(uvicorn.run).parameters.items()
        if name != "app"
    }
    options = Options.from_keywords("m:app", keywords)
    options.check()
    for name, default in keywords.items():
        if name not in ("log_config", "workers"):
            assert getattr(options, name) == default, name
    assert options.log_config == uvicorn.config.LOGGING_CONFIG  # theirs, as given
    with pytest.raises(TypeError, match="no_such_option"):
        Options.from_keywords("m:app", {"no_such_option": 1})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--loop", "bogus"], "--loop"),
        (["--ssl-keyfile", "key.pem"], "needs --ssl-certfile"),
        (["--limit-max-requests-jitter", "-1"], "must not be negative"),
        (["--header", "Bad Name:x"], "invalid header field name"),
        (["--ws-per-message-deflate", "maybe"], "not a boolean"),
    ],
)
def test_bad_options_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from httpaf.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "m:app"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_click_booleans() -> None:
    parse = build_parser().parse_args
    assert parse(["--ws-per-message-deflate", "false", "m:app"]).ws_per_message_deflate is False
    assert parse(["--ws-per-message-deflate", "1", "m:app"]).ws_per_message_deflate is True


def test_http2_is_refused() -> None:
    out = subprocess.run(
        httpaf_command("--port", "0", "--http2", "m:app"), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert "HTTP/1.1 only" in out.stderr


def test_uvicorn_machinery_options_are_accepted_with_a_notice(
    servers: list[ServerProcess],
) -> None:
    server = serve(
        "--http", "httptools", "--loop", "zuvloop", "--h11-max-incomplete-event-size", "4096",
        "--ws", "none", "--interface", "asgi3", "plain_app:app",
    )
    servers.append(server)
    assert httpx.get(server.url).json()["path"] == "/"
    output = server.output
    assert output.count("--http httptools: httpaf parses HTTP/1.1 itself") == 1
    assert "--loop zuvloop" in output
    assert "--max-head-size (65536)" in output
    assert server.stop() == 0


def test_asgi_only_options_go_to_the_asgi_server() -> None:
    options = Options("m:app", ws_max_size=1000, ws_ping_interval=None, reset_contextvars=True)
    asgi = serve_options(options, resolve_app(_asgi), multiprocess=False)
    assert asgi["ws_max_size"] == 1000 and asgi["ws_ping_interval"] is None
    assert "ws" not in asgi and "ws_max_queue" not in asgi  # (defaults: not repeated)
    assert asgi["reset_contextvars"] is True
    wsgi = serve_options(options, resolve_app(_wsgi), multiprocess=False)
    assert not any(key.startswith(("ws", "reset")) for key in wsgi)


async def _asgi(scope: Any, receive: Any, send: Any) -> None: ...


def _wsgi(environ: Any, start_response: Any) -> list[bytes]:
    return []


def test_interfaces_and_factories() -> None:
    from apps import plain_app

    assert resolve_app(plain_app.Asgi2App).extra == {"asgi_version": "2.0"}
    loaded = resolve_app(plain_app.create_app)  # a factory even without --factory
    assert loaded.app is plain_app.app and loaded.interface == "asgi"
    assert resolve_app(plain_app.wsgi_app).interface == "wsgi"
    assert resolve_app(plain_app.app, interface="asgi3").interface == "asgi"


# -- --env-file, --header, --interface asgi2 ---------------------------------------------


def test_env_file(servers: list[ServerProcess], tmp_path: Path) -> None:
    pytest.importorskip("dotenv")
    env_file = tmp_path / "prod.env"
    env_file.write_text(
        "# comment\nGREETING='hello from the env file'\nexport OTHER=2\nKEPT=from-file\n"
    )
    server = serve(
        "--env-file", str(env_file), "plain_app:app", env={"KEPT": "from-environment"}
    )
    servers.append(server)
    get = lambda name: httpx.get(server.url, params={"env": name}).json()["env"]  # noqa: E731
    assert get("GREETING") == "hello from the env file"
    assert get("OTHER") == "2"
    assert get("KEPT") == "from-environment"  # variables already set win, as in uvicorn
    assert "Loading environment from" in server.output
    assert server.stop() == 0


def test_env_file_must_exist() -> None:
    out = subprocess.run(
        httpaf_command("--env-file", "/surely/not/here.env", "m:app"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "does not exist" in out.stderr


@pytest.mark.parametrize("app", ["plain_app:app", "plain_app:wsgi_app"])
def test_header_on_every_response(servers: list[ServerProcess], app: str) -> None:
    server = serve("--header", "X-Env:prod", "--header", "X-Team: web", app)
    servers.append(server)
    for path in ("/", "/other"):
        r = httpx.get(server.url + path)
        assert r.headers["x-env"] == "prod" and r.headers["x-team"] == "web"
        assert r.headers["server"] == "httpaf"
    assert server.stop() == 0
    server = serve("--header", "Server:custom", app)  # replaces httpaf's, as in uvicorn
    servers.append(server)
    assert httpx.get(server.url).headers.get_list("server") == ["custom"]
    assert server.stop() == 0


def test_bad_header_is_refused() -> None:
    out = subprocess.run(
        httpaf_command("--header", "no colon", "m:app"), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and "Name:Value" in out.stderr


def test_asgi2_application(servers: list[ServerProcess]) -> None:
    server = serve("plain_app:Asgi2App")
    servers.append(server)
    assert httpx.get(server.url).text == "asgi2"
    assert server.stop() == 0


# -- logging ------------------------------------------------------------------------------


ACCESS_LINE = re.compile(r'INFO:     127\.0\.0\.1:\d+ - "GET /hello\?x=1 HTTP/1\.1" 200 OK')


def test_default_access_line_is_uvicorns(servers: list[ServerProcess]) -> None:
    server = serve("plain_app:app")
    servers.append(server)
    httpx.get(server.url + "/hello?x=1")
    assert wait_until(lambda: ACCESS_LINE.search(server.output)), server.output
    assert "\x1b[" not in server.output  # not a terminal: no colors
    assert server.stop() == 0


def test_use_colors(servers: list[ServerProcess]) -> None:
    server = serve("--use-colors", "plain_app:app")
    servers.append(server)
    httpx.get(server.url + "/hello")
    assert wait_until(lambda: "\x1b[32mINFO\x1b[0m:" in server.output), server.output
    assert wait_until(lambda: "\x1b[32m200 OK\x1b[0m" in server.output), server.output
    assert server.stop() == 0


def test_no_access_log_and_log_level(servers: list[ServerProcess]) -> None:
    server = serve("--no-access-log", "--log-level", "warning", "plain_app:app")
    servers.append(server)
    httpx.get(server.url + "/hello?x=1")
    assert server.stop() == 0
    assert "GET /hello" not in server.output
    assert "worker" not in server.output  # INFO lines are below warning


UVICORN_DICT_CONFIG = {
    "version": 1,
    "disable_existing_loggers": True,
    "formatters": {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"},
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(name)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        },
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.FileHandler", "filename": "ERRLOG"},
        "access": {"formatter": "access", "class": "logging.FileHandler", "filename": "ACCESSLOG"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

UVICORN_INI_CONFIG = """\
[loggers]
keys=root,uvicorn,access

[handlers]
keys=default,access

[formatters]
keys=plain

[logger_root]
level=WARNING
handlers=

[logger_uvicorn]
level=INFO
handlers=default
propagate=0
qualname=uvicorn

[logger_access]
level=INFO
handlers=access
propagate=0
qualname=uvicorn.access

[handler_default]
class=FileHandler
formatter=plain
args=('ERRLOG',)

[handler_access]
class=FileHandler
formatter=plain
args=('ACCESSLOG',)

[formatter_plain]
format=%(name)s %(levelname)s %(message)s
"""

HTTPAF_YAML_CONFIG = """\
version: 1
disable_existing_loggers: false
formatters:
  plain:
    format: "%(name)s %(levelname)s %(message)s"
handlers:
  default: {class: logging.FileHandler, formatter: plain, filename: ERRLOG}
  access: {class: logging.FileHandler, formatter: plain, filename: ACCESSLOG}
loggers:
  httpaf: {handlers: [default], level: INFO, propagate: false}
  httpaf.access: {handlers: [access], level: INFO, propagate: false}
"""


@pytest.mark.parametrize("kind", ["uvicorn.json", "uvicorn.ini", "httpaf.yaml"])
def test_log_config(servers: list[ServerProcess], tmp_path: Path, kind: str) -> None:
    errors, access = tmp_path / "error.log", tmp_path / "access.log"
    if kind == "uvicorn.json":
        text = json.dumps(UVICORN_DICT_CONFIG)
    elif kind == "uvicorn.ini":
        text = UVICORN_INI_CONFIG
    else:
        pytest.importorskip("yaml")
        text = HTTPAF_YAML_CONFIG
    path = tmp_path / f"logging.{kind.split('.')[1]}"
    path.write_text(text.replace("ERRLOG", str(errors)).replace("ACCESSLOG", str(access)))
    server = serve("--log-config", str(path), "plain_app:app")
    servers.append(server)
    httpx.get(server.url + "/hello?x=1")
    assert server.stop() == 0
    access_text, error_text = access.read_text(), errors.read_text()
    if kind == "uvicorn.json":  # uvicorn's own formatters, under uvicorn's names
        assert re.search(
            r'^uvicorn\.access 127\.0\.0\.1:\d+ - "GET /hello\?x=1 HTTP/1\.1" 200 OK$',
            access_text,
            re.M,
        ), access_text
        assert "INFO:     worker" in error_text
    else:
        name = "uvicorn" if kind == "uvicorn.ini" else "httpaf"
        assert re.search(
            rf'^{name}\.access INFO 127\.0\.0\.1:\d+ - "GET /hello\?x=1 HTTP/1\.1" 200$',
            access_text,
            re.M,
        ), access_text
        logger = "uvicorn.error" if name == "uvicorn" else "httpaf.cli"
        assert f"{logger} INFO worker" in error_text
    assert "GET /hello" not in server.output  # not on the console


def test_uvicorn_formatters_have_twins(tmp_path: Path) -> None:
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(UVICORN_DICT_CONFIG))
    prepared = read_log_config(path)
    _use_twins(prepared)  # (what happens when uvicorn is not installed)
    assert isinstance(prepared, dict)
    formatters = prepared["formatters"]
    assert formatters["default"]["()"] == "httpaf.cli.DefaultFormatter"
    assert formatters["access"]["()"] == "httpaf.cli.AccessFormatter"


# -- limits and timeouts ----------------------------------------------------------------


def test_limit_max_requests_one_process(servers: list[ServerProcess]) -> None:
    server = serve("--limit-max-requests", "3", "plain_app:app")
    servers.append(server)
    with httpx.Client(base_url=server.url) as client:
        pids = {client.get("/").json()["pid"] for _ in range(3)}
    assert pids == {server.process.pid}
    assert server.wait() == 0  # exits cleanly after its third request
    assert "Maximum request limit of 3 exceeded" in server.output


@pytest.mark.parametrize("app", ["plain_app:app", "plain_app:wsgi_app"])
def test_limit_max_requests_with_workers(servers: list[ServerProcess], app: str) -> None:
    server = serve(
        "--workers", "2", "--limit-max-requests", "2", "--limit-max-requests-jitter", "1", app
    )
    servers.append(server)
    seen: set[int] = set()
    for _ in range(12):
        r = _get_once_more_if_cut(server.url)
        assert r.status_code == 200
        seen.add(r.json()["pid"])
    # Each worker serves at most three requests: twelve need at least four workers.
    assert len(seen) >= 4, server.output
    assert wait_until(lambda: len(children_of(server.process.pid)) == 2)
    assert server.stop() == 0


def _get_once_more_if_cut(url: str) -> httpx.Response:
    """GET ``url`` on a new connection; once more if it was closed unanswered (a worker
    that reached its limit closes what it accepted just before it stopped listening,
    as any graceful stop does)."""
    try:
        return httpx.get(url, headers={"connection": "close"}, timeout=10)
    except httpx.RemoteProtocolError:
        return httpx.get(url, headers={"connection": "close"}, timeout=10)


def test_timeout_keep_alive(servers: list[ServerProcess]) -> None:
    server = serve("--timeout-keep-alive", "1", "plain_app:app")
    servers.append(server)
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"}" not in data:
            data += conn.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        conn.settimeout(4.5)  # the default keep-alive (5 s) would not close it in time
        assert conn.recv(100) == b""  # closed by the server, idle
        assert time.monotonic() - started < 4.5
    assert server.stop() == 0


# -- TLS with client certificates ----------------------------------------------------------


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Any]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("client@example.org")
    files = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "server.pem",
        "key": tmp_path / "server.key",
        "client": tmp_path / "client.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server_cert.private_key_pem.write_to_path(str(files["key"]))
    for blob in server_cert.cert_chain_pems:
        blob.write_to_path(str(files["cert"]), append=True)
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(files["client"]))
    return {"ca_obj": ca, **files}


def test_ssl_options_with_a_client_certificate(
    servers: list[ServerProcess], tls_files: dict[str, Any]
) -> None:
    server = serve(
        "--ssl-certfile", str(tls_files["cert"]),
        "--ssl-keyfile", str(tls_files["key"]),
        "--ssl-ca-certs", str(tls_files["ca"]),
        "--ssl-cert-reqs", str(int(ssl.CERT_REQUIRED)),
        "--ssl-version", str(int(ssl.PROTOCOL_TLS_SERVER)),
        "--ssl-ciphers", "ECDHE+AESGCM:ECDHE+CHACHA20",
        "plain_app:app",
        pattern=r"serving on (https://\S+)",
    )
    servers.append(server)
    context = ssl.create_default_context(cafile=str(tls_files["ca"]))
    context.load_cert_chain(str(tls_files["client"]))
    with httpx.Client(verify=context) as client:
        assert client.get(server.url).json()["path"] == "/"
    anonymous = ssl.create_default_context(cafile=str(tls_files["ca"]))
    with pytest.raises((httpx.HTTPError, ssl.SSLError, OSError)):
        with httpx.Client(verify=anonymous) as client:
            client.get(server.url).raise_for_status()
    assert server.stop() == 0


# -- httpaf.run(...) with uvicorn.run's keyword arguments -----------------------------------


RUN_SCRIPT = """\
import sys
import httpaf

sys.path.insert(0, {apps!r})
from plain_app import app

if __name__ == "__main__":
    httpaf.run(
        {target},
        host="127.0.0.1",
        port=0,
        loop="asyncio",
        http="auto",
        ws="auto",
        lifespan="auto",
        interface="auto",
        log_level="info",
        access_log=True,
        proxy_headers=True,
        server_header=False,
        date_header=True,
        forwarded_allow_ips="*",
        root_path="",
        limit_concurrency=100,
        backlog=128,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        headers=[("X-From", "run")],
        app_dir={apps!r},
        factory=False,
        workers={workers},
    )
"""


@pytest.mark.parametrize(
    ("target", "workers"), [("app", 1), ("'plain_app:app'", 1), ("'plain_app:app'", 2)]
)
def test_httpaf_run(
    servers: list[ServerProcess], tmp_path: Path, target: str, workers: int
) -> None:
    script = tmp_path / "serve.py"
    script.write_text(RUN_SCRIPT.format(apps=str(APPS), target=target, workers=workers))
    server = ServerProcess([sys.executable, str(script)], cwd=tmp_path)
    servers.append(server)
    r = httpx.get(server.url, headers={"x-forwarded-for": "203.0.113.9"})
    assert r.status_code == 200
    assert r.headers["x-from"] == "run" and "server" not in r.headers
    assert server.stop() == 0


def test_httpaf_run_needs_an_import_string_for_workers(tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(RUN_SCRIPT.format(apps=str(APPS), target="app", workers=2))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 3
    assert "import string" in out.stderr


def test_import_httpaf_still_loads_no_asyncio() -> None:
    code = "import sys, httpaf; httpaf.run; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_web_concurrency_sets_the_workers(servers: list[ServerProcess]) -> None:
    server = serve("plain_app:app", env={"WEB_CONCURRENCY": "2"})
    servers.append(server)
    assert "with 2 workers" in server.output
    assert wait_until(lambda: len(children_of(server.process.pid)) == 2)
    assert server.stop() == 0


# -- supervisor: health checks, SIGHUP, SIGTTIN/SIGTTOU ------------------------------------


def test_unresponsive_worker_is_replaced(servers: list[ServerProcess]) -> None:
    server = serve("--workers", "2", "--timeout-worker-healthcheck", "1", "plain_app:app")
    servers.append(server)
    parent = server.process.pid
    assert wait_until(lambda: len(children_of(parent)) == 2)
    victim = min(children_of(parent))
    os.kill(victim, signal.SIGSTOP)  # alive, but answers nothing
    try:
        assert wait_until(
            lambda: victim not in children_of(parent) and len(children_of(parent)) == 2
        ), server.output
    finally:
        if victim in children_of(parent):
            os.kill(victim, signal.SIGKILL)
    assert "did not answer a health check" in server.output
    assert server.stop() == 0


def test_sighup_replaces_workers_one_by_one(servers: list[ServerProcess]) -> None:
    server = serve("--workers", "2", "plain_app:app")
    servers.append(server)
    parent = server.process.pid
    assert wait_until(lambda: len(children_of(parent)) == 2)
    before = children_of(parent)
    server.send_signal(signal.SIGHUP)
    assert wait_until(
        lambda: not (children_of(parent) & before) and len(children_of(parent)) == 2
    ), server.output
    assert httpx.get(server.url).status_code == 200
    server.send_signal(signal.SIGTTIN)
    assert wait_until(lambda: len(children_of(parent)) == 3)
    server.send_signal(signal.SIGTTOU)
    assert wait_until(lambda: len(children_of(parent)) == 2)
    assert server.stop() == 0


# -- --reload -------------------------------------------------------------------------------


RELOAD_APP = """\
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": b"{version}"}})
"""


def _text(url: str) -> str | None:
    try:
        return httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return None


def test_reload(servers: list[ServerProcess], tmp_path: Path) -> None:
    pytest.importorskip("watchfiles")
    source = tmp_path / "reloading.py"
    source.write_text(RELOAD_APP.format(version="v1"))
    (tmp_path / "notes.txt").write_text("not watched")
    server = ServerProcess(
        httpaf_command(
            "--port", "0", "--reload", "--reload-delay", "0.1", "--workers", "3",
            "reloading:app",
        ),
        cwd=tmp_path,
    )
    servers.append(server)
    assert "--workers is ignored with --reload" in server.output
    assert wait_until(lambda: _text(server.url) == "v1"), server.output

    def saved_again_until_served() -> bool:
        # As uvicorn's, the reloader starts the worker and then its watcher: an edit
        # in that instant goes unseen, so the "editor" saves until it is seen.
        source.write_text(RELOAD_APP.format(version="v2"))
        return wait_until(lambda: _text(server.url) == "v2", timeout=2.0)

    assert wait_until(saved_again_until_served), server.output
    assert "detected changes in 'reloading.py'" in server.output
    # A syntax error: the worker cannot start, the reloader waits for the next change.
    source.write_text("def app(:\n")
    assert wait_until(lambda: "waiting for changes" in server.output), server.output
    assert server.process.poll() is None
    source.write_text(RELOAD_APP.format(version="v3"))
    assert wait_until(lambda: _text(server.url) == "v3"), server.output
    assert server.stop() == 0


def test_reload_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from httpaf.cli._reload import FileFilter, watched_directories

    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "build").mkdir()
    (tmp_path / "templates").mkdir()
    options = Options(
        "m:app",
        reload=True,
        reload_dirs=["src"],
        reload_includes=["*.html", "templates"],
        reload_excludes=["src/build", "*_test.py"],
    )
    assert watched_directories(options) == sorted(
        [(tmp_path / "src").resolve(), (tmp_path / "templates").resolve()]
    )
    keep = FileFilter(options)
    assert keep(tmp_path / "src" / "main.py")
    assert keep(tmp_path / "templates" / "page.html")
    assert not keep(tmp_path / "src" / "main_test.py")
    assert not keep(tmp_path / "src" / "build" / "gen.py")
    assert not keep(tmp_path / "src" / ".hidden.py")
    assert not keep(tmp_path / "src" / "notes.txt")
    defaults = FileFilter(Options("m:app", reload=True))
    assert defaults(tmp_path / "a.py") and not defaults(tmp_path / "a.html")
    assert watched_directories(Options("m:app", reload=True)) == [tmp_path.resolve()]


def test_reload_needs_an_import_string_and_watchfiles(tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(
        textwrap.dedent(
            f"""\
            import sys, httpaf
            sys.path.insert(0, {str(APPS)!r})
            from plain_app import app
            httpaf.run(app, port=0, reload=True)
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 3 and "import string" in out.stderr
