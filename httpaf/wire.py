"""The wire layer: the HTTP/1.1 parsers, the Faraday-style serializer and the
WebSocket frame codec.

Each has a pure-Python module, the readable specification (``_parser_pure.py``,
``_serializer_pure.py``, ``_websocket_pure.py``), and a Cython twin with the same API,
results and errors (``_parser.pyx``, ``_serializer.pyx``, ``_websocket.pyx``). This
module picks the twins once, at import: the compiled ones when they are built and
``HTTPAF_NO_EXTENSIONS`` is not set; :data:`implementation` says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._extensions import NO_EXTENSIONS

if TYPE_CHECKING:  # both twins have the API of the stubs (_parser.pyi, _serializer.pyi)
    from ._parser import (
        FORBIDDEN_TRAILERS,
        RequestParser,
        ResponseParser,
        borrow_request_parser,
        lend_request_parser,
    )
    from ._serializer import DateField, Serializer, check_field, check_reason
    from ._websocket import FrameReader, encode_frame, frame_header, mask
else:
    try:
        if NO_EXTENSIONS:
            raise ImportError("HTTPAF_NO_EXTENSIONS is set")
        from ._parser import (
            FORBIDDEN_TRAILERS,
            RequestParser,
            ResponseParser,
            borrow_request_parser,
            lend_request_parser,
        )
        from ._serializer import DateField, Serializer, check_field, check_reason
        from ._websocket import FrameReader, encode_frame, frame_header, mask
    except ImportError:
        from ._parser_pure import (
            FORBIDDEN_TRAILERS,
            RequestParser,
            ResponseParser,
            borrow_request_parser,
            lend_request_parser,
        )
        from ._serializer_pure import DateField, Serializer, check_field, check_reason
        from ._websocket_pure import FrameReader, encode_frame, frame_header, mask

#: :meth:`FrameReader.read` results (the same in both twins).
NOTHING, MESSAGE, CONTROL = 0, 1, 2

#: ``"cython"`` when the compiled twins are in use, else ``"python"``.
implementation = "python" if RequestParser.__module__.endswith("_pure") else "cython"

__all__ = [
    "CONTROL",
    "DateField",
    "FORBIDDEN_TRAILERS",
    "FrameReader",
    "MESSAGE",
    "NOTHING",
    "RequestParser",
    "ResponseParser",
    "Serializer",
    "borrow_request_parser",
    "check_field",
    "check_reason",
    "encode_frame",
    "frame_header",
    "implementation",
    "lend_request_parser",
    "mask",
]
