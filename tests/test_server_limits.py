"""Config limits and framing errors as a client sees them through ``ServerConnection``.

Bad input gets a clear 4xx/5xx from the default error handler (the reason phrase as
``text/plain``, with ``Content-Length`` and ``Connection: close``) and the connection
ends; nothing after a framing error ever reaches the request handler.
"""

from __future__ import annotations

import pytest

from httpaf import Config, ParseError, Reqd, Response, ServerConnection
from httpaf.model.status import reason_phrase

from helpers import (
    Recorder,
    Runtime,
    default_request_handler,
    get,
    ok,
    ok_closing,
    request_bytes,
)


def error_response(status: int) -> bytes:
    reason = reason_phrase(status)
    body = (reason + "\n").encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n"
    ).encode() + body


def run(data: bytes, config: Config | None = None, eof: bool = False) -> tuple[Runtime, Recorder, bytes]:
    handler = Recorder(default_request_handler)
    rt = Runtime(ServerConnection(handler, None, config))
    if eof:
        rt.read_eof(data)
    else:
        rt.read(data)
    return rt, handler, rt.drain()


SMALL = Config(max_request_line=64, max_field_size=64, max_head_size=256, max_headers=4)

CASES = [
    # (id, request bytes, config, status)
    ("request line too long", b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: x\r\n\r\n", SMALL, 414),
    (
        "request line too long, incomplete",
        b"GET /" + b"a" * 100,
        SMALL,
        414,
    ),
    ("field too large", request_bytes(headers=[("Host", "x"), ("X-Big", "b" * 100)]), SMALL, 431),
    (
        "too many fields",
        request_bytes(headers=[("Host", "x")] + [(f"X-{i}", "v") for i in range(5)]),
        SMALL,
        431,
    ),
    (
        "head too large",
        request_bytes(headers=[("Host", "x")] + [(f"X-{i}", "v" * 50) for i in range(3)])
        + b"",
        Config(max_request_line=64, max_field_size=64, max_head_size=128),
        431,
    ),
    (
        "body too large (Content-Length)",
        request_bytes("POST", "/", [("Host", "x"), ("Content-Length", "11")], b"x" * 11),
        Config(max_body_size=10),
        413,
    ),
    ("missing Host", b"GET / HTTP/1.1\r\n\r\n", None, 400),
    ("two Host fields", request_bytes(headers=[("Host", "x"), ("Host", "y")]), None, 400),
    (
        "Content-Length and Transfer-Encoding",
        request_bytes(
            "POST", "/", [("Host", "x"), ("Content-Length", "3"), ("Transfer-Encoding", "chunked")]
        ),
        None,
        400,
    ),
    (
        "two Content-Lengths",
        request_bytes("POST", "/", [("Host", "x"), ("Content-Length", "3"), ("Content-Length", "3")]),
        None,
        400,
    ),
    ("negative Content-Length", request_bytes("POST", "/", [("Host", "x"), ("Content-Length", "-1")]), None, 400),
    ("hex Content-Length", request_bytes("POST", "/", [("Host", "x"), ("Content-Length", "0x10")]), None, 400),
    ("obsolete line folding", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", None, 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", None, 400),
    ("bare LF in head", b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", None, 400),
    ("NUL in field value", b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", None, 400),
    ("garbage", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", None, 400),
    ("bad request target", b"GET index.html HTTP/1.1\r\nHost: x\r\n\r\n", None, 400),
    (
        "TE in HTTP/1.0",
        request_bytes("POST", "/", [("Transfer-Encoding", "chunked")], version="HTTP/1.0"),
        None,
        400,
    ),
    (
        "transfer coding not implemented",
        request_bytes("POST", "/", [("Host", "x"), ("Transfer-Encoding", "gzip, chunked")]),
        None,
        501,
    ),
    (
        "final coding not chunked",
        request_bytes("POST", "/", [("Host", "x"), ("Transfer-Encoding", "gzip")]),
        None,
        400,
    ),
    ("HTTP/2.0 request line", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", None, 505),
    ("HTTP/1.2 request line", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", None, 505),
]


@pytest.mark.parametrize("data, config, status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_request_head(data: bytes, config: Config | None, status: int) -> None:
    rt, handler, out = run(data, config)
    assert out == error_response(status)
    assert handler.count == 0
    rt.is_shutdown()


@pytest.mark.parametrize("data, config, status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_nothing_after_a_bad_head_is_handled(data: bytes, config: Config | None, status: int) -> None:
    rt, handler, out = run(data + get(target="/smuggled"), config)
    assert out == error_response(status)
    assert handler.count == 0
    rt.is_shutdown()


def test_good_request_then_bad_one() -> None:
    """The good request is answered, then the error; then the connection ends."""
    rt, handler, out = run(get(target="/ok") + b"GET / HTTP/1.1\r\nHost : x\r\n\r\n" + get())
    assert out == ok() + error_response(400)
    assert [r.request.target for r in handler.reqds] == ["/ok"]
    rt.is_shutdown()


def test_error_waits_for_pending_response() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(get(target="/slow") + b"BAD\r\n\r\n")
    rt.writer_yielded()
    handler.last.respond_with_string(Response(200), b"slow")
    assert rt.drain() == ok(b"slow") + error_response(400)
    rt.is_shutdown()


def test_chunked_body_too_large() -> None:
    got: list[bytes] = []

    def handler(reqd: Reqd) -> None:
        def on_read(data: memoryview) -> None:
            got.append(bytes(data))
            reqd.body.schedule_read(on_read, lambda: None)

        reqd.body.schedule_read(on_read, lambda: None)

    rt = Runtime(ServerConnection(handler, config=Config(max_body_size=10)))
    head = request_bytes("POST", "/", [("Host", "x"), ("Transfer-Encoding", "chunked")])
    rt.read(head + b"8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n" + get())
    assert b"".join(got) == b"01234567"
    assert rt.drain() == error_response(413)
    rt.is_shutdown()


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\nab\r\n0\r\n\r\n",  # not hex
        b"2\r\nabX\r\n0\r\n\r\n",  # no CRLF after the data
        b"2 \r\nab\r\n0\r\n\r\n",  # whitespace after the size
        b"-2\r\nab\r\n0\r\n\r\n",
        b"11111111111111111\r\n",  # more than 16 hex digits
        b"0\r\nContent-Length: 5\r\n\r\n",  # forbidden trailer
    ],
)
def test_bad_chunked_body(chunks: bytes) -> None:
    errors: list[BaseException] = []

    def handler(reqd: Reqd) -> None:
        reqd.body.schedule_read(lambda d: None, lambda: None)

    def on_error(request, error, start_response) -> None:
        errors.append(error)
        start_response([("Content-Length", "0")]).close()

    rt = Runtime(ServerConnection(Recorder(handler), on_error))
    head = request_bytes("POST", "/", [("Host", "x"), ("Transfer-Encoding", "chunked")])
    rt.read(head + chunks + get(target="/smuggled"))
    assert len(errors) == 1 and isinstance(errors[0], ParseError)
    out = rt.drain()
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close\r\n" in out
    rt.is_shutdown()


def test_connection_close_ignores_rest_of_pipeline() -> None:
    handler = Recorder(default_request_handler)
    rt = Runtime(ServerConnection(handler))
    first = get(("Connection", "close"))
    garbage = b"\x00\x01 NOT HTTP AT ALL\r\n\r\n"
    consumed = rt.read(first + get(target="/second") + garbage)
    assert consumed == len(first)  # the rest is never parsed
    assert handler.count == 1
    assert rt.drain() == ok_closing()
    rt.is_shutdown()


def test_connection_close_with_async_handler_ignores_rest() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    first = get(("Connection", "close"))
    assert rt.read(first + b"garbage\r\n\r\n") == len(first)
    rt.reader_closed()
    handler.last.respond_with_string(Response(200), b"")
    assert rt.drain() == ok_closing()
    rt.is_shutdown()


def test_smuggling_cl_te_never_reaches_handler() -> None:
    """The classic CL.TE smuggle: the request is refused whole."""
    smuggle = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nSMUGGLED"
    )
    rt, handler, out = run(smuggle + get())
    assert out == error_response(400)
    assert handler.count == 0


def test_truncated_head_at_eof() -> None:
    rt, handler, out = run(b"GET / HTTP/1.1\r\nHost: x\r\n", eof=True)
    assert out == error_response(400)
    assert handler.count == 0
    rt.is_shutdown()


def test_head_dribbled_byte_by_byte() -> None:
    handler = Recorder(default_request_handler)
    rt = Runtime(ServerConnection(handler))
    for byte in get():
        rt.read(bytes([byte]))
    assert handler.count == 1
    assert rt.drain() == ok()


def test_limits_are_exact() -> None:
    """A request line exactly at the limit passes; one byte more is 414."""
    config = Config(max_request_line=32)
    line = b"GET /" + b"a" * (32 - len(b"GET / HTTP/1.1\r\n")) + b" HTTP/1.1\r\n"
    assert len(line) == 32
    rt, handler, out = run(line + b"Host: x\r\n\r\n", config)
    assert out == ok() and handler.count == 1
    longer = line.replace(b"GET /", b"GET /a")
    rt, handler, out = run(longer + b"Host: x\r\n\r\n", config)
    assert out == error_response(414)


def test_error_handler_may_pass_a_list_of_fields() -> None:
    def on_error(request, error, start_response) -> None:
        start_response([("Content-Length", "0")]).close()

    rt = Runtime(ServerConnection(Recorder(), on_error))
    rt.read(b"BAD\r\n\r\n")
    assert rt.drain() == b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    rt.is_shutdown()
