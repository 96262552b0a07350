"""permessage-deflate (RFC 7692): negotiation, and compressing whole messages.

The server accepts the first offer it can honour (§5, §7.1); the client offers one
and checks the answer. Received messages are inflated with a bound: a message that
would grow past the message limit fails with 1009 before more than the limit plus
one byte is produced, so a deflate bomb allocates no more than an honest message.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from httpaf.model import FrameError, HandshakeError

from .config import WebSocketConfig

__all__ = [
    "PerMessageDeflate",
    "parse_extensions",
    "server_accept",
    "client_offer",
    "client_accept",
]

NAME = "permessage-deflate"
_TAIL = b"\x00\x00\xff\xff"  # the end of a sync flush, not sent (§7.2.1)
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

Params = list[tuple[str, "str | None"]]


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TCHAR for c in text)


def parse_extensions(values: Iterable[str]) -> list[tuple[str, Params]]:
    """The extensions of ``Sec-WebSocket-Extensions`` field values (RFC 6455 §9.1).

    Each is ``(name, [(param, value or None), ...])``, names lowered; a quoted
    value is unquoted (it must then be a token). Raises ``ValueError`` on bad syntax.
    """
    result: list[tuple[str, Params]] = []
    for value in values:
        for item in _split(value, ","):
            if not item.strip(" \t"):
                continue
            parts = _split(item, ";")
            name = parts[0].strip(" \t").lower()
            if not _is_token(name):
                raise ValueError(f"bad extension name {name!r}")
            params: Params = []
            for part in parts[1:]:
                key, eq, raw = part.partition("=")
                key = key.strip(" \t").lower()
                if not _is_token(key):
                    raise ValueError(f"bad extension parameter {key!r}")
                if not eq:
                    params.append((key, None))
                    continue
                raw = raw.strip(" \t")
                if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                    raw = raw[1:-1].replace("\\", "")
                if not _is_token(raw):
                    raise ValueError(f"bad value of extension parameter {key!r}")
                params.append((key, raw))
            result.append((name, params))
    return result


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside quoted strings."""
    parts: list[str] = []
    start = 0
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and quoted:
            i += 1
        elif c == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise ValueError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def _bits(value: str | None) -> int:
    """A window-bits value: 8 to 15, digits only (§7.1.2)."""
    if value is None or not value.isdigit() or len(value) > 2 or not 8 <= int(value) <= 15:
        raise ValueError(f"bad window bits {value!r}")
    return int(value)


def _read_params(params: Params) -> dict[str, str | None]:
    """The parameters of one permessage-deflate offer or answer, checked (§7).

    Raises ``ValueError`` for an unknown or repeated parameter or a bad value.
    """
    seen: dict[str, str | None] = {}
    for key, value in params:
        if key in seen:
            raise ValueError(f"repeated parameter {key}")
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                raise ValueError(f"{key} takes no value")
        elif key == "server_max_window_bits":
            _bits(value)
        elif key == "client_max_window_bits":
            if value is not None:
                _bits(value)
        else:
            raise ValueError(f"unknown parameter {key}")
        seen[key] = value
    return seen


