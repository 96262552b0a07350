"""The side-by-side benchmark: httpaf against the servers people would pick instead.

Every server runs pinned to one core (``taskset -c 1``) and is driven by ``wrk`` from
the other (``taskset -c 0``). Each configuration runs several rounds, interleaved
(A B C A B C ...), after a warm-up; the report gives medians with min-max, the
server's CPU time per request (from /proc, whole process tree) and its RSS, and
ratios to uvicorn+httptools and to the raw httptools+uvloop server measured in the
same run. With one wrk thread the load generator saturates near the raw server's
rate, so CPU per request is the fair figure there.

    python benchmarks/bench.py                 # everything (about 25 minutes)
    python benchmarks/bench.py --quick         # fewer rounds, shorter runs
    python benchmarks/bench.py --servers httpaf-native,uvicorn-httptools --scenarios hello

Results go to benchmarks/results/: ``latest.json``, ``latest.md`` and PNG charts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
LUA = ROOT / "benchmarks" / "lua"
PY = sys.executable  # the servers' Python (--python)
SERVER_CORE = "1"
CLIENT_CORE = "0"
APP = "benchmarks.servers.asgi_app:app"


@dataclass
class Server:
    """How to start one server."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    routes: tuple[str, ...] = ("/", "/alice", "/upload")
    port: int = 0
    #: The framework whose hello app it serves (a scenario of its own), if any.
    framework: str | None = None
    #: The checkout it runs from (another one for a baseline: ``--baseline``).
    root: Path = ROOT

    def serves(self, scenario: str) -> bool:
        """Whether this server takes part in ``scenario``."""
        if scenario in FRAMEWORKS or self.framework is not None:
            return scenario == self.framework
        return SCENARIOS[scenario][0] in self.routes


def servers(port: int, scratch: Path, baseline: Path | None = None) -> list[Server]:
    """Every server of the comparison, each on its own port (and httpaf's native and
    ASGI servers of the ``baseline`` checkout, run with its ``.venv``)."""
    quiet_uvicorn = ["--no-access-log", "--log-level", "warning", "--loop", "uvloop"]

    def uvicorn(http: str, app: str = APP) -> list[str]:
        return [PY, "-m", "uvicorn", app, "--http", http, *quiet_uvicorn, "--port", "{port}"]

    def httpaf_command(app: str) -> list[str]:
        return [PY, "-m", "httpaf", app, "--no-access-log", "--log-level", "warning",
                "--port", "{port}"]  # fmt: skip

    frameworks = []
    for framework in FRAMEWORKS:
        app = f"benchmarks.servers.framework_apps:{framework}_app"
        frameworks += [
            Server(f"httpaf-asgi+{framework}", httpaf_command(app), framework=framework),
            Server(
                f"uvicorn-httptools+{framework}", uvicorn("httptools", app), framework=framework
            ),
        ]

    table = [
        Server("httpaf-native", [PY, "-m", "benchmarks.servers.httpaf_native", "--port", "{port}"]),
        Server(
            "httpaf-native-pure",
            [PY, "-m", "benchmarks.servers.httpaf_native", "--port", "{port}"],
            {"HTTPAF_NO_EXTENSIONS": "1"},
        ),
        Server("httpaf-asgi", [PY, "-m", "benchmarks.servers.httpaf_asgi", "--port", "{port}"]),
        Server("uvicorn-httpaf", uvicorn("httpaf.uvicorn:HttpafProtocol")),
        Server("uvicorn-httptools", uvicorn("httptools")),
        Server("uvicorn-h11", uvicorn("h11")),
        Server("uvicorn-zttp", uvicorn("zttp")),
        Server("aiohttp", [PY, "-m", "benchmarks.servers.aiohttp_app", "--port", "{port}"]),
        Server(
            "granian",
            [
                granian_command(),
                "--interface",
                "asgi",
                "--workers",
                "1",
                "--no-access-log",
                "--log-level",
                "warning",
                "--port",
                "{port}",
                APP,
            ],
        ),
        Server("raw-httptools", [PY, "-m", "benchmarks.servers.raw_httptools", "--port", "{port}"]),
        *frameworks,
        *([] if baseline is None else baseline_servers(baseline)),
        Server("nginx", [], routes=("/", "/alice")),
    ]
    for i, server in enumerate(table):
        server.port = port + i
        server.argv = [a.replace("{port}", str(server.port)) for a in server.argv]
    table[-1].argv = nginx_argv(scratch, table[-1].port)
    return table


