"""Types of the Cython WebSocket frame codec (``_websocket.pyx``).

Same API as the pure-Python twin, :mod:`httpaf._websocket_pure`: see its docstring
for the contract.
"""

from typing_extensions import Self, disjoint_base

__all__ = ["NOTHING", "MESSAGE", "CONTROL", "FrameReader", "encode_frame", "frame_header", "mask"]

NOTHING: int
MESSAGE: int
CONTROL: int

def mask(buf: bytearray | memoryview, key: bytes, phase: int = 0) -> None:
    """XOR the writable ``buf`` in place with ``key`` (4 bytes), from key byte ``phase``."""

def frame_header(
    opcode: int,
    length: int,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """The head of a frame of ``length`` payload bytes (lengths in minimal encoding)."""

def encode_frame(
    opcode: int,
    payload: bytes | bytearray | memoryview,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """A whole frame: its head and ``payload``, masked with ``mask_key`` if given."""

@disjoint_base
class FrameReader:
    """Reads frames from a stream of bytes and assembles messages (RFC 6455 §5)."""

    @property
    def client(self) -> bool: ...
    max_frame_size: int
    max_message_size: int
    rsv1_allowed: bool
    @property
    def consumed(self) -> int: ...
    @property
    def opcode(self) -> int: ...
    @property
    def compressed(self) -> bool: ...
    @property
    def payload(self) -> bytes:
        """After ``CONTROL``: the frame's payload, unmasked."""
    @property
    def in_message(self) -> bool:
        """Whether a fragmented data message has started and not finished."""
    def __new__(cls, client: bool, max_frame_size: int, max_message_size: int) -> Self: ...
    def read(
        self, buf: bytes | bytearray | memoryview, start: int = 0, end: int | None = None
    ) -> int:
        """Read frames from ``buf[start:end]`` up to the end of a message or control frame."""
    def take_message(self) -> str | bytes:
        """The message completed by the last ``MESSAGE``, once."""
