"""Soak: mixed hostile and friendly traffic against the echo server, watching for leaks.

    python benchmarks/soak.py --minutes 10        (make soak MINUTES=10)
    python benchmarks/soak.py --seconds 20        (the short version tests/test_soak.py runs)
    python benchmarks/soak.py --websocket --minutes 10   (make soak-ws MINUTES=10)

Starts ``examples/echo.py`` as a subprocess on a free port (pinned to one core with
``taskset`` when there is one; the load runs pinned to another), then runs these
clients at once until the time is up, all to 127.0.0.1:

- keep-alive: 20 GETs per connection, one after the other;
- pipelined: 16 requests written at once, then 16 responses read;
- chunked uploads: POSTs with a chunked body of 1-64 KiB;
- large downloads: a 1 MiB upload echoed back (a 1.4 MiB JSON response);
- malformed requests: smuggling shapes and garbage, each must get a 4xx and a close;
- resets: a request cut by an RST (SO_LINGER 0) in its head, its body, or while the
  response is on its way.

With ``--websocket`` the server is ``examples/ws_echo.py`` and the clients are
WebSocket ones (the ``websockets`` library's client, and raw sockets for the hostile
ones): sessions of 20 text and binary messages of 0-64 KiB each checked against its
echo, the same with permessage-deflate, fragmented messages, connections cut in a
frame by an RST, protocol violations (each must be answered with its close code), and
plain HTTP requests to the same server.

Every few seconds it samples the server's RSS (``/proc/PID/status``) and open fds
(``/proc/PID/fd``). The echo server has no way to report its asyncio task count and the
runtime starts no task per connection, so tasks are not sampled (tests/test_faults.py
checks ``asyncio.all_tasks()`` in-process instead).

Samples are taken every 0.25 s and printed every ``--interval`` seconds. RSS swings
with what is in flight (a 1 MiB echo holds several copies of its body), so growth is
measured between medians: of the window right after the warm-up (a fifth of the run,
at least 5 s) and of the last window of load (same width). It fails (exit 1) when that
growth exceeds ``--max-growth`` percent (default 5); when the fd count is not back at
its value before the load within 10 s after the load stops; or when a well-formed
request got a wrong answer. It prints the samples and writes a chart to
``benchmarks/results/soak.png`` (when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from statistics import median

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ECHO = os.path.join(ROOT, "examples", "echo.py")
WS_ECHO = os.path.join(ROOT, "examples", "ws_echo.py")
CHART = os.path.join(ROOT, "benchmarks", "results", "soak.png")
HOST = "127.0.0.1"
RAW = 0.25  # seconds between raw samples

# Payload bytes map to printable ASCII: echoed in JSON, they take one byte each.
PRINTABLE = bytes(0x30 + i % 75 for i in range(256))

MALFORMED = [
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n Folded: yes\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
]


@dataclass
class Stats:
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        self.counts["FAILED"] += 1
        if len(self.failures) < 20:
            self.failures.append(what)


# -- the client side -------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return head, body


def check_echo(stats: Stats, kind: str, head: bytes, body: bytes, target: str,
               payload: bytes = b"") -> None:
    if not head.startswith(b"HTTP/1.1 200 OK\r\n"):
        stats.fail(f"{kind}: {head[:60]!r}")
        return
    document = json.loads(body)
    if document["target"] != target or document["body"].encode("latin-1") != payload:
        stats.fail(f"{kind}: wrong echo for {target}")
        return
    stats.counts[kind] += 1


async def keep_alive(stats: Stats, port: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for i in range(20):
            target = f"/ka/{i}?q={random.random()}"
            writer.write(f"GET {target} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
            head, body = await read_response(reader)
            check_echo(stats, "keep-alive", head, body, target)
    finally:
        writer.close()


async def pipelined(stats: Stats, port: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        targets = [f"/pipe/{i}" for i in range(16)]
        writer.write(b"".join(f"GET {t} HTTP/1.1\r\nHost: soak\r\n\r\n".encode() for t in targets))
        for target in targets:
            head, body = await read_response(reader)
            check_echo(stats, "pipelined", head, body, target)
    finally:
        writer.close()


async def chunked_upload(stats: Stats, port: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        payload = random.randbytes(random.randint(1, 64) * 1024).translate(PRINTABLE)
        writer.write(b"POST /upload HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(payload), 4096):
            piece = payload[i : i + 4096]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        head, body = await read_response(reader)
        check_echo(stats, "chunked-upload", head, body, "/upload", payload)
    finally:
        writer.close()


async def large_download(stats: Stats, port: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        payload = bytes(range(256)).translate(PRINTABLE) * 4096  # 1 MiB
        writer.write(b"POST /large HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n"
                     % len(payload))
        writer.write(payload)
        head, body = await read_response(reader)
        check_echo(stats, "large-download", head, body, "/large", payload)
    finally:
        writer.close()


async def malformed(stats: Stats, port: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(random.choice(MALFORMED))
        data = await reader.read()  # the server answers 4xx/5xx and closes
        if re.match(rb"HTTP/1\.1 (4\d\d|505|501) ", data) is None:
            stats.fail(f"malformed: {data[:60]!r}")
        else:
            stats.counts["malformed"] += 1
    finally:
        writer.close()


def _rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def resets(stats: Stats, port: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    where = random.choice(["head", "body", "response"])
    if where == "head":
        writer.write(b"GET /reset HTTP/1.1\r\nHost: so")
    elif where == "body":
        writer.write(b"POST /reset HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n"
                     + b"b" * 3000)
    else:
        writer.write(b"POST /reset HTTP/1.1\r\nHost: soak\r\nContent-Length: 200000\r\n\r\n"
                     + b"r" * 200_000)
        await reader.readexactly(1000)
    await writer.drain()
    await asyncio.sleep(0.01)
    _rst(writer)
    stats.counts[f"reset-{where}"] += 1


CLIENTS = [(keep_alive, 6), (pipelined, 3), (chunked_upload, 2), (large_download, 1),
           (malformed, 1), (resets, 1)]


# -- WebSocket clients (--websocket) ---------------------------------------------------------

_UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def _masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame (random key), built here rather than by the code under test."""
    key = os.urandom(4)
    n = len(payload)
    head = bytes((opcode | (0x80 if fin else 0),))
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 65536:
        head += struct.pack("!BH", 0xFE, n)
    else:
        head += struct.pack("!BQ", 0xFF, n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def _message() -> str | bytes:
    size = random.choice([0, 1, 16, 200, 1024, 5000, 65536])
    if random.random() < 0.5:
        return "".join(random.choice("aé€😀 ") for _ in range(size // 2))
    return os.urandom(size)


async def _ws_session(stats: Stats, port: int, kind: str, compression: str | None) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://{HOST}:{port}/ws"
    async with connect(url, compression=compression, max_size=None, ping_interval=None) as ws:
        for _ in range(20):
            message = _message()
            if random.random() < 0.2 and len(message) > 3:
                third = len(message) // 3
                await ws.send([message[:third], message[third:]])  # type: ignore[list-item]
            else:
                await ws.send(message)
            if await ws.recv() != message:
                stats.fail(f"{kind}: wrong echo")
                return
            stats.counts[kind] += 1


async def ws_plain(stats: Stats, port: int) -> None:
    await _ws_session(stats, port, "ws", None)


async def ws_deflate(stats: Stats, port: int) -> None:
    await _ws_session(stats, port, "ws-deflate", "deflate")


async def ws_violations(stats: Stats, port: int) -> None:
    """A protocol violation must be answered by a close frame with its code."""
    bad, code = random.choice([
        (b"\x81\x05hello", 1002),  # not masked
        (_masked(0x1, b"\xc0\xaf"), 1007),  # not UTF-8
        (_masked(0x3, b""), 1002),  # reserved opcode
        (_masked(0x9, b"x" * 126), 1002),  # control frame too long
        (_masked(0x0, b"x"), 1002),  # continuation of nothing
    ])
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(_UPGRADE + bad)
        await reader.readuntil(b"\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 10)  # the server closes after it
        if data[:1] != b"\x88" or int.from_bytes(data[2:4], "big") != code:
            stats.fail(f"ws-violation: {data[:16]!r}, expected close {code}")
            return
        stats.counts["ws-violation"] += 1
    finally:
        writer.close()


async def ws_resets(stats: Stats, port: int) -> None:
    """A connection cut by an RST in the middle of a frame."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(_UPGRADE)
    await reader.readuntil(b"\r\n\r\n")
    frame = _masked(0x2, os.urandom(random.choice([10, 3000, 70000])))
    writer.write(frame[: random.randrange(1, len(frame))])
    await writer.drain()
    _rst(writer)
    stats.counts["ws-reset"] += 1


async def ws_http(stats: Stats, port: int) -> None:
    """Plain HTTP to the WebSocket server: 404, then a close."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 404 "):
            stats.fail(f"ws-http: {head[:40]!r}")
            return
        stats.counts["ws-http"] += 1
    finally:
        writer.close()


WS_CLIENTS = [(ws_plain, 6), (ws_deflate, 3), (ws_violations, 2), (ws_resets, 1), (ws_http, 1)]


async def worker(kind, stats: Stats, port: int, until: float) -> None:  # type: ignore[no-untyped-def]
    while time.monotonic() < until:
        try:
            await asyncio.wait_for(kind(stats, port), 30)
        except Exception as error:  # noqa: BLE001 - any failure is counted
            stats.fail(f"{kind.__name__}: {type(error).__name__}: {error}"[:200])


# -- the server side -------------------------------------------------------------------------


def start_server(pin: str | None, script: str = ECHO) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, script, "--host", HOST, "--port", "0"]
    if pin is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", pin, *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"serving on http://[^:]+:(\d+)", line)
    if match is None:
        proc.kill()
        raise SystemExit(f"the echo server did not start: {line!r}")
    return proc, int(match.group(1))


def sample(pid: int) -> tuple[float, int]:
    """The process's RSS (MiB) and open fd count."""
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


async def soak(seconds: float, interval: float, pid: int, port: int, stats: Stats,
               samples: list[tuple[float, float, int, str]], clients: list) -> None:  # type: ignore[type-arg]
    """Run the clients; sample every ``RAW`` s, print a line every ``interval`` s."""
    start = time.monotonic()
    until = start + seconds
    tasks = [asyncio.ensure_future(worker(kind, stats, port, until))
             for kind, n in clients for _ in range(n)]
    next_print = start + interval
    window: list[float] = []
    while not all(t.done() for t in tasks):
        await asyncio.sleep(RAW)
        rss, fds = sample(pid)
        now = time.monotonic()
        samples.append((now - start, rss, fds, "load"))
        window.append(rss)
        if now >= next_print:
            next_print += interval
            done = sum(v for k, v in stats.counts.items() if k != "FAILED")
            print(f"  {now - start:7.1f} s  rss {rss:7.2f} MiB (median {median(window):7.2f})  "
                  f"fds {fds:4d}  exchanges {done:9d}  failed {stats.counts['FAILED']}", flush=True)
            window = []
        if now > until + 60:
            break
    await asyncio.gather(*tasks, return_exceptions=True)


def chart(samples: list[tuple[float, float, int, str]], warmup: float, path: str,
          interval: float = 0.0) -> bool:
    """RSS and fds over time: raw samples faint, one sample per ``interval`` bold."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    shown: list[tuple[float, float, int, str]] = []
    for s in samples:
        if not shown or s[3] != "load" or s[0] - shown[-1][0] >= interval:
            shown.append(s)
    fig, rss_ax = plt.subplots(figsize=(9, 4.5))
    fd_ax = rss_ax.twinx()
    rss_ax.set_zorder(fd_ax.get_zorder() + 1)
    rss_ax.patch.set_visible(False)
    if len(shown) < len(samples):
        rss_ax.plot([s[0] for s in samples], [s[1] for s in samples], color="tab:blue",
                    alpha=0.25, linewidth=0.5)
        fd_ax.plot([s[0] for s in samples], [s[2] for s in samples], color="tab:orange",
                   alpha=0.2, linewidth=0.5)
    marker = "." if len(shown) <= 200 else None
    rss_ax.plot([s[0] for s in shown], [s[1] for s in shown], color="tab:blue", marker=marker,
                linewidth=1.5, label="server RSS (MiB)")
    fd_ax.plot([s[0] for s in shown], [s[2] for s in shown], color="tab:orange", marker=marker,
               linewidth=1.0, label="server open fds")
    rss_ax.set_xlabel("seconds")
    rss_ax.set_ylabel("RSS (MiB)", color="tab:blue")
    fd_ax.set_ylabel("open fds", color="tab:orange")
    rss_ax.set_ylim(bottom=0, top=max(s[1] for s in samples) * 1.3)
    fd_ax.set_ylim(bottom=0, top=max(s[2] for s in samples) * 1.3)
    rss_ax.axvspan(0, warmup, color="grey", alpha=0.15, label="warm-up")
    load_end = max((s[0] for s in samples if s[3] == "load"), default=0)
    rss_ax.axvline(load_end, color="grey", linestyle="--", label="load stops")
    handles = rss_ax.get_legend_handles_labels()
    more = fd_ax.get_legend_handles_labels()
    rss_ax.legend(handles[0] + more[0], handles[1] + more[1], loc="lower right", fontsize=8)
    rss_ax.set_title("httpaf echo server under mixed traffic (soak)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--interval", type=float, default=None, help="seconds between samples")
    parser.add_argument("--max-growth", type=float, default=5.0, help="RSS growth limit, percent")
    parser.add_argument("--chart", default=CHART, help="PNG path ('' for none)")
    parser.add_argument("--websocket", action="store_true",
                        help="WebSocket traffic against examples/ws_echo.py")
    args = parser.parse_args()
    clients = WS_CLIENTS if args.websocket else CLIENTS
    if args.websocket and args.chart == CHART:
        args.chart = CHART.replace("soak.png", "soak-ws.png")
    seconds = args.seconds if args.seconds is not None else 60 * (args.minutes or 10)
    interval = args.interval or (5.0 if seconds >= 120 else 2.0)
    warmup = max(5.0, seconds / 5)

    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {1})  # the load on core 1, the server on core 0
    proc, port = start_server("0", WS_ECHO if args.websocket else ECHO)
    stats = Stats()
    samples: list[tuple[float, float, int, str]] = []
    try:
        time.sleep(0.3)
        rss0, fds0 = sample(proc.pid)
        samples.append((0.0, rss0, fds0, "idle"))
        print(f"echo server pid {proc.pid} on port {port}: idle rss {rss0:.2f} MiB, fds {fds0}")
        print(f"soak for {seconds:.0f} s (warm-up {warmup:.0f} s), a line every {interval:g} s")
        asyncio.run(soak(seconds, interval, proc.pid, port, stats, samples, clients))
        load_end = samples[-1][0]
        fds_after = fds0 + 1
        for i in range(100):  # up to 10 s for the lingering closes to finish
            time.sleep(0.1)
            rss, fds_after = sample(proc.pid)
            if i % 10 == 9 or fds_after <= fds0:
                samples.append((load_end + (i + 1) * 0.1, rss, fds_after, "after"))
            if fds_after <= fds0:
                break
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()

    # RSS swings with the requests in flight (a 1 MiB echo holds several copies), so
    # compare medians: a window right after warm-up against the last window of load.
    load = [s for s in samples if s[3] == "load"]
    width = max(5.0, seconds / 5)
    load_end = load[-1][0]
    first = [s[1] for s in load if warmup <= s[0] < warmup + width]
    last = [s[1] for s in load if s[0] >= load_end - width]
    base, end = median(first or [load[0][1]]), median(last or [load[-1][1]])
    growth = 100 * (end - base) / base
    peak = max(s[1] for s in samples)
    total = sum(v for k, v in stats.counts.items() if k != "FAILED")
    print("\nsamples (seconds, RSS MiB, fds, phase), one per interval:")
    shown = -interval
    for t, rss, fds, phase in samples:
        if phase != "load" or t - shown >= interval or t == load_end:
            shown = t
            print(f"  {t:8.1f}  {rss:8.2f}  {fds:5d}  {phase}")
    print(f"\nexchanges: {total} ({dict(sorted(stats.counts.items()))})")
    print(f"RSS: idle {rss0:.2f} MiB, "
          f"peak {peak:.2f} MiB; median of {width:.0f} s after warm-up {base:.2f} MiB, "
          f"of the last {width:.0f} s {end:.2f} MiB: growth {growth:+.2f}% "
          f"(limit {args.max_growth}%)")
    print(f"fds: before load {fds0}, after load {fds_after}")
    if args.chart and chart(samples, warmup, args.chart, interval):
        print(f"chart: {args.chart}")
    ok = True
    if growth > args.max_growth:
        print(f"FAIL: RSS grew {growth:.2f}% after warm-up")
        ok = False
    if fds_after > fds0:
        print(f"FAIL: {fds_after - fds0} fds still open after the load stopped")
        ok = False
    if stats.failures:
        print(f"FAIL: {stats.counts['FAILED']} wrong answers, e.g.:")
        for failure in stats.failures:
            print("   ", failure)
        ok = False
    if total == 0:
        print("FAIL: no exchange completed")
        ok = False
    print("soak: OK" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