def granian_command() -> str:
    """granian's command, beside the servers' Python when it has one there."""
    beside = Path(PY).parent / "granian"
    return str(beside) if beside.exists() else shutil.which("granian") or "granian"


def baseline_servers(checkout: Path) -> list[Server]:
    """The native and ASGI servers of another checkout (an earlier commit, say)."""
    python = str(checkout / ".venv" / "bin" / "python")
    return [
        Server(
            f"httpaf-{kind}@baseline",
            [python, "-m", f"benchmarks.servers.httpaf_{kind}", "--port", "{port}"],
            root=checkout,
        )
        for kind in ("native", "asgi")
    ]


def nginx_argv(scratch: Path, port: int) -> list[str]:
    """nginx with one worker: ``return 200`` for hello, a static file for /alice."""
    from benchmarks.servers.payloads import ALICE, HELLO

    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "alice").write_bytes(ALICE)
    conf = scratch / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  default_type text/plain;
  client_body_temp_path {scratch};
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location = / {{ return 200 "{HELLO.decode().strip()}\\n"; }}
    location = /alice {{ root {scratch}; try_files /alice =404; }}
  }}
}}
"""
    )
    return [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(scratch)]


# -- processes ------------------------------------------------------------------------


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


#: With ``--steady-malloc``: glibc's thresholds fixed for every server alike, so that
#: the upload scenario compares code rather than the heap's state (docs/benchmarks.md,
#: "Page faults in the upload scenario"); empty by default (what users get).
MALLOC_ENV: dict[str, str] = {}
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(8 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


def start(server: Server) -> subprocess.Popen[bytes] | None:
    """Start ``server`` pinned to the server core; None if it does not come up."""
    taskset = ["taskset", "-c", SERVER_CORE] if shutil.which("taskset") else []
    env = dict(os.environ, PYTHONPATH=str(server.root), **MALLOC_ENV, **server.env)
    process = subprocess.Popen(
        taskset + server.argv,
        cwd=server.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=raise_fd_limit,
        start_new_session=True,
    )
    port = server.port
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            print(f"  ! {server.name} exited: {err.strip()[-300:]}", flush=True)
            return None
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return process
        time.sleep(0.1)
    stop(process)
    print(f"  ! {server.name} did not listen on {port}", flush=True)
    return None


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for proc in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def minor_faults(pid: int) -> int | None:
    """Minor page faults of the process tree so far (Linux /proc; None elsewhere).

    Faults per request tell the allocator's steady state apart: a heap that glibc
    trims after every request and grows again touches fresh pages each time (see
    docs/benchmarks.md, "Page faults").
    """
    total = 0
    for proc in tree(pid):
        try:
            stat = Path(f"/proc/{proc.pid}/stat").read_text()
        except FileNotFoundError:
            continue  # the process ended
        except OSError:
            return None  # no /proc
        # Fields after the command name (in parentheses, which may hold spaces):
        # state ppid pgrp session tty_nr tpgid flags minflt ...
        total += int(stat.rsplit(")", 1)[1].split()[7])
    return total


def rss_bytes(pid: int) -> int:
    total = 0
    for proc in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


# -- load -----------------------------------------------------------------------------

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(
    url: str, seconds: float, connections: int, script: list[str] | None = None
) -> dict[str, Any]:
    """Run wrk on the client core; parse requests, req/s and latency percentiles."""
    taskset = ["taskset", "-c", CLIENT_CORE] if shutil.which("taskset") else []
    argv = taskset + [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        argv += ["-s", script[0], url, "--", *script[1:]]
    else:
        argv.append(url)
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 60, preexec_fn=raise_fd_limit
    ).stdout
    result: dict[str, Any] = {"raw": out}
    match = re.search(r"(\d+) requests in", out)
    result["requests"] = int(match.group(1)) if match else 0
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(match.group(1)) if match else 0.0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    result["errors"] = (int(errors.group(1)) if errors else 0) + (
        sum(map(int, socket_errors.groups())) if socket_errors else 0
    )
    percentiles = {}
    for p, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        percentiles[p] = float(value) * _UNITS[unit] * 1e3  # ms
    result["latency_ms"] = percentiles
    match = re.search(r"RATE_JSON (\{.*\})", out)
    if match:
        result["rate"] = json.loads(match.group(1))
    return result


def measure(
    process: subprocess.Popen[bytes],
    url: str,
    seconds: float,
    connections: int,
    script: list[str] | None = None,
) -> dict[str, Any]:
    """One wrk run with the server's CPU time, page faults and RSS around it."""
    cpu_before = cpu_seconds(process.pid)
    faults_before = minor_faults(process.pid)
    result = wrk(url, seconds, connections, script)
    cpu = cpu_seconds(process.pid) - cpu_before
    faults_after = minor_faults(process.pid)
    requests = result["requests"]
    result["cpu_s"] = cpu
    result["cpu_us_per_request"] = cpu / requests * 1e6 if requests else None
    result["faults_per_request"] = (
        (faults_after - faults_before) / requests
        if requests and faults_before is not None and faults_after is not None
        else None
    )
    result["rss_mb"] = rss_bytes(process.pid) / 2**20
    del result["raw"]
    return result


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections that made one request each, answered."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), 5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        socks.append(sock)
    for sock in socks:
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"Hello, world!\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    time.sleep(1.0)
    return socks


