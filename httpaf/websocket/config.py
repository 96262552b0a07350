"""The limits and options of a WebSocket connection."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WebSocketConfig"]


@dataclass(frozen=True, slots=True)
class WebSocketConfig:
    """Every limit and option of a WebSocket connection, with what exceeding it does.

    The defaults are uvicorn's (``--ws-max-size``, permessage-deflate on).
    """

    #: Largest message received (its payload, decompressed): close 1009.
    max_message_size: int = 16 * 1024 * 1024
    #: Largest frame received (its payload): close 1009. ``None``: the message limit.
    max_frame_size: int | None = None
    #: Sends are refused (``StateError``) while more than this many bytes wait to be
    #: written; a runtime waits for its transport to drain well before.
    max_queued_output: int = 16 * 1024 * 1024
    #: Offer (client) or accept (server) permessage-deflate (RFC 7692).
    per_message_deflate: bool = True
    #: The LZ77 window (8-15: 2**bits bytes) our compressor uses at most, and asks
    #: the peer's compressor to use when the peer allows it.
    deflate_window_bits: int = 12
    #: zlib's ``memLevel`` (1-9) for our compressor: its memory per connection.
    deflate_mem_level: int = 5
    #: zlib's compression level (0-9, or -1 for zlib's default).
    deflate_level: int = -1
    #: Messages shorter than this are sent uncompressed (RFC 7692 §6.1 allows it).
    deflate_min_size: int = 0

    def __post_init__(self) -> None:
        if self.max_message_size < 0:
            raise ValueError("max_message_size must be >= 0")
        if self.max_frame_size is not None and self.max_frame_size < 0:
            raise ValueError("max_frame_size must be >= 0 or None")
        if self.max_queued_output < 0:
            raise ValueError("max_queued_output must be >= 0")
        if not 9 <= self.deflate_window_bits <= 15:
            # zlib makes a raw deflate window of 8 bits one of 9 (RFC 7692 §7.1.2.1
            # would then be broken): 9 is the smallest honest value.
            raise ValueError("deflate_window_bits must be within 9-15")
        if not 1 <= self.deflate_mem_level <= 9:
            raise ValueError("deflate_mem_level must be within 1-9")
        if not -1 <= self.deflate_level <= 9:
            raise ValueError("deflate_level must be within -1-9")

    @property
    def frame_limit(self) -> int:
        """The largest frame payload accepted."""
        size = self.max_frame_size
        return self.max_message_size if size is None else size
