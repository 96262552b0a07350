"""httpaf: a fast, strict HTTP/1.1 engine for Python, ported from OCaml's http/af.

The protocol is a state machine that does no I/O (:class:`ServerConnection`,
:class:`ClientConnection`); :mod:`httpaf.asyncio` drives it over sockets. Parsing and
serialization use Cython extensions when they are built, else pure-Python twins, and
a build compiles the connection layer (:class:`ServerConnection`, :class:`Reqd`) from
its Python source too; :data:`implementation` says which (``"cython"`` or
``"python"``), and ``HTTPAF_NO_EXTENSIONS=1`` forces pure Python throughout.
"""

from __future__ import annotations

# First: it imports the connection layer in the order its compiled modules need, or
# (HTTPAF_NO_EXTENSIONS) from its .py files.
from . import _select
from .body import BodyReader, BodyWriter
from .client_connection import ClientConnection
from .config import Config
from .errors import BodyLengthError, HttpafError, ParseError, StateError
from .headers import Headers
from .iovec import IOVec, lengthv, shiftv
from .message import (
    CHUNKED,
    CLOSE_DELIMITED,
    END_OF_MESSAGE,
    EndOfMessage,
    Request,
    Response,
)
from .method import Method
from .operation import CLOSE, READ, UPGRADE, YIELD, Closed, Operation, Write
from .parser import RequestParser, ResponseParser
from .parser import implementation as _parser_implementation
from .reqd import Reqd, default_error_handler
from .serializer import Serializer
from .serializer import implementation as _serializer_implementation
from .server_connection import ServerConnection
from .status import Status
from .version import HTTP_1_0, HTTP_1_1, Version

__version__ = "0.1.0"

#: ``"cython"`` when the compiled extensions and the compiled connection layer are in
#: use, else ``"python"``.
implementation = (
    "cython"
    if _parser_implementation == _serializer_implementation == "cython"
    and _select.connection_layer_is_compiled()
    else "python"
)

__all__ = [
    "BodyLengthError",
    "BodyReader",
    "BodyWriter",
    "CHUNKED",
    "CLOSE",
    "CLOSE_DELIMITED",
    "ClientConnection",
    "Closed",
    "Config",
    "END_OF_MESSAGE",
    "EndOfMessage",
    "HTTP_1_0",
    "HTTP_1_1",
    "Headers",
    "HttpafError",
    "IOVec",
    "Method",
    "Operation",
    "ParseError",
    "READ",
    "Reqd",
    "Request",
    "RequestParser",
    "Response",
    "ResponseParser",
    "Serializer",
    "ServerConnection",
    "StateError",
    "Status",
    "UPGRADE",
    "Version",
    "Write",
    "YIELD",
    "default_error_handler",
    "implementation",
    "lengthv",
    "shiftv",
]
