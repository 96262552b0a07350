"""The WebSocket state machine (httpaf.websocket): handshake, messages, control
frames, the closing handshake, failures with their close codes, permessage-deflate.
No I/O: two connections talk through bytes handed across by the test."""

from __future__ import annotations

import base64
import zlib

import pytest

from httpaf.model import CLOSE, YIELD, Closed, HandshakeError, Request, Response, StateError, Write
from httpaf.websocket import (
    Close,
    Ping,
    Pong,
    WebSocketConfig,
    WebSocketConnection,
    accept,
    accept_key,
    client_request,
    read_request,
    read_response,
    reject,
)
from httpaf.websocket.deflate import PerMessageDeflate, parse_extensions, server_accept
from httpaf.wire import encode_frame

KEY = b"\x01\x02\x03\x04"


def pair(config: WebSocketConfig | None = None) -> tuple[WebSocketConnection, WebSocketConnection]:
    """A client and a server that agreed on what ``config`` offers (deflate included)."""
    config = config or WebSocketConfig()
    request, key = client_request("example.com", "/chat", config)
    response, server_deflate = accept(read_request(request), config)
    _, client_deflate = read_response(response, key, config)
    client = WebSocketConnection(True, config, client_deflate, mask_key=lambda: KEY)
    server = WebSocketConnection(False, config, server_deflate)
    return client, server


def carry(src: WebSocketConnection, dst: WebSocketConnection) -> list[object]:
    """Move ``src``'s output into ``dst`` (frame by frame, as a runtime does); return
    ``dst``'s events."""
    data = src.take_output() or b""
    events: list[object] = []
    pos = 0
    while True:
        pos += dst.read(data, pos, len(data) - pos)
        got = dst.events()
        if not got:
            break
        events.extend(got)
    assert pos == len(data)
    return events


# -- the opening handshake -------------------------------------------------------------


def test_accept_key_of_rfc_6455() -> None:
    # RFC 6455 §1.3's example.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def handshake_request(**changes: str | None) -> Request:
    fields = {
        "Host": "example.com",
        "Upgrade": "websocket",
        "Connection": "keep-alive, Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": "chat, superchat",
    }
    fields.update(changes)
    return Request("GET", "/", [(k, v) for k, v in fields.items() if v is not None])


