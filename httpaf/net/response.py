"""What both clients' responses show at once: :class:`ResponseHead`."""

from __future__ import annotations

from typing import Any

from httpaf.model import Headers, StateError
from httpaf.model import Response as Head

__all__ = ["ResponseHead"]


class ResponseHead:
    """A response's status, reason and header fields, and the URL and method that
    asked for it; the base of the asyncio and the blocking client's responses (which
    add the body)."""

    __slots__ = ("status", "reason", "headers", "url", "method", "_head")

    def __init__(self, head: Head | None, url: Any, method: str) -> None:
        if head is None:
            raise StateError("a response is made once its head is in")
        self.status = int(head.status)
        self.reason = head.reason
        self.headers: Headers = head.headers
        #: The URL requested (:class:`~httpaf.net.URL`).
        self.url = url
        self.method = method
        self._head = head

    @property
    def http_version(self) -> str:
        """``"HTTP/1.1"`` or ``"HTTP/1.0"``."""
        return str(self._head.version)