class PerMessageDeflate:
    """A negotiated permessage-deflate: compresses sent messages, inflates received ones.

    ``send_bits`` is our compressor's window; ``send_takeover`` and
    ``receive_takeover`` whether each direction keeps its LZ77 context between
    messages (§7.1.1).
    """

    __slots__ = (
        "send_bits",
        "send_takeover",
        "receive_takeover",
        "level",
        "mem_level",
        "min_size",
        "_compressor",
        "_decompressor",
    )

    def __init__(
        self,
        send_bits: int,
        send_takeover: bool,
        receive_takeover: bool,
        config: WebSocketConfig,
    ) -> None:
        self.send_bits = send_bits
        self.send_takeover = send_takeover
        self.receive_takeover = receive_takeover
        self.level = config.deflate_level
        self.mem_level = config.deflate_mem_level
        self.min_size = config.deflate_min_size
        # Made on first use: a connection that sends or receives nothing compressed
        # holds no zlib state.
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(send_bits={self.send_bits}, send_takeover={self.send_takeover},"
            f" receive_takeover={self.receive_takeover})"
        )

    def compress(self, data: bytes | bytearray | memoryview, final: bool = True) -> bytes:
        """The payload of ``data`` compressed; ``final`` ends the message (§7.2.1).

        The fragments of one message are compressed in order with the same stream.
        """
        compressor = self._compressor
        if compressor is None:
            compressor = self._compressor = zlib.compressobj(
                self.level, zlib.DEFLATED, -self.send_bits, self.mem_level
            )
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if final:
            if out.endswith(_TAIL):
                out = out[:-4]
            if not self.send_takeover:
                self._compressor = None
        return out

    def decompress(self, data: bytes, limit: int) -> bytes:
        """The message of the compressed payload ``data``, at most ``limit`` bytes.

        Raises :class:`FrameError` 1009 past ``limit`` (having made no more than
        ``limit + 1`` bytes), 1007 when ``data`` is not a deflate stream.
        """
        decompressor = self._decompressor
        if decompressor is None:
            # A window of 15 bits inflates what any window up to it made.
            decompressor = self._decompressor = zlib.decompressobj(-15)
        try:
            out = decompressor.decompress(data, limit + 1)
            if len(out) <= limit and not decompressor.unconsumed_tail:
                out += decompressor.decompress(_TAIL, limit + 1 - len(out))
        except zlib.error:
            raise FrameError(1007, "invalid compressed data") from None
        if len(out) > limit or decompressor.unconsumed_tail:
            raise FrameError(1009, "message too big")
        if not self.receive_takeover:
            self._decompressor = None
        return out


# -- negotiation -----------------------------------------------------------------------


def server_accept(
    values: Iterable[str], config: WebSocketConfig
) -> tuple[str, PerMessageDeflate] | None:
    """Accept the first permessage-deflate offer we can honour among the client's
    ``Sec-WebSocket-Extensions`` ``values``: the answer's value and the extension.

    ``None`` when there is none (or the field cannot be parsed: the extensions are
    then declined, and the connection goes on without them).
    """
    if not config.per_message_deflate:
        return None
    try:
        offers = parse_extensions(values)
    except ValueError:
        return None
    for name, params in offers:
        if name != NAME:
            continue
        try:
            offer = _read_params(params)
        except ValueError:
            continue  # §5: decline an offer with a bad parameter; try the next one
        bits = config.deflate_window_bits
        answer = [NAME]
        if "server_max_window_bits" in offer:
            asked = int(offer["server_max_window_bits"] or 15)
            if asked < 9:
                continue  # zlib cannot compress with a 256-byte window
            bits = min(bits, asked)
        if bits < 15:
            answer.append(f"server_max_window_bits={bits}")
        send_takeover = "server_no_context_takeover" not in offer
        if not send_takeover:
            answer.append("server_no_context_takeover")
        receive_takeover = "client_no_context_takeover" not in offer
        if not receive_takeover:
            answer.append("client_no_context_takeover")
        extension = PerMessageDeflate(bits, send_takeover, receive_takeover, config)
        return "; ".join(answer), extension
    return None


def client_offer(config: WebSocketConfig) -> str | None:
    """The client's ``Sec-WebSocket-Extensions`` value, or ``None`` without deflate."""
    if not config.per_message_deflate:
        return None
    return f"{NAME}; client_max_window_bits"


def client_accept(values: list[str], config: WebSocketConfig) -> PerMessageDeflate | None:
    """The extension the server's answer ``values`` agreed to (RFC 7692 §5, §7.1).

    Raises :class:`HandshakeError` when the server answered what was not offered.
    """
    if not values:
        return None
    try:
        answers = parse_extensions(values)
    except ValueError as error:
        raise HandshakeError(f"bad Sec-WebSocket-Extensions: {error}", 0) from None
    if not config.per_message_deflate or len(answers) != 1 or answers[0][0] != NAME:
        raise HandshakeError("the server chose an extension that was not offered", 0)
    try:
        answer = _read_params(answers[0][1])
    except ValueError as error:
        raise HandshakeError(f"bad permessage-deflate answer: {error}", 0) from None
    bits = config.deflate_window_bits
    if "client_max_window_bits" in answer:
        value = answer["client_max_window_bits"]
        if value is None:
            raise HandshakeError("client_max_window_bits answered without a value", 0)
        if int(value) < 9:
            raise HandshakeError("client_max_window_bits=8 cannot be honoured", 0)
        bits = min(bits, int(value))
    return PerMessageDeflate(
        bits,
        "client_no_context_takeover" not in answer,
        "server_no_context_takeover" not in answer,
        config,
    )
