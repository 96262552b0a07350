"""The connection drivers made asyncio protocols; the compiled drivers when built.

:mod:`httpaf.aio.driver` is plain Python that a build also compiles into
``_compiled/`` (a compiled class cannot have a Python base class, so the
``asyncio.BufferedProtocol`` base is added here, to whichever build is in use).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from httpaf._extensions import NO_EXTENSIONS
from httpaf.connection import ClientConnection
from httpaf.model import Config

if TYPE_CHECKING:
    from .driver import LINGER_SECONDS, PROBE_SECONDS, Driver, ServerDriver
else:
    try:
        if NO_EXTENSIONS:
            raise ImportError("HTTPAF_NO_EXTENSIONS is set")
        from ._compiled.driver import LINGER_SECONDS, PROBE_SECONDS, Driver, ServerDriver
    except ImportError:
        from .driver import LINGER_SECONDS, PROBE_SECONDS, Driver, ServerDriver

#: ``"cython"`` when the compiled drivers are in use, else ``"python"``.
implementation = "cython" if "._compiled." in Driver.__module__ else "python"

__all__ = [
    "LINGER_SECONDS",
    "PROBE_SECONDS",
    "ClientProtocol",
    "Driver",
    "ServerDriver",
    "ServerProtocol",
    "implementation",
]


class ServerProtocol(ServerDriver, asyncio.BufferedProtocol):
    """A server connection: the driver plus idle, head and body timers."""

    __slots__ = ()


class ClientProtocol(Driver, asyncio.BufferedProtocol):
    """A client connection: the driver of a :class:`~httpaf.ClientConnection`."""

    __slots__ = ()

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.conn = ClientConnection(config)
        self._reads_while_write_paused = True  # (an answer may come before the end)

    def _maybe_close(self) -> None:
        if self._transport is not None and self._reader_done and self._writer_done:
            self._close_transport()  # (which waits when inside resume_writing)

    def _finish_writing(self) -> None:
        self._maybe_close()
