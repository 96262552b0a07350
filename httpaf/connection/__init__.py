"""The protocol layer: http/af's state machines, which do no I/O and read no clock.

:class:`ServerConnection` parses requests, hands each to a handler as a :class:`Reqd`
and serializes the responses in order; :class:`ClientConnection` is the client side;
:class:`BodyReader` and :class:`BodyWriter` carry message bodies. A runtime drives
either connection through its read and write operations (``docs/state-machine.md``).

The modules here are plain Python. A build also compiles them with Cython into
``_compiled/`` (C declarations in the ``.pxd`` files there); this package uses that
build unless it is missing or ``HTTPAF_NO_EXTENSIONS`` is set (``docs/architecture.md``,
"Compiled and pure").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from httpaf._extensions import NO_EXTENSIONS

from ._states import AWAIT_BODY, AWAIT_HEAD, AWAIT_NOTHING, AWAIT_REQUEST

if TYPE_CHECKING:
    from .body import BodyReader, BodyWriter, byte_view
    from .client import ClientConnection, ClientErrorHandler, ResponseHandler
    from .reqd import ErrorHandler, Reqd, StartResponse, default_error_handler, error_status
    from .server import RequestHandler, ServerConnection
else:
    try:
        if NO_EXTENSIONS:
            raise ImportError("HTTPAF_NO_EXTENSIONS is set")
        from ._compiled.body import BodyReader, BodyWriter, byte_view
        from ._compiled.client import ClientConnection, ClientErrorHandler, ResponseHandler
        from ._compiled.reqd import (
            ErrorHandler,
            Reqd,
            StartResponse,
            default_error_handler,
            error_status,
        )
        from ._compiled.server import RequestHandler, ServerConnection
    except ImportError:
        from .body import BodyReader, BodyWriter, byte_view
        from .client import ClientConnection, ClientErrorHandler, ResponseHandler
        from .reqd import ErrorHandler, Reqd, StartResponse, default_error_handler, error_status
        from .server import RequestHandler, ServerConnection

#: ``"cython"`` when the compiled build is in use, else ``"python"``.
implementation = "cython" if ".connection._compiled." in ServerConnection.__module__ else "python"

__all__ = [
    "AWAIT_BODY",
    "AWAIT_HEAD",
    "AWAIT_NOTHING",
    "AWAIT_REQUEST",
    "BodyReader",
    "BodyWriter",
    "ClientConnection",
    "ClientErrorHandler",
    "ErrorHandler",
    "Reqd",
    "RequestHandler",
    "ResponseHandler",
    "StartResponse",
    "ServerConnection",
    "byte_view",
    "default_error_handler",
    "error_status",
    "implementation",
]
