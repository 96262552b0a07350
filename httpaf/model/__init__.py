"""The values layer: versions, methods, statuses, headers, messages, the framing rules of
RFC 9112, operations, iovecs, :class:`Config` and the errors. Pure Python, no I/O; every
other layer builds on these."""

from __future__ import annotations

from .config import Config
from .errors import BodyLengthError, ConnectionClosed, HttpafError, ParseError, StateError
from .headers import Headers, ci_equal, lower_ascii
from .iovec import IOVec, lengthv, shiftv
from .message import (
    CHUNKED,
    CLOSE_DELIMITED,
    END_OF_MESSAGE,
    EndOfMessage,
    Request,
    Response,
    is_chunked,
    is_keep_alive,
    parse_content_length,
    request_body_length,
    response_body_length,
    response_framing,
    response_has_body,
    response_head_framing,
)
from .method import Method, is_cacheable, is_idempotent, is_safe
from .operation import CLOSE, READ, UPGRADE, YIELD, Closed, Operation, Write
from .status import Status, check_code, reason_phrase
from .version import HTTP_1_0, HTTP_1_1, Version
from .websocket import FrameError, HandshakeError, WebSocketError, is_valid_close_code

__all__ = [
    "BodyLengthError",
    "CHUNKED",
    "CLOSE",
    "CLOSE_DELIMITED",
    "Closed",
    "Config",
    "ConnectionClosed",
    "END_OF_MESSAGE",
    "EndOfMessage",
    "FrameError",
    "HTTP_1_0",
    "HTTP_1_1",
    "HandshakeError",
    "Headers",
    "HttpafError",
    "IOVec",
    "Method",
    "Operation",
    "ParseError",
    "READ",
    "Request",
    "Response",
    "StateError",
    "Status",
    "UPGRADE",
    "Version",
    "WebSocketError",
    "Write",
    "YIELD",
    "check_code",
    "ci_equal",
    "is_cacheable",
    "is_chunked",
    "is_idempotent",
    "is_keep_alive",
    "is_safe",
    "is_valid_close_code",
    "lengthv",
    "lower_ascii",
    "parse_content_length",
    "reason_phrase",
    "request_body_length",
    "response_body_length",
    "response_framing",
    "response_has_body",
    "response_head_framing",
    "shiftv",
]