def test_server_handshake() -> None:
    handshake = read_request(handshake_request())
    assert handshake.subprotocols == ["chat", "superchat"]
    response, deflate = accept(handshake, subprotocol="superchat", headers=[("X-A", "1")])
    assert response.status == 101
    assert response.headers.get("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert response.headers.get("sec-websocket-protocol") == "superchat"
    assert response.headers.get("x-a") == "1"
    assert deflate is None  # not offered
    with pytest.raises(ValueError):
        accept(handshake, subprotocol="other")


@pytest.mark.parametrize(
    "changes, status",
    [
        ({"Sec-WebSocket-Version": "8"}, 426),
        ({"Sec-WebSocket-Version": None}, 426),
        ({"Sec-WebSocket-Key": None}, 400),
        ({"Sec-WebSocket-Key": "c2hvcnQ="}, 400),
        ({"Sec-WebSocket-Key": "not base64!!"}, 400),
        ({"Upgrade": "h2c"}, 400),
        ({"Connection": "keep-alive"}, 400),
    ],
)
def test_bad_handshakes(changes: dict[str, str | None], status: int) -> None:
    with pytest.raises(HandshakeError) as raised:
        read_request(handshake_request(**changes))
    assert raised.value.status == status
    response, body = reject(raised.value)
    assert response.status == status and body
    if status == 426:
        assert response.headers.get("sec-websocket-version") == "13"


def test_handshake_must_be_a_get() -> None:
    request = handshake_request()
    with pytest.raises(HandshakeError):
        read_request(Request("POST", "/", request.headers))


def test_client_checks_the_answer() -> None:
    config = WebSocketConfig()
    request, key = client_request("h", "/", config, subprotocols=["a"])
    assert request.headers.get("sec-websocket-extensions") == "permessage-deflate; client_max_window_bits"
    good, _ = accept(read_request(request), config, subprotocol="a")
    assert read_response(good, key, config, ["a"])[0] == "a"
    bad_accept = Response(101, [(n, "x" if n == "Sec-WebSocket-Accept" else v) for n, v in good.headers])
    with pytest.raises(HandshakeError, match="Accept"):
        read_response(bad_accept, key, config, ["a"])
    with pytest.raises(HandshakeError) as raised:
        read_response(Response(403), key, config)
    assert raised.value.status == 403
    with pytest.raises(HandshakeError, match="not offered"):
        read_response(good, key, config, [])


# -- messages and control frames -------------------------------------------------------


def test_messages_both_ways() -> None:
    client, server = pair(WebSocketConfig(per_message_deflate=False))
    client.send("héllo")
    client.send(b"\x00" * 70000)
    client.send_text("frag", final=False)
    client.ping(b"are you there")
    client.send_text("ments")
    assert carry(client, server) == ["héllo", b"\x00" * 70000, Ping(b"are you there"), "fragments"]
    assert carry(server, client) == [Pong(b"are you there")]  # answered by the server
    server.send(b"x" * 5000)  # written zero-copy behind its head
    op = server.next_write_operation()
    assert isinstance(op, Write) and len(op.iovecs) == 2
    assert carry(server, client) == [b"x" * 5000]


def test_fragmented_send_keeps_its_type() -> None:
    client, _ = pair()
    client.send_text("a", final=False)
    with pytest.raises(StateError):
        client.send_bytes(b"b")


def test_write_operations_and_partial_writes() -> None:
    client, server = pair(WebSocketConfig(per_message_deflate=False))
    assert server.next_write_operation() is YIELD
    woken: list[bool] = []
    server.yield_writer(lambda: woken.append(True))
    server.send("abc")
    assert woken == [True]
    op = server.next_write_operation()
    assert isinstance(op, Write) and b"".join(op.iovecs) == b"\x81\x03abc"
    server.report_write_result(2)
    assert server.buffered_amount == 3
    op = server.next_write_operation()
    assert b"".join(op.iovecs) == b"\x03abc"[1:] or b"".join(op.iovecs) == b"abc"
    server.report_write_result(3)
    assert server.next_write_operation() is YIELD


def test_output_limit() -> None:
    _, server = pair(WebSocketConfig(per_message_deflate=False, max_queued_output=10))
    server.send(b"x" * 20)  # accepted: the queue was under the limit
    with pytest.raises(StateError, match="too much output"):
        server.send(b"y")


# -- closing ---------------------------------------------------------------------------


def test_closing_handshake_started_by_the_server() -> None:
    client, server = pair()
    server.close(1001, "going away")
    assert server.close_sent and not server.is_closed
    assert carry(server, client) == [Close(1001, "going away")]
    # The client echoed the code; its side is done once that is written.
    assert carry(client, server) == [Close(1001, "")]
    assert client.next_write_operation() == Closed(0)
    assert server.next_write_operation() == Closed(0)
    assert server.next_read_operation() is CLOSE and server.is_closed
    with pytest.raises(StateError):
        server.send("late")
    server.close()  # again: nothing
    assert server.read(b"\x81\x80junk") == 6  # after the close, bytes are ignored


def test_close_without_code_is_echoed_without_code() -> None:
    client, server = pair()
    client.close(None)
    assert carry(client, server) == [Close(1005, "")]
    assert server.take_output() == b"\x88\x00"


def test_close_arguments_are_checked() -> None:
    _, server = pair()
    for code, reason in [(1005, ""), (999, ""), (1000, "x" * 124), (None, "why")]:
        with pytest.raises(ValueError):
            server.close(code, reason)
    assert not server.close_sent


@pytest.mark.parametrize(
    "payload, code",
    [
        (b"\x03", 1002),  # one byte
        (b"\x03\xed", 1002),  # 1005 may not be sent
        (b"\x03\xe8\xff", 1007),  # reason not UTF-8
    ],
)
def test_bad_close_frames(payload: bytes, code: int) -> None:
    _, server = pair()
    assert server.read(encode_frame(8, payload, mask_key=KEY)) > 0
    events = server.events()
    assert events == [Close(code, events[0].reason, received=False)]
    assert server.take_output()[:4] == b"\x88" + bytes((2 + len(events[0].reason),)) + code.to_bytes(2, "big")
    assert server.next_write_operation() == Closed(0)  # failed: no handshake to wait for


def test_protocol_errors_send_their_code() -> None:
    _, server = pair(WebSocketConfig(max_message_size=10, per_message_deflate=False))
    server.read(encode_frame(2, b"x" * 6, fin=False, mask_key=KEY) + encode_frame(0, b"x" * 5, mask_key=KEY))
    assert server.events() == [Close(1009, "message too big", received=False)]
    assert server.error is not None and server.error.code == 1009
    assert server.take_output() == b"\x88\x11\x03\xf1message too big"


def test_eof_without_close_is_abnormal() -> None:
    _, server = pair()
    server.read_eof(b"")
    assert server.events() == [Close(1006, "", received=False)]
    assert server.next_write_operation() == Closed(0)


def test_lost_transport() -> None:
    _, server = pair()
    server.send("queued")
    server.report_write_result(CLOSE)
    assert server.events() == [Close(1006, "", received=False)]
    assert server.next_write_operation() == Closed(0)


# -- permessage-deflate ----------------------------------------------------------------


def test_deflate_round_trip_with_context_takeover() -> None:
    client, server = pair()
    assert client.deflate is not None and server.deflate is not None
    text = "compress me " * 100
    for _ in range(3):
        client.send(text)
        assert carry(client, server) == [text]
        server.send(text.encode())
        assert carry(server, client) == [text.encode()]
    # The second copy of the same text is smaller: the context was kept.
    client.send(text)
    assert len(client.take_output() or b"") < 30


def test_deflate_fragments_and_no_context_takeover() -> None:
    offer = ["permessage-deflate; server_no_context_takeover; client_no_context_takeover"]
    value, deflate = server_accept(offer, WebSocketConfig()) or ("", None)
    assert "server_no_context_takeover" in value and "client_no_context_takeover" in value
    assert isinstance(deflate, PerMessageDeflate) and not deflate.send_takeover
    server = WebSocketConnection(False, WebSocketConfig(), deflate)
    client = WebSocketConnection(
        True, WebSocketConfig(), PerMessageDeflate(12, False, False, WebSocketConfig()), lambda: KEY
    )
    client.send_text("one ", final=False)
    client.send_text("two ", final=False)
    client.send_text("three")
    client.send("again")
    assert carry(client, server) == ["one two three", "again"]


def test_deflate_bomb_is_bounded() -> None:
    config = WebSocketConfig(max_message_size=100_000)
    client, server = pair(config)
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"\x00" * 10_000_000) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(payload) < 100_000  # within the limit on the wire, 10 MB inflated
    server.read(encode_frame(2, payload[:-4], rsv1=True, mask_key=KEY))
    assert server.events() == [Close(1009, "message too big", received=False)]