def idle_connections(process: subprocess.Popen[bytes], port: int, count: int) -> dict[str, Any]:
    """RSS per idle keep-alive connection: ``count`` sockets that made one request each.

    Then as many again: the first figure is flattered by whatever free memory the
    server's heap already had, the second (the marginal cost) is not.
    """
    raise_fd_limit()
    base = rss_bytes(process.pid)
    socks: list[socket.socket] = []
    try:
        socks += open_idle(port, count)
        loaded = rss_bytes(process.pid)
        socks += open_idle(port, count)
        doubled = rss_bytes(process.pid)
    finally:
        for sock in socks:
            sock.close()
    return {
        "connections": count,
        "rss_base_mb": base / 2**20,
        "bytes_per_connection": (loaded - base) / count,
        "marginal_bytes_per_connection": (doubled - loaded) / count,
    }


def latency_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each percentile's median over the rounds (ms), and the p99's range."""
    per_round = [
        {k: v / 1e3 for k, v in run.get("rate", {}).get("percentiles_us", {}).items()}
        for run in runs
    ]
    keys = sorted({k for p in per_round for k in p}, key=float)
    p99 = [p["99"] for p in per_round if "99" in p]
    return {
        "percentiles_ms": {k: statistics.median([p[k] for p in per_round if k in p]) for k in keys},
        "p99_range_ms": [min(p99), max(p99)] if p99 else None,
        "achieved_rps": statistics.median(run["rps"] for run in runs) if runs else 0.0,
        "rounds": len(runs),
        "requests": sum(run["requests"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
    }


def rss_growth(process: subprocess.Popen[bytes], url: str, rps: float) -> dict[str, Any]:
    """RSS after about 0.5M requests and after about 2M (hello, 50 connections)."""
    first = wrk(url, max(2.0, 500_000 / rps), 50)
    rss_half = rss_bytes(process.pid)
    second = wrk(url, max(2.0, 1_500_000 / rps), 50)
    rss_full = rss_bytes(process.pid)
    return {
        "requests_first": first["requests"],
        "requests_total": first["requests"] + second["requests"],
        "rss_after_first_mb": rss_half / 2**20,
        "rss_after_all_mb": rss_full / 2**20,
        "growth_percent": (rss_full - rss_half) / rss_half * 100,
    }


# -- the run ----------------------------------------------------------------------------

SCENARIOS = {
    # name: (path, connections, wrk script)
    "hello": ("/", 50, None),
    "alice": ("/alice", 50, None),
    "plaintext": ("/", 64, [str(LUA / "pipeline.lua"), "16"]),
    "upload": ("/upload", 8, [str(LUA / "upload.lua"), "1048576"]),
    # hello through a framework's routing (benchmarks/servers/framework_apps.py)
    "fastapi": ("/", 50, None),
    "starlette": ("/", 50, None),
}
FRAMEWORKS = ("fastapi", "starlette")
LATENCY_SERVERS = [
    "httpaf-native",
    "httpaf-asgi",
    "uvicorn-httpaf",
    "uvicorn-httptools",
    "granian",
    "raw-httptools",
    "nginx",
]
GROWTH_SERVERS = ["httpaf-native", "httpaf-asgi"]


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of each figure over the rounds."""

    def stat(key: str) -> dict[str, float] | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        if not values:
            return None
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    p99 = [r["latency_ms"].get("99") for r in runs if r["latency_ms"].get("99") is not None]
    return {
        "rps": stat("rps"),
        "cpu_us_per_request": stat("cpu_us_per_request"),
        "faults_per_request": stat("faults_per_request"),
        "rss_mb": stat("rss_mb"),
        "p99_ms": statistics.median(p99) if p99 else None,
        "errors": sum(r["errors"] for r in runs),
        "rounds": len(runs),
    }


