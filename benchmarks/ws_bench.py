"""The WebSocket benchmark: echo round trips against the servers people would pick instead.

Each server runs pinned to one core (``taskset -c 1``); the load generator
(benchmarks/ws_load.py: picows' compiled client, or httpaf's client for the
permessage-deflate runs, which picows cannot make) runs on the other (``taskset -c
0``). Every connection sends a message and waits for its echo before the next; the
figures are round trips per second and the server's CPU time per round trip (from
/proc, whole process tree), medians of the rounds, each scenario's servers measured
side by side, interleaved. Ratios compare httpaf's native and ASGI servers with their
targets measured in the same run.

    python benchmarks/ws_bench.py                      # the default matrix (~10 minutes)
    python benchmarks/ws_bench.py --quick              # one round, shorter runs
    python benchmarks/ws_bench.py --servers httpaf-native,picows --scenarios b16x100

Scenarios are named KIND SIZE x CONNS (``b`` binary, ``t`` text), with ``z`` for
deflate: ``b16x100``, ``t1024x1``, ``zt1024x100``. Results go to
benchmarks/results/ws-latest.json and ws-latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import (  # noqa: E402
    CLIENT_CORE,
    PY,
    RESULTS,
    Server,
    cpu_seconds,
    raise_fd_limit,
    start,
    stop,
)

ECHO = str(ROOT / "examples" / "ws_echo.py")
#: Scenarios measured by default (the issue's matrix, less the slowest corners).
DEFAULT_SCENARIOS = (
    "b16x1,b16x100,b1024x1,b1024x100,b65536x1,b65536x100,"
    "t16x100,t1024x100,t65536x100,zt1024x100,zb65536x100"
)


def ws_servers() -> list[Server]:
    """Every WebSocket server of the comparison (ports filled in later)."""
    quiet = ["--no-access-log", "--log-level", "warning", "--loop", "uvloop"]

    def uvicorn(http: str, ws: str) -> list[str]:
        return [
            PY, "-m", "uvicorn", "--app-dir", str(ROOT / "examples"), "ws_echo:app",
            "--http", http, "--ws", ws, *quiet, "--port", "{port}",
        ]  # fmt: skip

    routes = ("/ws",)
    return [
        Server("httpaf-native", [PY, ECHO, "--port", "{port}"], routes=routes),
        Server("httpaf-native-iterate", [PY, ECHO, "--iterate", "--port", "{port}"], routes=routes),
        Server("httpaf-asgi", [PY, ECHO, "--asgi", "--port", "{port}"], routes=routes),
        Server(
            "uvicorn-httpaf",
            uvicorn("httpaf.uvicorn:HttpafProtocol", "httpaf.uvicorn:HttpafWebSocketProtocol"),
            routes=routes,
        ),
        Server("uvicorn-websockets", uvicorn("httptools", "websockets"), routes=routes),
        Server(
            "uvicorn-websockets-sansio", uvicorn("httptools", "websockets-sansio"), routes=routes
        ),
        Server("uvicorn-wsproto", uvicorn("httptools", "wsproto"), routes=routes),
        Server(
            "websockets",
            [PY, "-m", "benchmarks.servers.ws_peers", "websockets", "--port", "{port}"],
            routes=routes,
        ),
        Server(
            "picows",
            [PY, "-m", "benchmarks.servers.ws_peers", "picows", "--port", "{port}"],
            routes=routes,
        ),
        Server(
            "aiohttp",
            [PY, "-m", "benchmarks.servers.ws_peers", "aiohttp", "--port", "{port}"],
            routes=routes,
        ),
        Server(
            "granian",
            [
                PY, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
                "--port", "{port}", "--workers", "1", "--loop", "uvloop",
                "--log-level", "warning", "--no-access-log",
                "--working-dir", str(ROOT / "examples"), "ws_echo:app",
            ],  # fmt: skip
            routes=routes,
        ),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_scenario(name: str) -> dict[str, Any]:
    match = re.fullmatch(r"(z?)([bt])(\d+)x(\d+)", name)
    if match is None:
        raise SystemExit(f"bad scenario {name!r} (e.g. b16x100, zt1024x100)")
    return {
        "name": name,
        "deflate": bool(match.group(1)),
        "kind": "text" if match.group(2) == "t" else "binary",
        "size": int(match.group(3)),
        "conns": int(match.group(4)),
    }


def load(port: int, scenario: dict[str, Any], seconds: float) -> dict[str, Any] | None:
    """Run the load generator on the client core; its JSON line, or None."""
    taskset = ["taskset", "-c", CLIENT_CORE] if shutil.which("taskset") else []
    argv = [
        *taskset, PY, str(ROOT / "benchmarks" / "ws_load.py"), f"ws://127.0.0.1:{port}/ws",
        "--conns", str(scenario["conns"]), "--size", str(scenario["size"]),
        "--kind", scenario["kind"], "--seconds", str(seconds),
    ]  # fmt: skip
    if scenario["deflate"]:
        argv.append("--deflate")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, env=env,
            preexec_fn=raise_fd_limit,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    print(f"    ! load failed: {out.stderr.strip()[-300:]}", flush=True)
    return None


def measure(server: Server, scenario: dict[str, Any], seconds: float) -> dict[str, Any] | None:
    """One round: start the server, load it, stop it."""
    server.port = free_port()
    server.argv = [a.replace("{port}", str(server.port)) for a in server.argv]
    process = start(server)
    if process is None:
        return None
    try:
        time.sleep(0.3)
        before = cpu_seconds(process.pid)
        started = time.perf_counter()
        result = load(server.port, scenario, seconds)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(process.pid) - before
    finally:
        stop(process)
    if not result or not result["round_trips"]:
        return None
    # CPU over the whole load run (connects, warm-up, measured part) divided by every
    # round trip of it is not available; the measured part's share of wall time is
    # used to scale the server's CPU to the measured window.
    share = result["seconds"] / wall if wall > 0 else 1.0
    return {
        "rate": result["round_trips"] / result["seconds"],
        "cpu_us": cpu * share / result["round_trips"] * 1e6,
        "deflate": result["deflate"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", default="", help="comma-separated names (default: all)")
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="one round of 1.5 s")
    parser.add_argument("--report", metavar="JSON", help="only rewrite the report of a run")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        args.rounds, args.seconds = saved["rounds"], saved["seconds"]
        report(saved["results"], args, saved["when"])
        return
    if args.quick:
        args.rounds, args.seconds = 1, 1.5
    everything = {s.name: s for s in ws_servers()}
    names = [n for n in args.servers.split(",") if n] or list(everything)
    unknown = [n for n in names if n not in everything]
    if unknown:
        raise SystemExit(f"unknown servers: {unknown}; known: {list(everything)}")
    scenarios = [parse_scenario(s) for s in args.scenarios.split(",") if s]
    results: dict[str, dict[str, Any]] = {}
    for scenario in scenarios:
        print(f"== {scenario['name']}", flush=True)
        rounds: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for _ in range(args.rounds):
            for name in names:
                server = ws_servers()[list(everything).index(name)]
                got = measure(server, scenario, args.seconds)
                if got is not None:
                    rounds[name].append(got)
        table = {}
        for name, got in rounds.items():
            if not got:
                continue
            if scenario["deflate"] and not all(g["deflate"] for g in got):
                print(f"  {name:28} (no permessage-deflate: not compared)", flush=True)
                continue
            rate = statistics.median(g["rate"] for g in got)
            cpu = statistics.median(g["cpu_us"] for g in got)
            table[name] = {"rate": rate, "cpu_us": cpu}
            print(f"  {name:28} {rate:12,.0f} rt/s {cpu:8.1f} us/rt", flush=True)
        results[scenario["name"]] = table
    report(results, args)


def ratio(table: dict[str, Any], a: str, b: str) -> str:
    """``a``'s round trips/s over ``b``'s, and (steadier on a shared machine) ``b``'s
    CPU per round trip over ``a``'s."""
    if a in table and b in table and table[b]["rate"] and table[a]["cpu_us"]:
        rate = table[a]["rate"] / table[b]["rate"]
        cpu = table[b]["cpu_us"] / table[a]["cpu_us"]
        return f"{rate:.2f}x / {cpu:.2f}x"
    return "-"


