"""httpaf: a fast, strict HTTP/1.1 engine for Python, ported from OCaml's http/af.

The protocol is a state machine that does no I/O (:class:`ServerConnection`,
:class:`ClientConnection`); :mod:`httpaf.asyncio` drives it over sockets, and
:mod:`httpaf.asgi`, :mod:`httpaf.wsgi`, :mod:`httpaf.uvicorn` and
:mod:`httpaf.gunicorn` serve applications with it. This package's names come from
the layers below the runtime (``docs/architecture.md``): importing it loads no event
loop. Parsing, serialization and the connection layer are compiled with Cython when
built, else pure Python; :data:`implementation` says which (``"cython"`` or
``"python"``), and ``HTTPAF_NO_EXTENSIONS=1`` forces pure Python throughout.
"""

from __future__ import annotations

from typing import Any

from . import connection as _connection
from . import wire as _wire
from .connection import (
    BodyReader,
    BodyWriter,
    ClientConnection,
    Reqd,
    ServerConnection,
    default_error_handler,
)
from .model import (
    CHUNKED,
    CLOSE,
    CLOSE_DELIMITED,
    END_OF_MESSAGE,
    HTTP_1_0,
    HTTP_1_1,
    READ,
    UPGRADE,
    YIELD,
    BodyLengthError,
    Closed,
    Config,
    ConnectionClosed,
    EndOfMessage,
    Headers,
    HttpafError,
    IOVec,
    Method,
    Operation,
    ParseError,
    Request,
    Response,
    StateError,
    Status,
    Version,
    Write,
    lengthv,
    shiftv,
)
from .wire import RequestParser, ResponseParser, Serializer

__version__ = "0.1.0"

#: ``"cython"`` when the wire and connection layers are compiled (the runtime's
#: drivers are compiled with them), else ``"python"``.
implementation = (
    "cython" if _wire.implementation == _connection.implementation == "cython" else "python"
)


def run(app: Any, **options: Any) -> None:
    """Serve ``app`` (an ASGI or WSGI application, or its ``"module:attribute"``
    import string) until SIGINT or SIGTERM, taking ``uvicorn.run``'s keyword arguments
    (``host``, ``port``, ``workers``, ``reload``, ``log_config``, ``ssl_certfile``, ...):
    ``uvicorn.run(...)`` becomes ``httpaf.run(...)``. See :func:`httpaf.cli.run`.
    """
    from .cli import run as run_command  # (the runtime loads only now)

    run_command(app, **options)


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
    "ConnectionClosed",
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
    "run",
    "shiftv",
]
