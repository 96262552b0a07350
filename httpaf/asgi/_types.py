"""The ASGI types and the exceptions the application may see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "ASGIApp",
    "ClientDisconnected",
    "LifespanFailure",
    "Message",
    "Receive",
    "Scope",
    "Send",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application: ``async def app(scope, receive, send)``.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[Any]]


class ClientDisconnected(OSError):
    """``send`` was called after the client went away."""


class LifespanFailure(RuntimeError):
    """The application's lifespan startup failed (or raised, with ``lifespan="on"``)."""
