"""The WSGI types and the exception the application may see."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]

__all__ = ["ClientDisconnected", "ExcInfo", "StartResponse", "WSGIApp"]


class WSGIApp(Protocol):
    """A PEP 3333 application."""

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]: ...


class ClientDisconnected(ConnectionError):
    """The client went away: raised by ``wsgi.input`` reads and by response writes."""
