"""The parsers' fast paths against their slow paths and against each other.

Both parsers take a shortcut for the common case and fall back to a line-by-line path
for everything else: the Cython parser scans a field line with SSE2 (loads that may
look past the line, never past the buffer) and keeps fields in a C array before making
the list; the pure parser matches a whole head with one regular expression. These
tests aim at the edges of those shortcuts: a bad byte at every offset of a line, lines
that end at the end of the buffer, obs-text, field counts around the C array's size and
``max_headers``, every limit at and just past its boundary, and the field-name spellings
the parsers know. Events, ``consumed`` counts and errors must be the same as when the
same bytes arrive byte by byte (the slow path), and the same in both implementations.
"""

from __future__ import annotations

import importlib
import random
from typing import Any

import pytest
from fuzz.harness import messages, run_parser

from httpaf.model.config import Config
from httpaf.model.message import Request

PY: Any = importlib.import_module("httpaf._parser_pure")
try:
    CY: Any = importlib.import_module("httpaf._parser")
except ImportError:  # the extension is not built: compare the pure parser with itself
    CY = None

DEFAULT = Config()


def log_of(module: Any, data: bytes, reads: list[bytes] | None = None,
           config: Config = DEFAULT, eof: bool = False, buffer: type = bytearray) -> list[Any]:
    """Events, consumed counts and errors, with ``buffer`` holding the pending bytes."""
    parser = module.RequestParser(config)
    if buffer is bytearray:
        return run_parser(parser, [data] if reads is None else reads, eof)
    # One exact-size bytes buffer: a line can end where the buffer ends.
    log: list[Any] = []
    pos = 0
    data = bytes(data)
    for _ in range(10_000):
        try:
            event = parser.parse(data, pos, len(data), eof)
        except Exception as error:  # noqa: BLE001 - a ParseError, compared as data
            log.append(("error", type(error).__name__, str(error), parser.consumed))
            return log
        log.append((describe(event), parser.consumed))
        pos += parser.consumed
        if event is None:
            return log
    raise AssertionError("the parser made no progress")


def describe(event: Any) -> Any:
    if isinstance(event, Request):
        return ("request", type(event.method).__name__, str(event.method), event.target,
                str(event.version), event.headers.to_list())
    if isinstance(event, memoryview):
        return ("data", bytes(event))
    return repr(event)


def check_strings(event: Any) -> None:
    """Every str of a head is an exact str whose ASCII flag matches its characters."""
    if isinstance(event, Request):
        for text in [event.target] + [s for field in event.headers for s in field]:
            assert type(text) is str
            assert text.isascii() == all(ord(c) < 128 for c in text), repr(text)


def agree(data: bytes, config: Config = DEFAULT, eof: bool = False) -> list[Any]:
    """Both implementations, one read and byte by byte, bytes and bytearray: one story."""
    one = log_of(PY, data, config=config, eof=eof)
    dribbled = log_of(PY, data, [data[i : i + 1] for i in range(len(data))] or [b""],
                      config=config, eof=eof)
    assert messages(one) == messages(dribbled)
    exact = log_of(PY, data, config=config, eof=eof, buffer=bytes)
    if CY is not None:
        assert log_of(CY, data, config=config, eof=eof) == one
        assert log_of(CY, data, [data[i : i + 1] for i in range(len(data))] or [b""],
                      config=config, eof=eof) == dribbled
        assert log_of(CY, data, config=config, eof=eof, buffer=bytes) == exact
    for module in (PY, CY) if CY is not None else (PY,):
        try:
            check_strings(module.RequestParser(config).parse(data, 0, len(data), eof))
        except Exception as error:  # noqa: BLE001
            assert type(error).__name__ == "ParseError"
    return one


# -- one byte at every offset of a field line ---------------------------------------------

ODD_BYTES = [b"\x00", b"\x01", b"\x08", b"\t", b"\x0b", b"\r", b"\n", b"\x1f", b" ", b":",
             b"\x7f", b"\x80", b"\xe9", b"\xff"]


