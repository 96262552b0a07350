"""What every connection of one ASGI server shares: the app, options, logs, caches."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from httpaf._logs import access_logger, error_logger, escape
from httpaf.connection import error_status
from httpaf.model import Config, Headers, Request, Response, reason_phrase

from ._scope import Trust, decode_fields, split_target
from ._types import ASGIApp, Receive, Scope, Send
from ._websocket import WebSocketOptions

__all__ = ["Settings", "service_unavailable"]


async def service_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    """The application that answers when ``limit_concurrency`` is exceeded."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"19"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"Service Unavailable", "more_body": False})


class Settings:
    """What every connection of one server shares: the app, options, logs, counts."""

    #: ``scope["asgi"]["spec_version"]``; from 2.4 on, ``send`` after a disconnect raises.
    spec_version = "2.4"
    #: Whether application tasks leave ``tasks`` through a done callback (uvicorn's
    #: way) rather than on their own as they end.
    discard_by_callback = False
    #: Responses completed (counted on ``counter``).
    total_requests = 0
    #: What counts responses in ``total_requests``: the settings, or a server's state.
    counter: Any = None
    #: Where the default fields come from, if something else changes them (uvicorn's
    #: server state, with its ``default_headers``).
    _watched: Any = None

    def __init__(
        self,
        app: ASGIApp,
        config: Config,
        *,
        state: dict[str, Any] | None = None,
        root_path: str = "",
        proxy_headers: bool = False,
        forwarded_allow_ips: str | Iterable[str] = "127.0.0.1",
        access_log: bool = True,
        limit_concurrency: int | None = None,
        server_header: bool = True,
        date_header: bool = True,
        headers: Iterable[tuple[str, str]] = (),
        reset_contextvars: bool = False,
        connections: set[Any] | None = None,
        tasks: set[Any] | None = None,
        asgi_version: str = "3.0",
        ws: str = "auto",
        ws_max_size: int = 16777216,
        ws_max_queue: int = 32,
        ws_ping_interval: float | None = 20.0,
        ws_ping_timeout: float | None = 20.0,
        ws_per_message_deflate: bool = True,
    ) -> None:
        self.app = app
        if not date_header and config.date_header:
            config = dataclasses.replace(config, date_header=False)
        #: The engine's configuration; its ``date_header`` has the runtime add the
        #: ``Date`` of responses without one.
        self.config = config
        self.state: dict[str, Any] = state if state is not None else {}
        self.root_path = root_path
        self.trust = Trust(forwarded_allow_ips) if proxy_headers else None
        self.access_log = access_log
        self.access_logger = access_logger
        self.error_logger = error_logger
        self.limit_concurrency = limit_concurrency
        self.reset_contextvars = reset_contextvars
        self.connections: set[Any] = connections if connections is not None else set()
        self.tasks: set[Any] = tasks if tasks is not None else set()
        self.asgi = {"version": asgi_version, "spec_version": self.spec_version}
        self.raise_on_disconnect = self.spec_version >= "2.4"
        self.extensions: dict[str, Any] = {
            "http.response.trailers": {},
            "http.response.pathsend": {},
        }
        self.counter = self
        #: WebSocket options (uvicorn's names and defaults).
        self.websocket = WebSocketOptions(
            ws, ws_max_size, ws_max_queue, ws_ping_interval, ws_ping_timeout,
            ws_per_message_deflate,
        )  # fmt: skip
        self._targets: dict[str, tuple[str, bytes, bytes]] = {}
        self._server_header = server_header
        self._extra_headers = [(str(n), str(v)) for n, v in headers]
        self._fields: list[tuple[str, str]] = []
        self._responses: dict[Any, Response] = {}  # see shared_response
        # The last one it gave, and its start message's status and fields (a list).
        self._last_status: int | None = None
        self._last_start: list[Any] | None = None
        self._last_response: Response | None = None
        self._source: Any = None  # what the default fields were made of (see _watched)
        self.refresh_default_fields()

    # -- per response ----------------------------------------------------------------

    def default_fields(self) -> list[tuple[str, str]]:
        """Fields every response starts with (``Server``, extra headers; the runtime
        adds ``Date``)."""
        return self._fields

    def refresh_default_fields(self) -> None:
        fields: list[tuple[str, str]] = []
        if self._server_header:
            fields.append(("server", "httpaf"))
        fields.extend(self._extra_headers)
        self._fields = fields
        self._responses = {}
        self._last_status = None

    def shared_response(self, status: int, headers: Iterable[Any]) -> Response | None:
        """The head of a whole response with these start-message fields, shared.

        ``None`` when the fields cannot be a key (not a list or tuple of tuples). The
        engine only reads a ``Response``, as when a native handler reuses one.
        """
        watched = self._watched
        if watched is not None and watched.default_headers is not self._source:
            self.default_fields()  # new ones, and a new cache
        responses = self._responses  # (a new dict when the default fields change)
        if type(status) is not int or (type(headers) is not list and type(headers) is not tuple):
            return None  # (an iterator of fields can be read once only)
        try:
            key = (status, *headers)
            response = responses.get(key)
        except TypeError:
            return None
        if response is None:
            fields = self.default_fields() + decode_fields(headers)
            response = Response(status, Headers._of_list(fields))
            if len(responses) >= 256:
                responses.clear()
            responses[key] = response
        if responses is self._responses:  # (the default fields did not change meanwhile)
            # The key's fields are hashable: a list of them equals only the same fields.
            self._last_status = status
            self._last_start = list(headers)
            self._last_response = response
        return response

    def split_target(self, target: str) -> tuple[str, bytes, bytes]:
        """``split_target`` with a small cache (most servers see few targets)."""
        targets = self._targets
        parts = targets.get(target)
        if parts is None:
            if len(targets) >= 1024:
                targets.clear()
            parts = targets[target] = split_target(target, self.root_path)
        return parts

    def over_limit(self) -> bool:
        """Whether a new request exceeds ``limit_concurrency``."""
        limit = self.limit_concurrency
        return limit is not None and (len(self.tasks) >= limit or len(self.connections) > limit)

    def log_access(self, scope: Scope, request: Request, status: int) -> None:
        """The access line of ``request`` (whose scope is ``scope``) answered ``status``."""
        logger = self.access_logger
        if self.access_log and logger.isEnabledFor(logging.INFO):
            client = scope["client"]
            logger.info(
                '%s - "%s %s HTTP/%s" %d',
                escape(f"{client[0]}:{client[1]}") if client else "-",
                request.method,
                escape(request.target),
                scope["http_version"],
                status,
            )

    def log_websocket(self, scope: Scope, outcome: str) -> None:
        """The line of a WebSocket handshake: ``[accepted]`` or the status answered."""
        logger = self.access_logger
        if self.access_log and logger.isEnabledFor(logging.INFO):
            client = scope.get("client")
            query = scope.get("query_string", b"")
            path = scope.get("path", "") + ("?" + query.decode("latin-1") if query else "")
            logger.info(
                '%s - "WebSocket %s" %s',
                escape(f"{client[0]}:{client[1]}") if client else "-",
                escape(path),
                outcome,
            )

    def log_app_error(self, message: str, exc: BaseException | None = None) -> None:
        self.error_logger.error(message, exc_info=exc)

    def error_response(self, error: BaseException) -> tuple[int, bytes]:
        """The status and body that answer an error the engine reports."""
        status = error_status(error)
        return status, reason_phrase(status).encode()
