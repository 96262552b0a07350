"""Types of the Cython serializer extension (``_serializer.pyx``).

Same API as the pure-Python twin, :mod:`httpaf._serializer_py`.
"""

from collections.abc import Callable, Iterable

from typing_extensions import disjoint_base

from .headers import Headers
from .message import Request, Response
from .version import Version

__all__ = ["Serializer", "check_field", "check_reason"]

_Bytes = bytes | bytearray | memoryview

def check_field(name: str, value: str) -> None:
    """Refuse a field whose name is not a token or whose value holds CTLs (CR, LF, NUL)."""

def check_reason(reason: str) -> None:
    """Refuse a reason phrase holding CTLs."""

@disjoint_base
class Serializer:
    """A queue of output bytes with copy and zero-copy writes and flush callbacks."""

    def __init__(self, buffer_size: int = 4096) -> None: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def pending_bytes(self) -> int: ...
    @property
    def has_pending_output(self) -> bool: ...
    def write(self, data: _Bytes) -> None: ...
    def write_string(self, text: str) -> None: ...
    def writev(self, pieces: Iterable[_Bytes]) -> None: ...
    def schedule(self, data: _Bytes) -> None: ...
    def schedulev(self, pieces: Iterable[_Bytes]) -> None: ...
    def write_response_head(
        self, response: Response, extra: list[tuple[str, str]] | None = None
    ) -> None: ...
    def write_framed_response_head(
        self,
        response: Response,
        request_method: str,
        request_version: Version | None,
        body_size: int | None,
        persistent: bool,
        keep_alive: bool,
    ) -> tuple[int, bool, bool]: ...
    def write_whole_response(
        self,
        response: Response,
        request_method: str,
        request_version: Version | None,
        body: bytes | bytearray | memoryview,
        persistent: bool,
        keep_alive: bool,
        copy: bool = False,
    ) -> bool: ...
    def write_request_head(self, request: Request) -> None: ...
    def write_chunk(self, data: _Bytes, copy: bool = True) -> None: ...
    def write_last_chunk(self, trailers: Headers | None = None) -> None: ...
    def flush(self, callback: Callable[[], None]) -> None: ...
    def operation(self) -> list[memoryview]: ...
    def take(self, limit: int) -> bytes | None: ...
    def shift(self, n: int) -> None: ...
    def close(self) -> None: ...
    def drain(self) -> int: ...