@pytest.mark.parametrize("length", [1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 64])
def test_an_odd_byte_at_every_offset(length: int) -> None:
    for odd in ODD_BYTES:
        for at in range(length):
            value = bytearray(b"v" * length)
            value[at : at + 1] = odd
            for tail in (b"", b"X-Next: 1\r\n"):  # the line last, or not
                agree(b"GET / HTTP/1.1\r\nHost: h\r\nX-Odd: " + bytes(value) + b"\r\n" + tail
                      + b"\r\n")


@pytest.mark.parametrize("cut", range(0, 40))
def test_a_head_cut_short_at_the_end_of_the_buffer(cut: int) -> None:
    head = b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \xe9t\xe9 value\r\nX-B: 0123456789abcdef\r\n\r\n"
    data = head[: len(head) - cut]
    agree(data)
    agree(data, eof=True)


def test_obs_text_makes_latin_1_values() -> None:
    for value in (b"\x80", b"a\xff", b"caf\xe9", b"\xe9" * 40, b"x" * 20 + b"\xe9", b"x" * 40):
        log = agree(b"GET / HTTP/1.1\r\nHost: h\r\nX: " + value + b"\r\n\r\n")
        assert log[0][0][4] == [("Host", "h"), ("X", value.decode("latin-1"))]


# -- how many fields ---------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 31, 32, 33, 63, 64, 65, 99, 100, 101])
@pytest.mark.parametrize("max_headers", [32, 33, 64, 100])
def test_field_counts(count: int, max_headers: int) -> None:
    fields = b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(count))
    agree(b"GET / HTTP/1.1\r\n" + fields + b"Host: h\r\n\r\n", Config(max_headers=max_headers))


def test_a_bad_line_after_many_good_ones() -> None:
    for count in (0, 5, 31, 32, 33, 40):
        good = b"".join(b"X-%d: v\r\n" % i for i in range(count))
        for bad in (b"Bad Name: x\r\n", b"X-Bad: a\x01\r\n", b"X-Bad: a\rb\r\n", b"X-Bad: a\n",
                    b" folded\r\n", b": empty\r\n", b"NoColon\r\n"):
            agree(b"GET / HTTP/1.1\r\nHost: h\r\n" + good + bad + b"X-After: 1\r\n\r\n")


# -- limits at their boundaries ----------------------------------------------------------


def test_limits_at_and_past_their_boundaries() -> None:
    line = b"GET /" + b"a" * 30 + b" HTTP/1.1\r\n"  # 46 bytes
    fields = b"Host: h\r\nX-Long: " + b"b" * 40 + b"\r\nX-C: c\r\n"
    head = line + fields + b"\r\n"
    block = len(fields) + 2
    longest_field = len(b"X-Long: ") + 40 + 2
    for delta in (-1, 0, 1):
        agree(head, Config(max_request_line=len(line) + delta))
        agree(head, Config(max_request_line=len(line), max_head_size=len(head) + delta))
        agree(head, Config(max_field_size=block + delta))
        agree(head, Config(max_field_size=longest_field + delta))
        agree(head, Config(max_headers=3 + delta))


def test_whitespace_around_values() -> None:
    for value in (b"", b" ", b"\t", b"  a", b"a ", b"a\t", b" a b ", b"\ta\tb\t", b"a  b"):
        log = agree(b"GET / HTTP/1.1\r\nHost: h\r\nX:" + value + b"\r\nY: y\r\n\r\n")
        assert log[0][0][4][1] == ("X", value.decode().strip(" \t"))


# -- field names ---------------------------------------------------------------------------

NAMES = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Upgrade",
         "User-Agent", "Accept", "Cookie", "TE", "X-Forwarded-For", "Sec-WebSocket-Key"]


def spellings(name: str) -> list[str]:
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))
    return sorted({name, name.lower(), name.upper(), mixed, name + "x", "x" + name})


