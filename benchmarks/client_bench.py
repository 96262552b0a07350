"""The client benchmark: Python's HTTP clients against nginx, with httpaf under them.

nginx (one worker) runs pinned to one core (``taskset -c 1``), so the server is never
the limit; each client runs in a process of its own pinned to the other core
(``taskset -c 0``), one scenario at a time, after a warm-up. For each it reports
requests per second and the client's CPU time per request (user + system, from the
process's own clock), best of ``--rounds``. Scenarios:

- ``3215``: httpx issue #3215's case: GETs of 2,000-byte bodies, 20 in flight;
- ``get-1k`` and ``get-1m``: keep-alive GETs of 1 KiB and 1 MiB bodies;
- ``post-1k``: POSTs of a 1 KiB JSON body;
- ``conns-100``: 100 requests in flight on 100 connections (async clients only).

``httpx-null`` and ``httpx-sync-null`` are httpx over a transport that does no I/O (it
hands back a canned response like nginx's): httpx's own cost per request, the floor
that no transport under httpx can go below. ``httpx-sync-wire`` adds the socket round
trip to that floor and nothing else (request bytes written, the answer read to its
known length with the busy reads ours do, no parsing): the bound of any real sync
transport under httpx.

Async clients keep 20 requests in flight (100 for ``conns-100``); sync clients send
one after the other on one thread. Async clients run on asyncio's default loop
(``--uvloop`` for uvloop).

    python benchmarks/client_bench.py                  # everything
    python benchmarks/client_bench.py --quick          # fewer requests, one round
    python benchmarks/client_bench.py --clients httpaf,aiohttp --scenarios 3215

Results go to benchmarks/results/: ``client.json``, ``client.md`` and ``client.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
SERVER_CORE = "1"
CLIENT_CORE = "0"

FILES = {"small": b"s" * 2000, "kib": b"k" * 1024, "mib": b"m" * (1 << 20)}
JSON_1K = json.dumps({"data": "x" * 1000}).encode()
JSON_1K_ANSWER = b'{"ok":true}'
SCENARIOS: dict[str, dict[str, Any]] = {
    "3215": {"path": "/small", "requests": 4000, "concurrency": 20},
    "get-1k": {"path": "/kib", "requests": 4000, "concurrency": 20},
    "get-1m": {"path": "/mib", "requests": 400, "concurrency": 20},
    "post-1k": {"path": "/post", "requests": 4000, "concurrency": 20, "post": True},
    "conns-100": {"path": "/small", "requests": 4000, "concurrency": 100, "async_only": True},
}
ASYNC_CLIENTS = ["httpx", "httpx-aiohttp", "httpx-httpaf", "httpx-null", "aiohttp", "httpaf"]
SYNC_CLIENTS = ["requests", "urllib3", "httpx-sync", "httpx-sync-httpaf", "httpx-sync-null",
                "httpx-sync-wire", "httpaf-sync"]
CLIENTS = ASYNC_CLIENTS + SYNC_CLIENTS


# -- nginx ---------------------------------------------------------------------------


def start_nginx(scratch: Path) -> tuple[subprocess.Popen[bytes], int]:
    """nginx with one worker on the server core; the files above and ``/post``."""
    import socket

    www = scratch / "www"
    www.mkdir()
    os.chmod(scratch, 0o755)
    for name, data in FILES.items():
        (www / name).write_bytes(data)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    conf = scratch / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {scratch}/body;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {www};
        location /post {{ default_type application/json; return 200 '{{"ok":true}}'; }}
    }}
}}
""")
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    taskset = ["taskset", "-c", SERVER_CORE] if shutil.which("taskset") else []
    process = subprocess.Popen(taskset + [binary, "-c", str(conf), "-p", str(scratch),
                                          "-e", str(scratch / "error.log")])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("nginx did not start")


# -- one client, one scenario (run in a process of its own) ---------------------------------


def _null_transport(path: str, sync: bool) -> Any:
    """An httpx transport that answers at once, without I/O, what nginx would: the
    scenario's body with nginx's head fields (a request body is read, as sent)."""
    import httpx

    body = JSON_1K_ANSWER if path == "/post" else FILES[{"/small": "small", "/kib": "kib",
                                                          "/mib": "mib"}[path]]
    headers = [
        (b"Server", b"nginx"), (b"Date", b"Mon, 07 Dec 2026 12:00:00 GMT"),
        (b"Content-Type", b"application/octet-stream"),
        (b"Content-Length", str(len(body)).encode()),
        (b"Last-Modified", b"Mon, 07 Dec 2026 11:00:00 GMT"), (b"Connection", b"keep-alive"),
        (b"ETag", b'"6756a1b0-7d0"'), (b"Accept-Ranges", b"bytes"),
    ]
    extensions = {"http_version": b"HTTP/1.1", "reason_phrase": b"OK"}

    def answer(request: Any) -> Any:
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body),
                              extensions=extensions)

    if sync:
        class Null(httpx.BaseTransport):
            def handle_request(self, request: Any) -> Any:
                request.read()
                return answer(request)

        return Null()

    class AsyncNull(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: Any) -> Any:
            await request.aread()
            return answer(request)

    return AsyncNull()