def test_compressed_text_must_be_utf8() -> None:
    client, server = pair()
    out = zlib.compressobj(6, zlib.DEFLATED, -12)
    payload = out.compress(b"\xff\xfe") + out.flush(zlib.Z_SYNC_FLUSH)
    server.read(encode_frame(1, payload[:-4], rsv1=True, mask_key=KEY))
    assert server.events() == [Close(1007, "invalid UTF-8 in text", received=False)]


@pytest.mark.parametrize(
    "offer, accepted",
    [
        ("permessage-deflate", "permessage-deflate; server_max_window_bits=12"),
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
        ('permessage-deflate; server_max_window_bits="10"', "permessage-deflate; server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate", "permessage-deflate; server_max_window_bits=12"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=12"),
        ("permessage-deflate; server_max_window_bits", None),
        ("permessage-deflate; unknown=1", None),
        ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", None),
        ("x-webkit-deflate-frame", None),
        ("permessage-deflate; server_max_window_bits=16", None),
    ],
)
def test_deflate_negotiation(offer: str, accepted: str | None) -> None:
    result = server_accept([offer], WebSocketConfig())
    assert (result[0] if result else None) == accepted


def test_parse_extensions() -> None:
    assert parse_extensions(['a; x=1, b; y="2"; z']) == [("a", [("x", "1")]), ("b", [("y", "2"), ("z", None)])]
    with pytest.raises(ValueError):
        parse_extensions(['a; x="1'])


def test_client_masks_with_fresh_keys() -> None:
    request, key = client_request("h")
    assert len(base64.b64decode(key)) == 16
    client = WebSocketConnection(True, WebSocketConfig(per_message_deflate=False))
    client.send(b"same")
    client.send(b"same")
    data = client.take_output() or b""
    assert data[1] & 0x80 and data[2:6] != data[12:16]