@pytest.mark.parametrize("name", NAMES)
def test_field_name_spellings(name: str) -> None:
    values = {"Content-Length": "3", "Transfer-Encoding": "chunked", "Connection": "close",
              "Expect": "100-continue", "Upgrade": "websocket"}
    for spelling in spellings(name):
        value = values.get(name, "v")
        for version in (b"1.0", b"1.1"):
            data = (b"POST / HTTP/" + version + b"\r\nHost: h\r\n"
                    + f"{spelling}: {value}\r\n".encode() + b"\r\nabc0\r\n\r\n")
            agree(data, eof=True)


def test_connection_tokens() -> None:
    for value in (b"close", b"Keep-Alive", b"upgrade", b" close , keep-alive ", b"x,,y",
                  b"CLOSE", b"keep-alive, Upgrade"):
        for version in (b"1.0", b"1.1"):
            agree(b"GET / HTTP/" + version + b"\r\nHost: h\r\nConnection: " + value
                  + b"\r\nUpgrade: websocket\r\n\r\n")


# -- request lines and targets ------------------------------------------------------------


def test_request_lines_and_targets() -> None:
    for line in (b"GET / HTTP/1.1", b"GET * HTTP/1.1", b"OPTIONS * HTTP/1.1",
                 b"GET http://h/x HTTP/1.1", b"GET h:80 HTTP/1.1", b"CONNECT h:80 HTTP/1.1",
                 b"CONNECT /x HTTP/1.1", b"CONNECT h: HTTP/1.1", b"PATCH /p HTTP/1.0",
                 b"get / HTTP/1.1", b"GET /\x80 HTTP/1.1", b"GET / HTTP/1.2", b"GET  / HTTP/1.1",
                 b"\r\nGET / HTTP/1.1", b"\r\n\r\nGET / HTTP/1.1"):
        for fields in (b"Host: h\r\n", b"", b"Host: h\r\nHost: i\r\n", b"Bad Field\r\n"):
            agree(line + b"\r\n" + fields + b"\r\n")


def test_bodies_after_the_head() -> None:
    for head, body in ((b"Content-Length: 5", b"hello"), (b"Content-Length: 05", b"hello"),
                       (b"Content-Length: 1234567890123456789", b"x"),
                       (b"Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"),
                       (b"Content-Length: 5\r\nTransfer-Encoding: chunked", b"")):
        data = b"POST / HTTP/1.1\r\nHost: h\r\n" + head + b"\r\n\r\n" + body
        agree(data + data)  # pipelined
        agree(data, Config(max_body_size=4))


# -- random heads --------------------------------------------------------------------------

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def random_head(rng: random.Random) -> bytes:
    lines = [b"GET /" + bytes(rng.choice(b"abc/?=") for _ in range(rng.randrange(40)))
             + b" HTTP/1.1\r\n"]
    for _ in range(rng.choice([0, 1, 5, 9, 33, 40])):
        name = rng.choice(NAMES + ["".join(rng.choice(TCHARS) for _ in range(rng.randrange(1, 30)))])
        value = bytes(rng.choice(b"ab \t\x80\xe9:;,=" + (b"\x01\r\n" if rng.random() < 0.02 else b""))
                      for _ in range(rng.choice([0, 1, 15, 16, 17, 60])))
        lines.append(name.encode() + b":" + value + b"\r\n")
    lines.insert(rng.randrange(len(lines)) + 1, b"Host: h\r\n")
    return b"".join(lines) + b"\r\n"


def test_random_heads() -> None:
    rng = random.Random(3)
    configs = [DEFAULT, Config(max_headers=33, max_field_size=200, max_request_line=64, max_head_size=2000)]
    for _ in range(150):
        data = random_head(rng)
        head = data[: rng.randrange(len(data) + 1)] if rng.random() < 0.2 else data
        agree(head, rng.choice(configs), eof=rng.random() < 0.5)