@contextlib.contextmanager
def running(table: list[Server]) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Start every server (idle ones cost nothing); stop them all at the end."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for server in table:
            process = start(server)
            if process is not None:
                processes[server.name] = process
        yield processes
    finally:
        for process in processes.values():
            stop(process)


def implementation(python: str, root: Path) -> str:
    """``httpaf.implementation`` as ``python`` sees it from ``root`` (a stale build
    falls back to pure Python, which must not pass for the compiled servers)."""
    out = subprocess.run(
        [python, "-c", "import httpaf; print(httpaf.implementation)"],
        capture_output=True,
        text=True,
        cwd=root,
        env={k: v for k, v in os.environ.items() if k != "HTTPAF_NO_EXTENSIONS"},
    )
    return out.stdout.strip() or out.stderr.strip().splitlines()[-1]


def check_compiled(table: list[Server]) -> dict[str, str]:
    """Each checkout's implementation; exit if one that should be compiled is not."""
    found = {}
    for server in table:
        if not server.name.startswith("httpaf") or "HTTPAF_NO_EXTENSIONS" in server.env:
            continue
        key = f"{server.argv[0]} @ {server.root}"
        if key not in found:
            found[key] = implementation(server.argv[0], server.root)
            if found[key] != "cython":
                sys.exit(
                    f"{server.name}: httpaf runs as {found[key]!r} under {key}; "
                    "build the extensions for that Python (setup.py build_ext --inplace)"
                )
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="httpaf-bench-"))
    table = servers(args.port, scratch, args.baseline)
    if args.servers:
        wanted = args.servers.split(",")
        table = [s for s in table if s.name in wanted]
    implementations = check_compiled(table)
    scenarios = (
        args.scenarios.split(",")
        if args.scenarios
        else list(SCENARIOS) + ["latency", "idle", "growth"]
    )
    results: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "rounds": args.rounds,
            "seconds": args.seconds,
            "python": subprocess.run(
                [PY, "-c", "import sys; print(sys.version.split()[0])"],
                capture_output=True,
                text=True,
            ).stdout.strip(),
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "implementations": implementations,
            "malloc_env": dict(MALLOC_ENV),
        },
        "scenarios": {},
    }
    by_name = {s.name: s for s in table}
    with running(table) as processes:
        names = [s.name for s in table if s.name in processes]
        results["meta"]["servers"] = names
        throughput = [s for s in scenarios if s in SCENARIOS]
        total = len(throughput) * args.rounds * len(names)
        step = 0
        for scenario in throughput:
            path, connections, script = SCENARIOS[scenario]
            runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
            eligible = [n for n in names if by_name[n].serves(scenario)]
            for name in eligible:  # warm-up
                wrk(f"http://127.0.0.1:{by_name[name].port}{path}", 1, connections, script)
            for round_ in range(args.rounds):
                for name in eligible:
                    step += 1
                    url = f"http://127.0.0.1:{by_name[name].port}{path}"
                    run_ = measure(processes[name], url, args.seconds, connections, script)
                    runs[name].append(run_)
                    cpu = run_["cpu_us_per_request"] or 0
                    faults = run_["faults_per_request"]
                    print(
                        f"[{step}/{total}] {scenario:9} round {round_ + 1} {name:20} "
                        f"{run_['rps']:>10,.0f} req/s  cpu {cpu:6.1f} µs/req"
                        + ("" if faults is None else f"  {faults:6.1f} faults/req"),
                        flush=True,
                    )
            results["scenarios"][scenario] = {n: summarize(r) for n, r in runs.items() if r}
        hello = results["scenarios"].get("hello", {})
        if "latency" in scenarios and "uvicorn-httptools" in hello:
            rate = int(hello["uvicorn-httptools"]["rps"]["median"] / 2)
            results["scenarios"]["latency"] = {"rate": rate, "servers": {}}
            latency_names = [n for n in LATENCY_SERVERS if n in processes]
            samples: dict[str, list[dict[str, Any]]] = {n: [] for n in latency_names}
            for round_ in range(args.rounds):  # interleaved, as the other scenarios
                for name in latency_names:
                    print(
                        f"latency round {round_ + 1} {name} at {rate} req/s, 1000 connections",
                        flush=True,
                    )
                    url = f"http://127.0.0.1:{by_name[name].port}/"
                    script = [str(LUA / "rate.lua"), str(rate), "1000"]
                    samples[name].append(wrk(url, args.seconds * 2, 1000, script))
            for name, rounds in samples.items():
                results["scenarios"]["latency"]["servers"][name] = latency_summary(rounds)
        if "idle" in scenarios:
            results["scenarios"]["idle"] = {}
            for name in names:
                print(f"idle connections {name}", flush=True)
                # A fresh process: earlier scenarios (1 MiB uploads) leave RSS behind.
                stop(processes[name])
                fresh = start(by_name[name])
                if fresh is None:
                    continue
                processes[name] = fresh
                with contextlib.suppress(OSError):
                    results["scenarios"]["idle"][name] = idle_connections(
                        processes[name], by_name[name].port, args.idle
                    )
        if "growth" in scenarios:
            results["scenarios"]["growth"] = {}
            for name in [n for n in GROWTH_SERVERS if n in processes]:
                rps = hello.get(name, {}).get("rps", {}).get("median") or 50_000
                print(f"RSS growth {name} over ~2M requests", flush=True)
                results["scenarios"]["growth"][name] = rss_growth(
                    processes[name], f"http://127.0.0.1:{by_name[name].port}/", rps
                )
    shutil.rmtree(scratch, ignore_errors=True)
    return results


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


