"""The WebSocket frame codec (RFC 6455 §5) in both twins: ``_websocket_pure`` and the
Cython ``_websocket``, held to one contract; a hypothesis test compares them."""

from __future__ import annotations

import importlib
import os
import struct
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from httpaf.model import FrameError

KEY = b"\x37\xfa\x21\x3d"


def _load(kind: str) -> types.ModuleType | None:
    try:
        return importlib.import_module("httpaf._websocket" + ("_pure" if kind == "python" else ""))
    except ImportError:
        return None


@pytest.fixture(params=["python", "cython"])
def codec(request: pytest.FixtureRequest) -> types.ModuleType:
    """The frame codec of each implementation in turn."""
    module = _load(request.param)
    if module is None:
        pytest.skip("the Cython extensions are not built")
    return module


def masked(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """A client frame built by hand (the reference for the codec's writer)."""
    n = len(payload)
    b0 = opcode | (0x80 if fin else 0) | rsv
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0xFE, n)
    else:
        head = struct.pack("!BBQ", b0, 0xFF, n)
    return head + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))


def read_all(reader, data: bytes, step: int | None = None) -> list[tuple]:
    """Feed ``data`` (in pieces of ``step`` bytes) the way a runtime does: unconsumed
    bytes again, with new ones; what came out, in order."""
    out: list[tuple] = []
    pending = b""
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for piece in pieces:
        pending += piece
        while True:
            kind = reader.read(pending)
            pending = pending[reader.consumed :]
            if kind == 1:
                out.append(("message", reader.opcode, reader.compressed, reader.take_message()))
            elif kind == 2:
                out.append(("control", reader.opcode, reader.payload))
            else:
                break
    return out


# -- masking and writing ---------------------------------------------------------------


def test_mask_in_place_and_phase(codec: types.ModuleType) -> None:
    data = bytearray(range(37))
    codec.mask(data, KEY)
    assert bytes(data) == bytes(b ^ KEY[i % 4] for i, b in enumerate(range(37)))
    codec.mask(data, KEY)
    assert bytes(data) == bytes(range(37))
    # From key byte 3: a payload unmasked in two pieces.
    view = memoryview(data)
    codec.mask(view[:3], KEY, 0)
    codec.mask(view[3:], KEY, 3)
    assert bytes(data) == bytes(b ^ KEY[i % 4] for i, b in enumerate(range(37)))


def test_mask_refuses_bad_input(codec: types.ModuleType) -> None:
    with pytest.raises(ValueError):
        codec.mask(bytearray(4), b"abc")
    with pytest.raises(TypeError):
        codec.mask(b"read-only", KEY)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_encode_frame_lengths(codec: types.ModuleType, size: int) -> None:
    payload = os.urandom(size)
    assert codec.encode_frame(2, payload, mask_key=KEY) == masked(2, payload)
    frame = codec.encode_frame(1, payload, fin=False, rsv1=True)
    head = codec.frame_header(1, size, fin=False, rsv1=True)
    assert frame == head + payload
    assert head[0] == 0x41
    assert len(head) == (2 if size < 126 else 4 if size < 65536 else 10)


def test_frame_header_refuses_what_no_endpoint_sends(codec: types.ModuleType) -> None:
    for args in [(16, 0), (-1, 0), (1, -1), (1, 1 << 63), (9, 126), (8, 0, False)]:
        with pytest.raises(ValueError):
            codec.frame_header(*args)
    with pytest.raises(ValueError):
        codec.frame_header(1, 1, mask_key=b"12345")


# -- reading ---------------------------------------------------------------------------


def server_reader(codec: types.ModuleType, limit: int = 1 << 20):
    return codec.FrameReader(False, limit, limit)


@pytest.mark.parametrize("step", [None, 1, 3, 7])
def test_messages_control_frames_and_fragments(codec: types.ModuleType, step: int | None) -> None:
    text = "κόσμε, hello " * 20
    data = (
        masked(1, b"hi")
        + masked(2, bytes(300))
        + masked(1, text.encode()[:7], fin=False)
        + masked(9, b"ping!")  # a control frame between fragments (§5.4)
        + masked(0, text.encode()[7:100], fin=False)
        + masked(0, text.encode()[100:])
        + masked(2, b"")
        + masked(1, b"")
        + masked(10, b"")
        + masked(8, b"\x03\xe8bye")
    )
    assert read_all(server_reader(codec), data, step) == [
        ("message", 1, False, "hi"),
        ("message", 2, False, bytes(300)),
        ("control", 9, b"ping!"),
        ("message", 1, False, text),
        ("message", 2, False, b""),
        ("message", 1, False, ""),
        ("control", 10, b""),
        ("control", 8, b"\x03\xe8bye"),
    ]


