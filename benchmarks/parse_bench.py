"""Parse and serialize micro-benchmarks: httpaf (Cython and pure) against the peers.

Each parser turns the same bytes into method, target, version, header list and body;
each serializer turns a response with five header fields and a 2 KB body into bytes
(or iovecs). Every measurement is repeated and the median of the repeats is reported,
in nanoseconds per message; ratios are to httpaf's Cython implementation.

    python benchmarks/parse_bench.py            # a table
    python benchmarks/parse_bench.py --json
        # {"parse": {CASE: {IMPL: ns}}, "serialize": {IMPL: ns}}
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# picohttpparser's bench.c request: 703 bytes.
BROWSER_GET = (
    b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
    b"Host: www.kittyhell.com\r\n"
    b"User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) "
    b"Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
    b"Accept-Encoding: gzip,deflate\r\n"
    b"Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
    b"Keep-Alive: 115\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    b"__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    b"__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|"
    b"utmcct=/reader/|utmcmd=referral\r\n"
    b"\r\n"
)
SMALL_GET = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
POST_1K = (
    b"POST /submit HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: 1024\r\n\r\n" + bytes(range(256)) * 4
)
CASES = {"browser_get": BROWSER_GET, "small_get": SMALL_GET, "post_1k": POST_1K}

RESPONSE_FIELDS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", "2048"),
    ("Date", "Thu, 26 Nov 2026 06:00:00 GMT"),
    ("Server", "httpaf"),
    ("Cache-Control", "no-cache"),
]
RESPONSE_BODY = b"x" * 2048

Parsed = tuple[Any, Any, Any, list[Any], bytes]


# -- parsers ---------------------------------------------------------------------------


def httpaf_parse(module: Any) -> Callable[[bytes], Parsed]:
    from httpaf.model.config import Config

    config = Config()
    RequestParser = module.RequestParser

    def parse(data: bytes) -> Parsed:
        parser = RequestParser(config)
        end = len(data)
        request = parser.parse(data, 0, end, False)
        pos = parser.consumed
        body = b""
        if parser.body_length:
            pieces = []
            while pos < end:
                event = parser.parse(data, pos, end, False)
                pos += parser.consumed
                if type(event) is not memoryview:
                    break
                pieces.append(bytes(event))
            body = b"".join(pieces)
        return request.method, request.target, request.version, request.headers, body

    return parse


def httptools_parse() -> Callable[[bytes], Parsed]:
    import httptools

    class Collector:
        __slots__ = ("url", "headers", "body")

        def __init__(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []
            self.body: list[bytes] = []

        def on_url(self, url: bytes) -> None:
            self.url = url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name, value))

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

    def parse(data: bytes) -> Parsed:
        collector = Collector()
        parser = httptools.HttpRequestParser(collector)
        parser.feed_data(data)
        return (
            parser.get_method(),
            collector.url,
            parser.get_http_version(),
            collector.headers,
            b"".join(collector.body),
        )

    return parse


def event_parse(module_name: str) -> Callable[[bytes], Parsed]:
    """h11 or zttp: a fresh server connection, events read to the end of the message."""
    module = importlib.import_module(module_name)
    Connection, SERVER, Data = module.Connection, module.SERVER, module.Data

    def parse(data: bytes) -> Parsed:
        conn = Connection(SERVER)
        conn.receive_data(data)
        request = conn.next_event()
        body = []
        while True:
            event = conn.next_event()
            if type(event) is Data:
                body.append(event.data)
            else:
                break
        return (
            request.method,
            request.target,
            request.http_version,
            list(request.headers),
            b"".join(body),
        )

    return parse


# -- serializers -----------------------------------------------------------------------


def httpaf_serialize(module: Any) -> Callable[[], int]:
    from httpaf.model.message import Response

    serializer = module.Serializer(4096)
    response = Response(200, RESPONSE_FIELDS)

    def serialize() -> int:
        serializer.write_response_head(response)
        serializer.write(RESPONSE_BODY)
        iovecs = serializer.operation()
        n = sum(map(len, iovecs))
        serializer.shift(n)
        return n

    return serialize


def h11_serialize() -> Callable[[], int]:
    import h11

    response = h11.Response(
        status_code=200, headers=[(n.encode(), v.encode()) for n, v in RESPONSE_FIELDS]
    )
    data = h11.Data(data=RESPONSE_BODY)
    end = h11.EndOfMessage()
    conn = h11.Connection(h11.SERVER)

    def serialize() -> int:
        # One cycle of a keep-alive connection; only the send() calls serialize.
        conn.receive_data(SMALL_GET)
        conn.next_event()
        conn.next_event()
        n = len(conn.send(response)) + len(conn.send(data)) + len(conn.send(end))
        conn.start_next_cycle()
        return n

    return serialize


def h11_receive_only() -> Callable[[], int]:
    """The rest of :func:`h11_serialize`'s cycle, subtracted from it.

    It still serializes a bare 204 head, so the difference slightly flatters h11.
    """
    import h11

    conn = h11.Connection(h11.SERVER)
    response = h11.Response(status_code=204, headers=[])
    end = h11.EndOfMessage()

    def cycle() -> int:
        conn.receive_data(SMALL_GET)
        conn.next_event()
        conn.next_event()
        conn.send(response)
        conn.send(end)
        conn.start_next_cycle()
        return 0

    return cycle


# -- measuring -------------------------------------------------------------------------


def measure(fn: Callable[[], Any], repeats: int, budget: float) -> float:
    """Median over ``repeats`` runs of the time per call, in nanoseconds."""
    n = 1
    while True:  # calibrate: about budget/repeats seconds per run
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > budget / repeats / 4:
            break
        n *= 2
    n = max(1, int(n * (budget / repeats) / max(elapsed, 1e-9)))
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e9)
    return statistics.median(runs)


def implementations() -> dict[str, Any]:
    """The httpaf wire modules that are importable, by name."""
    found = {}
    for name, suffix in (("httpaf-cython", ""), ("httpaf-pure", "_py")):
        try:
            found[name] = (
                importlib.import_module(f"httpaf._parser{suffix}"),
                importlib.import_module(f"httpaf._serializer{suffix}"),
            )
        except ImportError:
            pass
    return found


def run(repeats: int, budget: float) -> dict[str, Any]:
    """Every available measurement."""
    parsers: dict[str, Callable[[bytes], Parsed]] = {}
    serializers: dict[str, Callable[[], int]] = {}
    for name, (parser_module, serializer_module) in implementations().items():
        parsers[name] = httpaf_parse(parser_module)
        serializers[name] = httpaf_serialize(serializer_module)
    try:
        parsers["httptools"] = httptools_parse()
    except ImportError:
        pass
    for name in ("h11", "zttp"):
        try:
            parsers[name] = event_parse(name)
        except ImportError:
            pass
    results: dict[str, Any] = {"parse": {}, "serialize": {}}
    for case, data in CASES.items():
        results["parse"][case] = {}
        for name, parse in parsers.items():
            method, target, _, headers, body = parse(data)
            if len(headers) < 1 or (case == "post_1k" and len(body) != 1024):
                raise RuntimeError(f"{name} misparsed {case}")
            results["parse"][case][name] = measure(
                lambda parse=parse, data=data: parse(data), repeats, budget
            )
    for name, serialize in serializers.items():
        results["serialize"][name] = measure(serialize, repeats, budget)
    try:
        full = measure(h11_serialize(), repeats, budget)
        base = measure(h11_receive_only(), repeats, budget)
        results["serialize"]["h11"] = full - base
    except ImportError:
        pass
    return results


def table(results: dict[str, Any]) -> str:
    """The results as Markdown, with ratios to httpaf-cython (or pure if absent)."""
    lines = ["| parse (ns/message, median) | " + " | ".join(results["parse"]) + " |"]
    lines.append("|---" * (1 + len(results["parse"])) + "|")
    impls = list(next(iter(results["parse"].values())))
    for impl in impls:
        cells = []
        for case in results["parse"]:
            ns = results["parse"][case][impl]
            ref = (
                results["parse"][case].get("httpaf-cython") or results["parse"][case]["httpaf-pure"]
            )
            cells.append(f"{ns:,.0f} ({ns / ref:.1f}×)")
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| serialize head + 5 fields + 2 KB body | ns (median) | ratio |")
    lines.append("|---|---|---|")
    ser = results["serialize"]
    ref = ser.get("httpaf-cython") or ser["httpaf-pure"]
    for impl, ns in ser.items():
        lines.append(f"| {impl} | {ns:,.0f} | {ns / ref:.1f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=7, help="runs per measurement")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    results = run(args.repeats, args.seconds)
    if args.json:
        print(json.dumps(results))
    else:
        print(table(results))


if __name__ == "__main__":
    main()