def report(
    results: dict[str, dict[str, Any]], args: argparse.Namespace, stamp: str = ""
) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = stamp or time.strftime("%Y-%m-%d %H:%M")
    (RESULTS / "ws-latest.json").write_text(
        json.dumps({"when": stamp, "rounds": args.rounds, "seconds": args.seconds,
                    "results": results}, indent=1)  # fmt: skip
    )
    names: list[str] = []
    for table in results.values():
        names.extend(n for n in table if n not in names)
    lines = [
        f"# WebSocket echo, {stamp} (round trips/s, server CPU us per round trip)",
        "",
        "| server | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for name in names:
        cells = []
        for table in results.values():
            got = table.get(name)
            cells.append(f"{got['rate']:,.0f} ({got['cpu_us']:.1f})" if got else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ratios: round trips/s, then CPU per round trip (the other's over ours):",
        "",
        "| ratio | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for label, a, b in [
        ("native / picows", "httpaf-native", "picows"),
        ("native / aiohttp", "httpaf-native", "aiohttp"),
        ("asgi / uvicorn+websockets", "httpaf-asgi", "uvicorn-websockets"),
        ("asgi / granian", "httpaf-asgi", "granian"),
        ("uvicorn-httpaf / uvicorn+websockets", "uvicorn-httpaf", "uvicorn-websockets"),
    ]:
        lines.append(f"| {label} | " + " | ".join(ratio(t, a, b) for t in results.values()) + " |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "ws-latest.md").write_text(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()