def test_incomplete_head_is_not_consumed(codec: types.ModuleType) -> None:
    reader = server_reader(codec)
    frame = masked(2, bytes(200))
    assert reader.read(frame[:3]) == 0 and reader.consumed == 0
    assert reader.read(frame[:10]) == 0 and reader.consumed == 10  # head + 2 payload bytes
    assert reader.read(frame[10:]) == 1
    assert reader.take_message() == bytes(200)


def test_client_reads_unmasked_frames(codec: types.ModuleType) -> None:
    reader = codec.FrameReader(True, 100, 100)
    assert reader.read(codec.encode_frame(1, b"ok")) == 1
    assert reader.take_message() == "ok"
    with pytest.raises(FrameError) as error:
        reader.read(codec.encode_frame(1, b"ok", mask_key=KEY))
    assert error.value == FrameError(1002, "server frame masked")


def test_compressed_messages_are_bytes(codec: types.ModuleType) -> None:
    reader = server_reader(codec)
    with pytest.raises(FrameError, match="reserved bits"):
        reader.read(masked(1, b"\xff", rsv=0x40))
    reader = server_reader(codec)
    reader.rsv1_allowed = True
    data = masked(1, b"\xff\xfe", fin=False, rsv=0x40) + masked(0, b"\x00")
    assert read_all(reader, data) == [("message", 1, True, b"\xff\xfe\x00")]
    with pytest.raises(FrameError, match="reserved bits"):  # RSV1 on a continuation
        read_all(reader, masked(2, b"a", fin=False, rsv=0x40) + masked(0, b"b", rsv=0x40))


BAD_FRAMES = [
    (b"\x83\x80" + KEY, FrameError(1002, "reserved opcode")),
    (b"\x8b\x80" + KEY, FrameError(1002, "reserved opcode")),
    (b"\xa1\x80" + KEY, FrameError(1002, "reserved bits set")),
    (b"\x81\x00", FrameError(1002, "client frame not masked")),
    (b"\x09\x80" + KEY, FrameError(1002, "fragmented control frame")),
    (b"\x89\xfe\x00\x7e" + KEY, FrameError(1002, "control frame payload over 125 bytes")),
    (b"\x82\xfe\x00\x05" + KEY, FrameError(1002, "frame length not in its minimal encoding")),
    (b"\x82\xff" + struct.pack("!Q", 1000) + KEY, FrameError(1002, "frame length not in its minimal encoding")),
    (b"\x82\xff" + struct.pack("!Q", 1 << 63) + KEY, FrameError(1002, "frame length over 2**63 - 1")),
    (b"\x80\x80" + KEY, FrameError(1002, "continuation frame outside a fragmented message")),
    (masked(1, b"a", fin=False) + masked(2, b"b"), FrameError(1002, "new data frame inside a fragmented message")),
    (b"\x82\xff" + struct.pack("!Q", 1 << 40) + KEY, FrameError(1009, "frame too big")),
    (masked(2, bytes(600), fin=False) + masked(0, bytes(600)), FrameError(1009, "message too big")),
    (masked(1, b"\xc0\x80"), FrameError(1007, "invalid UTF-8 in text")),
    (masked(1, b"\xed\xa0\x80"), FrameError(1007, "invalid UTF-8 in text")),
    (masked(1, b"\xf4\x90\x80\x80"), FrameError(1007, "invalid UTF-8 in text")),
    (masked(1, b"ok\xe2\x82"), FrameError(1007, "invalid UTF-8 in text")),
    (masked(1, b"ok\xe2", fin=False) + masked(0, b"\x82"), FrameError(1007, "invalid UTF-8 in text")),
]


@pytest.mark.parametrize("data, error", BAD_FRAMES)
@pytest.mark.parametrize("step", [None, 1])
def test_bad_frames(codec: types.ModuleType, data: bytes, error: FrameError, step: int | None) -> None:
    with pytest.raises(FrameError) as raised:
        read_all(codec.FrameReader(False, 1000, 1000), data, step)
    assert raised.value == error