def worker(client: str, scenario: str, requests: int, base: str, uvloop: bool) -> dict[str, Any]:
    spec = SCENARIOS[scenario]
    url = base + spec["path"]
    post = spec.get("post", False)
    concurrency = spec["concurrency"]
    if client in ASYNC_CLIENTS:
        import asyncio

        if uvloop:
            import uvloop as _uvloop

            _uvloop.install()
        return asyncio.run(_async_worker(client, url, post, requests, concurrency))
    return _sync_worker(client, url, post, requests)


def spec_path(url: str) -> str:
    """The scenario's path in ``url``."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _measure(run: Any, requests: int) -> dict[str, Any]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"rps": requests / wall, "cpu_us": cpu / requests * 1e6, "requests": requests}


def _wire_transport(url: str, post: bool) -> Any:
    """An httpx sync transport doing the least any transport must: the request's head
    and body written on one kept socket, the response read to its known length (with
    the busy reads of ``httpaf.sync``), no parsing, the canned answer of
    :func:`_null_transport`. httpx's floor plus the socket round trip: what no real
    sync transport under httpx can beat."""
    import socket
    from urllib.parse import urlsplit

    import httpx

    from httpaf import Config
    from httpaf.sync import BusyReads

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    null = _null_transport(parts.path, sync=True)
    # Reads ask before they sleep, as ours do (Config.busy_read): the bound stays one.
    busy = BusyReads(Config().busy_read or 0.0) if BusyReads.available else None
    buffer = bytearray(65536)
    view = memoryview(buffer)

    def exchange(data: bytes, size: int) -> bytes:
        sock.sendall(data)
        got = bytearray()
        while len(got) < size if size else b"\r\n\r\n" not in got:
            n = busy.read(sock, view) if busy is not None else -1
            if n < 0:
                n = sock.recv_into(view)
            got += view[:n]
        return bytes(got)

    # The size of nginx's answer, learnt once (head and body; it does not change).
    probe = (f"{'POST' if post else 'GET'} {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
             + (f"Content-Length: {len(JSON_1K)}\r\n" if post else "") + "\r\n").encode()
    first = exchange(probe + (JSON_1K if post else b""), 0)
    head, _, rest = first.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(65536)
    size = len(head) + 4 + length

    class Wire(httpx.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
            lines += [b"%s: %s" % field for field in request.headers.raw]
            exchange(b"\r\n".join(lines) + b"\r\n\r\n" + request.read(), size)
            return null.handle_request(request)

    return Wire()


async def _async_worker(client: str, url: str, post: bool, requests: int,
                        concurrency: int) -> dict[str, Any]:
    import asyncio

    headers = {"Content-Type": "application/json"}
    limits_kw = {"max_connections": max(100, concurrency)}
    if client.startswith("httpx"):
        import httpx

        limits = httpx.Limits(max_connections=max(100, concurrency),
                              max_keepalive_connections=max(100, concurrency))
        if client == "httpx":
            session: Any = httpx.AsyncClient(limits=limits)
        elif client == "httpx-null":
            session = httpx.AsyncClient(transport=_null_transport(spec_path(url), sync=False))
        elif client == "httpx-aiohttp":
            import httpx_aiohttp

            session = httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport())
        else:
            import httpaf.httpx

            session = httpx.AsyncClient(transport=httpaf.httpx.AsyncHTTPTransport(limits=limits))

        async def one() -> None:
            if post:
                response = await session.post(url, content=JSON_1K, headers=headers)
            else:
                response = await session.get(url)
            response.content  # noqa: B018 (read: httpx reads the body in get/post)
    elif client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(100, concurrency)))

        async def one() -> None:
            if post:
                async with session.post(url, data=JSON_1K, headers=headers) as response:
                    await response.read()
            else:
                async with session.get(url) as response:
                    await response.read()
    else:
        from httpaf.client import Client

        session = Client(max_keepalive_connections=max(100, concurrency), **limits_kw)

        async def one() -> None:
            if post:
                response = await session.post(url, content=JSON_1K, headers=headers)
            else:
                response = await session.get(url)
            await response.read()

    async def loop(count: int) -> None:
        for _ in range(count):
            await one()

    async def all_of(total: int) -> None:
        share, extra = divmod(total, concurrency)
        await asyncio.gather(*(loop(share + (i < extra)) for i in range(concurrency)))

    await all_of(max(concurrency * 5, requests // 10))  # warm-up: connections, caches
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await all_of(requests)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if client == "aiohttp" or client.startswith("httpx"):
        await session.aclose() if client.startswith("httpx") else await session.close()
    else:
        await session.aclose()
    return {"rps": requests / wall, "cpu_us": cpu / requests * 1e6, "requests": requests}


def _sync_worker(client: str, url: str, post: bool, requests: int) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if client == "requests":
        import requests as _requests

        session: Any = _requests.Session()

        def one() -> None:
            if post:
                session.post(url, data=JSON_1K, headers=headers).content  # noqa: B018
            else:
                session.get(url).content  # noqa: B018
    elif client == "urllib3":
        import urllib3

        pool = urllib3.PoolManager()

        def one() -> None:
            if post:
                pool.request("POST", url, body=JSON_1K, headers=headers).data  # noqa: B018
            else:
                pool.request("GET", url).data  # noqa: B018
    elif client.startswith("httpx"):
        import httpx

        if client == "httpx-sync":
            session = httpx.Client()
        elif client == "httpx-sync-null":
            session = httpx.Client(transport=_null_transport(spec_path(url), sync=True))
        elif client == "httpx-sync-wire":
            session = httpx.Client(transport=_wire_transport(url, post))
        else:
            import httpaf.httpx

            session = httpx.Client(transport=httpaf.httpx.HTTPTransport())

        def one() -> None:
            if post:
                session.post(url, content=JSON_1K, headers=headers).content  # noqa: B018
            else:
                session.get(url).content  # noqa: B018
    else:
        from httpaf.sync import SyncSession

        session = SyncSession()

        def one() -> None:
            if post:
                session.request("POST", url, content=JSON_1K, headers=headers).read()
            else:
                session.request("GET", url).read()

    def run(count: int) -> None:
        for _ in range(count):
            one()

    run(max(50, requests // 10))
    return _measure(lambda: run(requests), requests)


# -- the driver ------------------------------------------------------------------------


def run_one(client: str, scenario: str, requests: int, base: str, uvloop: bool) -> dict[str, Any]:
    taskset = ["taskset", "-c", CLIENT_CORE] if shutil.which("taskset") else []
    argv = taskset + [sys.executable, __file__, "--worker", client, scenario, str(requests),
                      base] + (["--uvloop"] if uvloop else [])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests, 1 round")
    parser.add_argument("--uvloop", action="store_true", help="async clients on uvloop")
    parser.add_argument("--worker", nargs=4, metavar=("CLIENT", "SCENARIO", "N", "BASE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        client, scenario, count, base = args.worker
        print(json.dumps(worker(client, scenario, int(count), base, args.uvloop)))
        return
    clients = [c for c in args.clients.split(",") if c]
    scenarios = [s for s in args.scenarios.split(",") if s]
    rounds = 1 if args.quick else args.rounds
    results: dict[str, Any] = {
        "meta": {"time": time.strftime("%Y-%m-%d %H:%M"), "python": sys.version.split()[0],
                 "loop": "uvloop" if args.uvloop else "asyncio", "rounds": rounds,
                 "client_core": CLIENT_CORE, "server_core": SERVER_CORE},
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        nginx, port = start_nginx(Path(tmp))
        base = f"http://127.0.0.1:{port}"
        try:
            for scenario in scenarios:
                spec = SCENARIOS[scenario]
                count = spec["requests"] // (10 if args.quick else 1)
                table: dict[str, Any] = {}
                for client in clients:
                    if spec.get("async_only") and client not in ASYNC_CLIENTS:
                        continue
                    # httpx's default transport is slow: fewer requests keep it in time.
                    n = max(100, count // 4) if client in ("httpx", "httpx-sync") else count
                    runs = [run_one(client, scenario, n, base, args.uvloop) for _ in range(rounds)]
                    good = [r for r in runs if "rps" in r]
                    if not good:
                        table[client] = runs[0]
                    else:
                        table[client] = {"rps": max(r["rps"] for r in good),
                                         "cpu_us": min(r["cpu_us"] for r in good),
                                         "requests": n}
                    print(f"{scenario:10} {client:18} {table[client]}", flush=True)
                results["scenarios"][scenario] = table
        finally:
            nginx.terminate()  # the master we started, by its PID
            nginx.wait(10)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "client.json").write_text(json.dumps(results, indent=1))
    report = markdown(results)
    (RESULTS / "client.md").write_text(report)
    print(report)
    chart(results)


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def _floor_lines(table: dict[str, Any]) -> list[str]:
    """What httpx's own layer leaves to a transport. The null transport's CPU is the
    floor (no transport costs less than nothing); a transport must still do the I/O, so
    the floor plus our own client without httpx (the cheapest complete client measured)
    is an estimate of the practical bound. Either says how much cheaper than its default
    httpx can get; for the sync clients ``httpx-sync-wire`` measures the bound itself."""
    def cpu(name: str) -> float | None:
        return table.get(name, {}).get("cpu_us")  # type: ignore[no-any-return]

    lines = []
    for kind, null, ours, bare, default in (
        ("async", "httpx-null", "httpx-httpaf", "httpaf", "httpx-aiohttp"),
        ("sync", "httpx-sync-null", "httpx-sync-httpaf", "httpaf-sync", "httpx-sync"),
    ):
        floor, mine, alone, theirs = cpu(null), cpu(ours), cpu(bare), cpu(default)
        if not (floor and mine and alone and theirs):
            continue
        practical = floor + alone
        line = (f"httpx {kind}: floor (no I/O) {floor:.1f} µs/req, floor + {bare} "
                f"{practical:.1f}; so over any transport at most {theirs / floor:.2f}x "
                f"{default} in CPU, {theirs / practical:.2f}x in practice; ours "
                f"{theirs / mine:.2f}x ({mine - floor:.1f} µs above the floor)")
        if kind == "sync":
            # CPU times do not add up: a client that blocks on every round trip runs
            # from cold caches each time, so the verdict comes from the measured bound.
            line += _wire_bound(table)
        lines.append(line)
    return [*lines, ""] if lines else []


def _wire_bound(table: dict[str, Any]) -> str:
    """The measured bound of a sync transport: httpx over ``httpx-sync-wire`` (the
    socket I/O and nothing else) against httpx sync and urllib3, in req/s."""
    def rps(name: str) -> float | None:
        return table.get(name, {}).get("rps")  # type: ignore[no-any-return]

    wire, default, urllib3 = rps("httpx-sync-wire"), rps("httpx-sync"), rps("urllib3")
    if not (wire and default):
        return ""
    text = (f". Measured bound, httpx over I/O alone (httpx-sync-wire): {wire:,.0f} req/s, "
            f"{wire / default:.2f}x httpx sync (2x {_reach(wire >= 2 * default)})")
    if urllib3:
        text += f", {wire / urllib3:.2f}x urllib3"
    return text


def _reach(yes: bool) -> str:
    return "reachable" if yes else "NOT reachable"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"# Client benchmark ({meta['time']}, Python {meta['python']}, {meta['loop']}, "
        f"best of {meta['rounds']})",
        "",
        "nginx on core 1, each client alone on core 0. req/s and client CPU per request.",
        "",
    ]
    for scenario, table in results["scenarios"].items():
        lines += [f"## {scenario}", "", "| client | req/s | CPU µs/req |", "|---|---|---|"]
        for client, row in table.items():
            if "rps" in row:
                lines.append(f"| {client} | {row['rps']:,.0f} | {row['cpu_us']:.1f} |")
            else:
                lines.append(f"| {client} | error: {row.get('error')} | |")

        def rps(name: str, table: dict[str, Any] = table) -> float | None:
            return table.get(name, {}).get("rps")  # type: ignore[no-any-return]

        lines += [
            "",
            f"httpx+httpaf / httpx+aiohttp: {_ratio(rps('httpx-httpaf'), rps('httpx-aiohttp'))}; "
            f"httpx+httpaf / httpx: {_ratio(rps('httpx-httpaf'), rps('httpx'))}; "
            f"httpaf / aiohttp: {_ratio(rps('httpaf'), rps('aiohttp'))}; "
            f"httpx sync+httpaf / httpx sync: "
            f"{_ratio(rps('httpx-sync-httpaf'), rps('httpx-sync'))}; "
            f"httpx sync+httpaf / urllib3: {_ratio(rps('httpx-sync-httpaf'), rps('urllib3'))}",
            "",
        ]
        lines += _floor_lines(table)
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any]) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(results["scenarios"])
    fig, axes = plt.subplots(len(scenarios), 2, figsize=(12, 2.6 * len(scenarios)),
                             squeeze=False)
    for row, scenario in enumerate(scenarios):
        table = {c: r for c, r in results["scenarios"][scenario].items() if "rps" in r}
        names = list(table)
        colors = ["tab:orange" if "httpaf" in n else "tab:blue" for n in names]
        for col, (key, label) in enumerate((("rps", "requests/s"), ("cpu_us", "CPU µs/req"))):
            ax = axes[row][col]
            ax.barh(names, [table[n][key] for n in names], color=colors)
            ax.set_title(f"{scenario}: {label}", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.invert_yaxis()
    fig.tight_layout()
    path = RESULTS / "client.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
