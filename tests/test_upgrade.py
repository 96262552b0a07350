"""Upgrades (101) and CONNECT tunnels: the connection is handed over to the application.

Not in http/af (its issues #65 and #203): modelled on ocaml-h1's ``Upgrade``
operations. An upgrade request stops parsing until its handler answers; once the 101
head is written both operations are ``UPGRADE`` and the bytes after the request are
left unconsumed for the upgrade handler.
"""

from __future__ import annotations

import pytest

from httpaf import (
    UPGRADE,
    ClientConnection,
    Reqd,
    Request,
    Response,
    ServerConnection,
    StateError,
)

from helpers import Recorder, Runtime, get, ok, request_bytes, response_bytes

WS_REQUEST = request_bytes(
    "GET", "/ws", [("Host", "x"), ("Connection", "Upgrade"), ("Upgrade", "websocket")]
)
SWITCHING = Response(101, [("Upgrade", "websocket"), ("Connection", "Upgrade")])
SWITCHING_BYTES = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
FRAME = b"\x81\x05hello"


class WsApp:
    """Something to hand the connection to."""


def upgrade_now(app: object):
    def handler(reqd: Reqd) -> None:
        reqd.respond_with_upgrade(SWITCHING, app)

    return handler


def test_synchronous_upgrade_leaves_following_bytes_unconsumed() -> None:
    app = WsApp()
    handler = Recorder(upgrade_now(app))
    rt = Runtime(ServerConnection(handler))
    # The bytes after the request look like a request: they must not be parsed.
    smuggled = get(target="/smuggled")
    assert rt.read(WS_REQUEST + FRAME + smuggled) == len(WS_REQUEST)
    assert rt.pending == FRAME + smuggled
    assert handler.count == 1
    # Before the 101 is written the transport is not handed over.
    rt.reader_yielded()
    assert rt.conn.upgrade_handler is app
    rt.write(SWITCHING_BYTES)
    rt.reader_upgraded()  # woken when the head was written
    rt.writer_upgraded()
    assert rt.conn.next_read_operation() is UPGRADE
    assert rt.conn.next_write_operation() is UPGRADE
    assert rt.conn.upgrade_handler is app
    assert not rt.conn.is_closed


def test_asynchronous_upgrade() -> None:
    app = WsApp()
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    assert rt.read(WS_REQUEST + FRAME) == len(WS_REQUEST)
    rt.reader_yielded()  # parsing stops until the handler answers
    rt.writer_yielded()
    assert rt.conn.upgrade_handler is None
    handler.last.respond_with_upgrade(SWITCHING, app)
    rt.write(SWITCHING_BYTES)
    rt.reader_upgraded()
    rt.writer_upgraded()
    assert rt.pending == FRAME
    assert rt.conn.upgrade_handler is app


def test_upgrade_head_written_in_pieces() -> None:
    rt = Runtime(ServerConnection(upgrade_now("app")))
    rt.read(WS_REQUEST)
    rt.write_partial(SWITCHING_BYTES, 10)
    rt.reader_yielded()  # not all of the head is out yet
    rt.write(SWITCHING_BYTES[10:])
    rt.reader_upgraded()
    rt.writer_upgraded()


def test_refused_upgrade_resumes_parsing() -> None:
    def refuse(reqd: Reqd) -> None:
        reqd.respond_with_string(Response(200), b"no")

    handler = Recorder(refuse)
    rt = Runtime(ServerConnection(handler))
    data = WS_REQUEST + get(target="/next")
    assert rt.read(data) == len(data)
    assert [r.request.target for r in handler.reqds] == ["/ws", "/next"]
    assert rt.drain() == ok(b"no") + ok(b"no")
    rt.reader_ready()


def test_refused_asynchronous_upgrade_resumes_parsing() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    data = WS_REQUEST + get(target="/next")
    assert rt.read(data) == len(WS_REQUEST)
    rt.reader_yielded()
    handler.last.respond_with_string(Response(426, [("Upgrade", "websocket")]), b"")
    # The reader was woken and presented the kept bytes: the next request is handled.
    assert [r.request.target for r in handler.reqds] == ["/ws", "/next"]
    assert rt.pending == b""


def test_refused_upgrade_body_consumed_by_its_framing() -> None:
    bodies: list[bytes] = []

    def refuse(reqd: Reqd) -> None:
        def on_read(data: memoryview) -> None:
            bodies.append(bytes(data))
            reqd.body.schedule_read(on_read, lambda: None)

        reqd.body.schedule_read(on_read, lambda: None)
        reqd.respond_with_string(Response(200), b"")

    handler = Recorder(refuse)
    rt = Runtime(ServerConnection(handler))
    req = request_bytes(
        "POST",
        "/ws",
        [("Host", "x"), ("Connection", "upgrade"), ("Upgrade", "h2c"), ("Content-Length", "5")],
        b"abcde",
    )
    data = req + get(target="/next")
    assert rt.read(data) == len(data)
    assert bodies == [b"abcde"]
    assert [r.request.target for r in handler.reqds] == ["/ws", "/next"]