# -- reporting --------------------------------------------------------------------------


def ratio(value: float | None, ref: float | None) -> str:
    return f"{value / ref:.2f}×" if value and ref else "–"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Run {meta['date']}, {meta['cpu']}, {meta['cores']} cores, Python {meta['python']}; "
        f"{meta['rounds']} interleaved rounds of {meta['seconds']} s per configuration; "
        "servers pinned to core 1, wrk (1 thread) to core 0. Medians (min–max)."
        + (" glibc's thresholds fixed in every server (--steady-malloc)."
           if meta.get("malloc_env") else ""),
        "",
    ]
    for scenario in SCENARIOS:
        data = results["scenarios"].get(scenario)
        if not data:
            continue
        reference = (
            f"uvicorn-httptools+{scenario}" if scenario in FRAMEWORKS else "uvicorn-httptools"
        )
        ref = data.get(reference, {}).get("rps", {}) or {}
        raw = data.get("raw-httptools", {}).get("rps", {}) or {}
        raw_cpu = (data.get("raw-httptools", {}).get("cpu_us_per_request") or {}).get("median")
        ref_cpu = (data.get(reference, {}).get("cpu_us_per_request") or {}).get("median")
        lines += [
            f"### {scenario}",
            "",
            f"| server | req/s | × {reference} | × raw | CPU µs/req | {reference} CPU ÷ this "
            "| × raw CPU | p99 ms | RSS MB | errors |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, s in sorted(data.items(), key=lambda kv: -(kv[1]["rps"] or {}).get("median", 0)):
            rps = s["rps"] or {}
            cpu = (s["cpu_us_per_request"] or {}).get("median")
            median = rps.get("median")
            spread = f"({rps.get('min', 0):,.0f}–{rps.get('max', 0):,.0f})"
            lines.append(
                f"| {name} | {median or 0:,.0f} {spread} "
                f"| {ratio(median, ref.get('median'))} | {ratio(median, raw.get('median'))} "
                f"| {cpu or 0:.1f} | {ratio(ref_cpu, cpu)} | {ratio(cpu, raw_cpu)} "
                f"| {s['p99_ms'] or 0:.2f} "
                f"| {(s['rss_mb'] or {}).get('median', 0):.1f} | {s['errors']} |"
            )
        lines.append("")
    latency = results["scenarios"].get("latency")
    if latency:
        lines += [
            f"### latency at a fixed {latency['rate']:,} req/s, 1000 connections (ms)",
            "",
            "Medians over the rounds; the p99's range in brackets; the rate wrk reached.",
            "",
            "| server | req/s | p50 | p90 | p99 | p99.9 | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, s in latency["servers"].items():
            p = s["percentiles_ms"]
            span = s.get("p99_range_ms")
            p99 = f"{p.get('99', 0):.2f}" + (f" ({span[0]:.2f}–{span[1]:.2f})" if span else "")
            lines.append(
                f"| {name} | {s.get('achieved_rps', 0):,.0f} | {p.get('50', 0):.2f} "
                f"| {p.get('90', 0):.2f} | {p99} "
                f"| {p.get('99.9', 0):.2f} | {s['errors']} |"
            )
        lines.append("")
    idle = results["scenarios"].get("idle")
    if idle:
        lines += [
            "### memory per idle keep-alive connection",
            "",
            f"RSS growth over the first {next(iter(idle.values()))['connections']:,} "
            "connections, and over as many more (the marginal cost: the first figure is "
            "flattered by free memory the heap already had).",
            "",
            "| server | bytes/connection | marginal bytes/connection | base RSS MB |",
            "|---|---|---|---|",
        ]
        for name, s in sorted(idle.items(), key=lambda kv: kv[1]["bytes_per_connection"]):
            marginal = s.get("marginal_bytes_per_connection")
            lines.append(
                f"| {name} | {s['bytes_per_connection']:,.0f} "
                f"| {'' if marginal is None else f'{marginal:,.0f}'} | {s['rss_base_mb']:.1f} |"
            )
        lines.append("")
    growth = results["scenarios"].get("growth")
    if growth:
        lines += [
            "### RSS growth between ~0.5M and ~2M requests",
            "",
            "| server | requests | RSS at first mark MB | RSS at end MB | growth |",
            "|---|---|---|---|---|",
        ]
        for name, s in growth.items():
            lines.append(
                f"| {name} | {s['requests_total']:,} | {s['rss_after_first_mb']:.1f} "
                f"| {s['rss_after_all_mb']:.1f} | {s['growth_percent']:+.1f}% |"
            )
        lines.append("")
    return "\n".join(lines)


def charts(results: dict[str, Any], name: str = "latest") -> list[Path]:
    """Throughput bars per scenario and latency percentile curves, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    scenarios = [s for s in SCENARIOS if s in results["scenarios"]]
    if scenarios:
        fig, axes = plt.subplots(len(scenarios), 1, figsize=(10, 3.2 * len(scenarios)))
        axes = [axes] if len(scenarios) == 1 else axes
        for ax, scenario in zip(axes, scenarios, strict=True):
            data = results["scenarios"][scenario]
            names = sorted(data, key=lambda n: (data[n]["rps"] or {}).get("median", 0))
            values = [(data[n]["rps"] or {}).get("median", 0) for n in names]
            colors = [
                "#d62728" if n.startswith(("httpaf", "uvicorn-httpaf")) else "#7f7f7f"
                for n in names
            ]
            ax.barh(names, values, color=colors)
            ax.set_title(f"{scenario}: requests/s (median)")
            for y, v in enumerate(values):
                ax.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
        fig.tight_layout()
        path = RESULTS / ("throughput.png" if name == "latest" else f"{name}-throughput.png")
        fig.savefig(path, dpi=110)
        written.append(path)
    latency = results["scenarios"].get("latency")
    if latency:
        fig, ax = plt.subplots(figsize=(9, 5))
        for server, s in latency["servers"].items():
            points = sorted((float(k), v) for k, v in s["percentiles_ms"].items())
            if points:
                xs = [100 / (100 - p) for p, _ in points]  # 1/(1-q): the usual HDR x axis
                ax.plot(xs, [v for _, v in points], marker="o", label=server)
        ax.set_xscale("log")
        ax.set_xticks([2, 10, 100, 1000, 10000])
        ax.set_xticklabels(["50%", "90%", "99%", "99.9%", "99.99%"])
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"latency at {latency['rate']:,} req/s, 1000 connections")
        ax.legend()
        fig.tight_layout()
        path = RESULTS / ("latency.png" if name == "latest" else f"{name}-latency.png")
        fig.savefig(path, dpi=110)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--servers", help="comma-separated server names")
    parser.add_argument(
        "--scenarios",
        help="comma-separated (default: all): hello,alice,plaintext,upload,fastapi,"
        "starlette,latency,idle,growth",
    )
    parser.add_argument("--idle", type=int, default=2000, help="idle connections to open")
    parser.add_argument(
        "--python",
        help="the Python the servers run on (default: this one); its venv needs the peers too",
    )
    parser.add_argument("--name", default="latest", help="results file names: NAME.json, NAME.md")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (with its .venv built) whose native and ASGI servers run "
        "beside these, as httpaf-native@baseline and httpaf-asgi@baseline",
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 rounds of 3 s, 500 idle connections"
    )
    parser.add_argument(
        "--steady-malloc",
        action="store_true",
        help="fix glibc's mmap and trim thresholds in every server's environment (the "
        "upload scenario's heap then stays in one state: docs/benchmarks.md)",
    )
    args = parser.parse_args()
    if args.steady_malloc:
        MALLOC_ENV.update(STEADY_MALLOC)
    if args.python:
        global PY
        PY = args.python
    if args.quick:
        args.rounds, args.seconds, args.idle = 2, 3.0, 500
    raise_fd_limit()
    # SIGTERM unwinds like an error, so the servers started so far are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = run(args)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    report = markdown(results)
    (RESULTS / f"{args.name}.md").write_text(report + "\n")
    for path in charts(results, args.name):
        print(f"wrote {path.relative_to(ROOT)}")
    print(report)


if __name__ == "__main__":
    main()