def test_utf8_fails_on_the_first_invalid_byte(codec: types.ModuleType) -> None:
    """Autobahn 6.4: an invalid byte fails the connection before the rest arrives."""
    reader = server_reader(codec)
    good = "κόσμε".encode()
    frame = masked(1, good + b"\xf4\x90\x80\x80" + b"edited", fin=False)
    head = 2 + 4
    assert reader.read(frame[: head + len(good)]) == 0
    with pytest.raises(FrameError):
        reader.read(frame[head + len(good) : head + len(good) + 2])  # F4 90: already invalid
    reader = server_reader(codec)
    assert reader.read(frame[: head + len(good) + 1]) == 0  # F4 alone may still be fine


# -- the differential test -------------------------------------------------------------

both = pytest.mark.skipif(_load("cython") is None, reason="the Cython extensions are not built")

_payloads = st.one_of(
    st.text(max_size=40).map(str.encode),
    st.binary(max_size=300),
    st.sampled_from([b"\xed\xa0\x80", b"\xc3", b"\xf0\x9f\x98\x80", b"\xe2\x82\xac", b"\x80"]),
)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Messages cut into fragments with control frames between them; now and then a
    frame against the rules, or a flipped bit."""
    frames = []
    for _ in range(draw(st.integers(1, 5))):
        opcode = draw(st.sampled_from([1, 1, 2]))
        # Text is mostly valid UTF-8 (cut anywhere by the fragments), now and then not.
        text = st.text(max_size=60).map(str.encode)
        payload = draw(text if opcode == 1 and draw(st.integers(0, 4)) else _payloads)
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        rsv = draw(st.sampled_from([0] * 8 + [0x40, 0x20]))
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            frames.append(masked(opcode if i == 0 else 0, piece, last, rsv if i == 0 else 0))
            if draw(st.integers(0, 3)) == 0:
                control = draw(st.sampled_from([8, 9, 10]))
                frames.append(masked(control, draw(_payloads)[:125]))
        if draw(st.integers(0, 20)) == 0:
            frames.append(masked(draw(st.sampled_from([0, 3, 11, 9])), draw(_payloads), draw(st.booleans())))
    data = b"".join(frames)
    if data and draw(st.integers(0, 20)) == 0:
        flipped = bytearray(data)
        flipped[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        data = bytes(flipped)
    return data


def _outcome(module: types.ModuleType, data: bytes, cuts: list[int], rsv1: bool, limit: int):
    reader = module.FrameReader(False, limit, limit)
    reader.rsv1_allowed = rsv1
    out: list[tuple] = []
    pending = b""
    edges = sorted({c % (len(data) + 1) for c in cuts} | {len(data)})
    last = 0
    try:
        for edge in edges:
            pending += data[last:edge]
            last = edge
            while True:
                kind = reader.read(pending)
                out.append(("read", kind, reader.consumed))
                pending = pending[reader.consumed :]
                if kind == 1:
                    out.append((reader.opcode, reader.compressed, reader.take_message()))
                elif kind == 2:
                    out.append((reader.opcode, reader.payload))
                else:
                    break
    except FrameError as error:
        out.append(error)
    return out


@both
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    data=streams(),
    cuts=st.lists(st.integers(0, 5000), max_size=6),
    rsv1=st.booleans(),
    limit=st.sampled_from([100, 400, 100000, 100000]),
)
def test_twins_agree(data: bytes, cuts: list[int], rsv1: bool, limit: int) -> None:
    pure, fast = _load("python"), _load("cython")
    assert _outcome(pure, data, cuts, rsv1, limit) == _outcome(fast, data, cuts, rsv1, limit)


@both
@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=200),
    opcode=st.sampled_from([0, 1, 2, 8, 9, 10]),
    fin=st.booleans(),
    rsv1=st.booleans(),
    key=st.none() | st.binary(min_size=4, max_size=4),
    phase=st.integers(0, 3),
)
def test_twins_write_alike(
    payload: bytes, opcode: int, fin: bool, rsv1: bool, key: bytes | None, phase: int
) -> None:
    pure, fast = _load("python"), _load("cython")
    if opcode >= 8:
        fin, payload = True, payload[:125]
    assert pure.encode_frame(opcode, payload, fin, rsv1, key) == fast.encode_frame(
        opcode, payload, fin, rsv1, key
    )
    if key is not None:
        a, b = bytearray(payload), bytearray(payload)
        pure.mask(a, key, phase)
        fast.mask(b, key, phase)
        assert a == b