def test_connect_tunnel() -> None:
    app = WsApp()

    def tunnel(reqd: Reqd) -> None:
        assert reqd.request.method == "CONNECT"
        reqd.respond_with_upgrade(Response(200), app)

    rt = Runtime(ServerConnection(tunnel))
    req = request_bytes("CONNECT", "example.com:443", [("Host", "example.com:443")])
    tls = b"\x16\x03\x01\x02\x00"
    assert rt.read(req + tls) == len(req)
    rt.write(b"HTTP/1.1 200 OK\r\n\r\n")
    rt.reader_upgraded()
    rt.writer_upgraded()
    assert rt.pending == tls
    assert rt.conn.upgrade_handler is app


def test_connect_refused() -> None:
    rt = Runtime(
        ServerConnection(lambda reqd: reqd.respond_with_string(Response(403), b""))
    )
    req = request_bytes("CONNECT", "example.com:443", [("Host", "example.com:443")])
    rt.read(req + get())
    forbidden = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    assert rt.drain() == forbidden + forbidden  # parsing went on after the refusal


def test_multi_valued_connection_header_is_an_upgrade() -> None:
    rt = Runtime(ServerConnection(upgrade_now("app")))
    req = request_bytes(
        "GET", "/", [("Host", "x"), ("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket")]
    )
    assert rt.read(req + FRAME) == len(req)
    rt.write(SWITCHING_BYTES)
    rt.reader_upgraded()


def test_upgrade_field_without_connection_upgrade_is_not_an_upgrade() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    req = request_bytes("GET", "/", [("Host", "x"), ("Upgrade", "websocket")])
    assert rt.read(req + get(target="/next")) == len(req) + len(get(target="/next"))
    with pytest.raises(StateError):
        handler.last.respond_with_upgrade(SWITCHING, "app")
    handler.last.respond_with_string(Response(200), b"")
    rt.write(ok())
    assert handler.last.request.target == "/next"


@pytest.mark.parametrize(
    "request_data, response, error",
    [
        (get(), Response(101), StateError),  # not an upgrade request
        (WS_REQUEST, Response(200), ValueError),  # an upgrade is answered with 101
        (
            request_bytes("CONNECT", "h:1", [("Host", "h:1")]),
            Response(101),
            ValueError,
        ),  # a CONNECT with 2xx
    ],
)
def test_respond_with_upgrade_refused(request_data: bytes, response: Response, error: type) -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(request_data)
    with pytest.raises(error):
        handler.last.respond_with_upgrade(response, "app")
    rt.writer_yielded()  # nothing was written
    assert rt.conn.upgrade_handler is None


def test_upgrade_after_response_refused() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(WS_REQUEST)
    handler.last.respond_with_string(Response(200), b"")
    with pytest.raises(StateError, match="already"):
        handler.last.respond_with_upgrade(SWITCHING, "app")


def test_transport_closed_before_upgrade_head_written() -> None:
    rt = Runtime(ServerConnection(upgrade_now("app")))
    rt.read(WS_REQUEST)
    rt.report_closed()
    rt.writer_closed(len(SWITCHING_BYTES))
    assert rt.conn.next_read_operation() is not UPGRADE


def test_client_upgrade() -> None:
    rt = Runtime(ClientConnection())
    got: list[Response] = []
    errors: list[BaseException] = []
    rt.conn.request(
        Request("GET", "/ws", [("Connection", "Upgrade"), ("Upgrade", "websocket")]),
        lambda response, body: got.append(response),
        errors.append,
    ).close()
    rt.drain()
    assert rt.read(SWITCHING_BYTES + FRAME) == len(SWITCHING_BYTES)
    assert got[0].status == 101 and errors == []
    rt.reader_upgraded()
    rt.writer_upgraded()
    assert rt.pending == FRAME
    assert rt.conn.in_flight == 0
    rt.conn.shutdown()
    assert errors == []


def test_client_connect_tunnel() -> None:
    rt = Runtime(ClientConnection())
    got: list[Response] = []
    rt.conn.request(
        Request("CONNECT", "h:443", [("Host", "h:443")]),
        lambda r, b: got.append(r),
        lambda error: pytest.fail(f"unexpected error {error!r}"),
    ).close()
    rt.drain()
    data = response_bytes("200 Connection Established") + b"\x16\x03"
    assert rt.read(data) == len(data) - 2
    rt.reader_upgraded()
    rt.writer_upgraded()
    assert got[0].status == 200
    assert rt.conn.in_flight == 0
    rt.conn.shutdown()  # the finished exchange is not told about the shutdown
