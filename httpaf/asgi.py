"""ASGI 3.0 (HTTP spec 2.4, and lifespan) on the asyncio runtime.

Each request the engine parses becomes an ASGI ``http`` scope, and the application
is called with ``receive`` and ``send``. The call starts at once, inside the read
that parsed the request, so a response given without waiting goes out in the same
pass and needs no task of its own; a call that waits goes on in a task (see
"starting application calls eagerly" below; the application sees a current task
throughout, and its own copy of the connection's context).


- ``receive`` gives the request body piece by piece (``more_body``); the first call
  makes the engine send ``100 Continue`` when the client asked for it. While the
  application does not call it, unread body bytes pile up only to
  ``Config.body_buffer_high_water``, then reading pauses. Once the body is read it
  waits for ``http.disconnect``: when the client goes away, or at once after the
  response is complete.
- ``send`` takes ``http.response.start``, ``http.response.body`` and the extensions
  ``http.response.trailers`` and ``http.response.pathsend`` (a file sent with
  ``os.sendfile`` through ``loop.sendfile`` where the transport allows it, else read
  in pieces). It returns without awaiting unless the transport's buffer is full; then
  it waits until the peer has read enough. A start followed by one body (no
  ``more_body``) goes out as one zero-copy response with ``Content-Length`` when the
  application set no length; a streamed body without one is chunked on HTTP/1.1 and
  close-delimited on HTTP/1.0. Sending on a closed connection raises
  :class:`ClientDisconnected` (an ``OSError``), as spec 2.4 asks.
- An application error before ``http.response.start`` is answered ``500``; after it,
  the connection is cut so that the client never takes a partial response for a
  whole one.

:func:`serve` starts a server (lifespan startup first), :func:`run` serves until
SIGINT or SIGTERM and then shuts down gracefully. WebSocket is not served here (use
uvicorn with :class:`httpaf.uvicorn.HttpafProtocol` for that); an upgrade request
reaches the application as a plain ``http`` scope.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import email.utils
import ipaddress
import logging
import operator
import os
import sys
import time
import types
import weakref
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    MutableMapping,
)
from typing import Any, Literal

from . import asyncio as _runtime
from .config import Config
from .errors import StateError
from .headers import Headers
from .message import Request, Response, response_has_body
from .reqd import Reqd, StartResponse, error_status
from .status import reason_phrase
from .version import HTTP_1_0

__all__ = ["ClientDisconnected", "LifespanFailure", "serve", "run", "ASGIApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application: ``async def app(scope, receive, send)``.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[Any]]

error_logger = logging.getLogger("httpaf.error")
access_logger = logging.getLogger("httpaf.access")

_DISCONNECT = "http.disconnect"
_CHUNK = 256 * 1024  # file pieces read when sendfile cannot be used
_SMALL_FILE = 64 * 1024  # files read in the loop thread, without an executor
_SCHEDULE_MIN = 1024  # bodies at least this big are queued, not copied

# Cycle states.
_START = 0  # waiting for http.response.start
_HEAD = 1  # start received; the head goes out with the first body (or file)
_BODY = 2  # streaming the body
_TRAILERS = 3  # the body ended; waiting for http.response.trailers
_DONE = 4  # the response is complete


class ClientDisconnected(OSError):
    """``send`` was called after the client went away."""


class LifespanFailure(RuntimeError):
    """The application's lifespan startup failed (or raised, with ``lifespan="on"``)."""


# -- small helpers ---------------------------------------------------------------------


def _escape(text: str) -> str:
    """``text`` with control and other unprintable characters escaped, for logs."""
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


def _address(info: Any) -> tuple[str, int] | None:
    """A ``(host, port)`` pair from a transport's ``peername`` or ``sockname``."""
    if isinstance(info, (tuple, list)) and len(info) >= 2:
        return (str(info[0]), int(info[1]))
    return None


def _server_address(info: Any) -> tuple[str, int | None] | None:
    if isinstance(info, str) and info:
        return (info, None)  # a Unix socket's path
    return _address(info)


_NAMES: dict[str, bytes] = {}  # field names as scope header names (lower-case bytes)
#: The scope header names that ``proxy_headers`` reads.
_FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto"})
_first = operator.itemgetter(0)


def _scope_headers(fields: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """The scope's ``headers`` of request fields, names lower-cased (and cached)."""
    names = _NAMES
    if len(names) > 2048:
        names.clear()
    for name, _ in fields:
        if name not in names:
            names[name] = name.lower().encode("latin-1")
    return [(names[n], v.encode("latin-1")) for n, v in fields]


def _split_target(target: str, root_path: str) -> tuple[str, bytes, bytes]:
    """``(path, raw_path, query_string)`` of a request target, under ``root_path``."""
    if not target.startswith("/"):
        if "://" in target:  # absolute-form: keep the path and query
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            mark = rest.find("?")
            if slash < 0 or 0 <= mark < slash:
                target = "/" + (rest[mark:] if mark >= 0 else "")
            else:
                target = rest[slash:]
    raw, _, query = target.partition("?")
    raw = raw.partition("#")[0]
    if "%" in raw:
        from urllib.parse import unquote

        path = unquote(raw)
    else:
        path = raw
    return root_path + path, (root_path + raw).encode("latin-1"), query.encode("latin-1")


class _Trust:
    """Which peers may set ``X-Forwarded-For`` and ``X-Forwarded-Proto``."""

    def __init__(self, allowed: str | Iterable[str]) -> None:
        items = allowed.split(",") if isinstance(allowed, str) else list(allowed)
        self.everyone = False
        self.networks: list[Any] = []
        self.literals: set[str] = set()
        for item in (i.strip() for i in items):
            if not item:
                continue
            if item == "*":
                self.everyone = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.literals.add(item)  # e.g. "unix:" or a name

    def __contains__(self, host: str | None) -> bool:
        if self.everyone:
            return True
        if host is None:
            return "unix:" in self.literals
        if host in self.literals:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def _forwarded(
    headers: list[tuple[bytes, bytes]], client: Any, scheme: str, trust: _Trust
) -> tuple[Any, str]:
    """Client and scheme after a trusted proxy's ``X-Forwarded-For``/``-Proto``."""
    hosts: list[str] | None = None
    for name, value in headers:
        if name not in _FORWARDED:
            continue
        if name == b"x-forwarded-proto":
            proto = value.decode("latin-1").strip().lower()
            if proto in _SCHEMES:
                scheme = proto
        elif name == b"x-forwarded-for":
            found = [h.strip() for h in value.decode("latin-1").split(",")]
            hosts = found if hosts is None else hosts + found
    if hosts is None:
        return client, scheme
    hosts = [h for h in hosts if h]
    if hosts:
        # The right-most host that is not one of our proxies is the client.
        for host in reversed(hosts):
            if host not in trust:
                return (host, 0), scheme
        return (hosts[0], 0), scheme
    return client, scheme


_PAIRS: dict[Any, tuple[str, str]] = {}  # ASGI header pairs already decoded


def _decode_pair(pair: Any) -> tuple[str, str]:
    name, value = pair
    field = (name.decode("latin-1"), value.decode("latin-1"))
    if type(pair) is tuple and len(value) <= 64:  # hashable, and likely to come again
        if len(_PAIRS) >= 1024:
            _PAIRS.clear()
        _PAIRS[pair] = field
    return field


def _decode_fields(fields: Iterable[Any]) -> list[tuple[str, str]]:
    """ASGI header pairs (bytes) as engine fields (latin-1 str)."""
    get = _PAIRS.get
    return [(type(pair) is tuple and get(pair)) or _decode_pair(pair) for pair in fields]


async def _service_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
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


# -- what a server's connections share ---------------------------------------------


class _Settings:
    """What every connection of one server shares: the app, options, logs, counts."""

    #: ``scope["asgi"]["spec_version"]``; from 2.4 on, ``send`` after a disconnect raises.
    spec_version = "2.4"
    #: Whether application tasks leave ``tasks`` through a done callback (uvicorn's
    #: way) rather than on their own as they end.
    discard_by_callback = False
    #: Whether application calls may start eagerly (see ``_ASGIProtocol._on_request``).
    eager = True
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
    ) -> None:
        self.app = app
        self.config = config
        self.state: dict[str, Any] = state if state is not None else {}
        self.root_path = root_path
        self.trust = _Trust(forwarded_allow_ips) if proxy_headers else None
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
        #: The idle task that eagerly started application calls run under.
        self.host: _Runner | None = None
        self.counter = self
        self._targets: dict[str, tuple[str, bytes, bytes]] = {}
        self._server_header = server_header
        self._date_header = date_header
        self._extra_headers = [(str(n), str(v)) for n, v in headers]
        self._fields: list[tuple[str, str]] = []
        self._responses: dict[Any, Response] = {}  # see shared_response
        # The last one it gave, and its start message's status and fields (a list).
        self._last_status: int | None = None
        self._last_start: list[Any] | None = None
        self._last_response: Response | None = None
        self._source: Any = None  # what the default fields were made of (see _watched)
        self._ticker: Any = None
        self.refresh_default_fields()

    # -- per response ----------------------------------------------------------------

    def default_fields(self) -> list[tuple[str, str]]:
        """Fields every response starts with (``Date``, ``Server``, extra headers)."""
        return self._fields

    def refresh_default_fields(self) -> None:
        fields: list[tuple[str, str]] = []
        if self._date_header:
            fields.append(("date", email.utils.formatdate(usegmt=True)))
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
            fields = self.default_fields() + _decode_fields(headers)
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

    def start_clock(self, loop: asyncio.AbstractEventLoop) -> None:
        """Refresh ``Date`` once a second, on the second."""
        if not self._date_header:
            return

        def tick() -> None:
            self.refresh_default_fields()
            self._ticker = loop.call_later(1.0 - time.time() % 1.0, tick)

        tick()

    def stop_clock(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def new_host(self, loop: Any) -> _Runner | None:
        """A new host task for eagerly started calls on ``loop`` (see ``_on_request``).

        ``None`` (and no eager start from now on) if the loop's task factory does not
        make ``asyncio.Task`` objects.
        """
        host = _Runner(None)
        host.loop = loop
        waiter = host.waiter = loop.create_future()
        task = host.task = loop.create_task(host)
        if not isinstance(task, asyncio.Task):
            waiter.set_result(None)  # it ends
            self.eager = False
            return None
        # An idle host may outlive its loop: no "destroyed but pending" complaint.
        task._log_destroy_pending = False  # type: ignore[attr-defined]
        self.host = host
        return host

    def retire_host(self) -> None:
        """Let the host task end (when idle; else the call it runs keeps it)."""
        host, self.host = self.host, None
        if host is not None and host.waiter is not None and not host.waiter.done():
            host.waiter.set_result(None)

    def split_target(self, target: str) -> tuple[str, bytes, bytes]:
        """``_split_target`` with a small cache (most servers see few targets)."""
        targets = self._targets
        parts = targets.get(target)
        if parts is None:
            if len(targets) >= 1024:
                targets.clear()
            parts = targets[target] = _split_target(target, self.root_path)
        return parts

    def over_limit(self) -> bool:
        """Whether a new request exceeds ``limit_concurrency``."""
        limit = self.limit_concurrency
        return limit is not None and (len(self.tasks) >= limit or len(self.connections) > limit)

    def log_access(self, cycle: _Cycle, status: int) -> None:
        logger = self.access_logger
        if self.access_log and logger.isEnabledFor(logging.INFO):
            scope = cycle.scope
            client = scope["client"]
            request = cycle.reqd.request
            logger.info(
                '%s - "%s %s HTTP/%s" %d',
                _escape(f"{client[0]}:{client[1]}") if client else "-",
                request.method,
                _escape(request.target),
                scope["http_version"],
                status,
            )

    def log_app_error(self, message: str, exc: BaseException | None = None) -> None:
        self.error_logger.error(message, exc_info=exc)

    def error_response(self, error: BaseException) -> tuple[int, bytes]:
        """The status and body that answer an error the engine reports."""
        status = error_status(error)
        return status, reason_phrase(status).encode()


# -- one request ---------------------------------------------------------------------


class _Cycle:
    """One request/response: the application's ``receive`` and ``send``."""

    __slots__ = (
        "proto",
        "reqd",
        "scope",
        "settings",
        "state",
        "status",
        "headers",
        "trailers",
        "trailer_fields",
        "writer",
        "waiter",
        "message",
        "body_done",
        "disconnect_waiters",
        "task",
        "eof",
        "eager",
    )

    def __init__(self, proto: _ASGIProtocol, settings: _Settings, reqd: Reqd, scope: Scope) -> None:
        self.proto = proto
        self.settings = settings
        self.start(reqd, scope)

    def start(self, reqd: Reqd, scope: Scope) -> None:
        """Serve ``reqd`` (a new cycle, or one whose call is over and that nothing else
        refers to: see ``_ASGIProtocol._on_request``)."""
        self.reqd = reqd
        self.scope = scope
        self.state = self.status = _START
        self.headers: Any = ()
        self.trailer_fields: list[tuple[str, str]] | None
        self.writer: Any
        self.waiter: asyncio.Future[Message] | None
        self.message: Message | None
        self.disconnect_waiters: list[asyncio.Future[None]] | None
        self.task: Any  # set when the task is tracked without a done callback
        self.trailer_fields = self.writer = self.waiter = self.message = None
        self.disconnect_waiters = self.task = None
        # eof: the client finished sending (and may be gone); eager: the call's first
        # step runs, inside the read pass.
        self.trailers = self.body_done = self.eof = self.eager = False

    # -- running the application ---------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        """Call the application; answer or cut the exchange if it fails.

        (``_eager_calls`` does the same for a call that starts eagerly.)
        """
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            if self._raised(exc):
                raise
        else:
            if result is not None or self.state != _DONE:
                self._returned(result)
        finally:
            task = self.task
            if task is not None:
                self.settings.tasks.discard(task)

    def _raised(self, exc: BaseException) -> bool:
        """The call raised ``exc``: answer or cut; whether ``exc`` goes on up."""
        if isinstance(exc, asyncio.CancelledError):
            if self.state != _DONE:
                self.proto.abort()
            return True
        if not (self.proto._lost and isinstance(exc, OSError)):
            self.settings.log_app_error("Exception in ASGI application\n", exc)
        self._fail(exc)
        return isinstance(exc, (KeyboardInterrupt, SystemExit))

    def _returned(self, result: Any) -> None:
        """The call returned ``result`` (not ``None``, or before the response ended)."""
        if result is not None:
            self.settings.log_app_error(
                f"ASGI callable should return None, but returned {result!r}."
            )
            self._fail(RuntimeError("the ASGI callable returned a value"))
        elif self.state != _DONE and not self.proto._lost:
            self.settings.log_app_error(
                "ASGI callable returned without starting response."
                if self.state == _START
                else "ASGI callable returned without completing response."
            )
            self._fail(RuntimeError("the ASGI callable returned early"))

    def _fail(self, exc: BaseException) -> None:
        """The application failed: answer 500 if nothing was sent, else cut."""
        state = self.state
        proto = self.proto
        if proto._lost:
            return
        if state == _START:
            if self.reqd.response is None and self.reqd.error_code is None:
                self.reqd.report_exn(exc)  # the engine's error handler answers 500
            return
        if state == _DONE:
            proto.shutdown()  # the response is whole: end after what is in flight
        elif state == _HEAD:
            proto.abort()  # nothing of the head went out
        else:
            self.reqd.report_exn(exc)  # the body stops short and the connection closes
        self._finish()

    # -- receive -------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next ASGI message: a piece of the body, or ``http.disconnect``."""
        message = self.message
        if message is not None:
            self.message = None
            return message
        if self.body_done or self.state == _DONE or self.proto._lost:
            return await self._disconnect()
        body = self.reqd.body
        if not body.is_read_scheduled:
            body.schedule_read(self._on_read, self._on_eof)
            message = self.message
            if message is not None:
                self.message = None
                return message
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        self.proto.refresh_timer()  # the body timer runs while we wait
        return await waiter

    def _deliver(self, message: Message) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.message = message
        else:
            self.waiter = None
            waiter.set_result(message)

    def _on_read(self, data: memoryview) -> None:
        owner = data.obj
        chunk = owner if type(owner) is bytes and len(owner) == data.nbytes else bytes(data)
        more = not self.reqd.body.at_eof
        if not more:
            self.body_done = True
        self._deliver({"type": "http.request", "body": chunk, "more_body": more})

    def _on_eof(self) -> None:
        self.body_done = True
        if self.reqd.body.at_eof:
            self._deliver({"type": "http.request", "body": b"", "more_body": False})
        else:  # the body was closed: the connection went away or gave up on it
            self._deliver({"type": _DISCONNECT})

    async def _disconnect(self) -> Message:
        if self.state != _DONE and not self.proto._lost and not self.eof:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiters = self.disconnect_waiters
            if waiters is None:
                self.disconnect_waiters = [waiter]
            else:
                waiters.append(waiter)
            await waiter
        return {"type": _DISCONNECT}

    def _finish(self) -> None:
        """The response is over (or the connection): wake ``http.disconnect`` waiters."""
        waiters = self.disconnect_waiters
        if waiters:
            self.disconnect_waiters = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        waiter2 = self.waiter
        if waiter2 is not None and not waiter2.done() and self.proto._lost:
            self.waiter = None
            waiter2.set_result({"type": _DISCONNECT})

    def connection_lost(self) -> None:
        self._finish()

    def peer_eof(self) -> None:
        self.eof = True
        waiters = self.disconnect_waiters
        if waiters:
            self.disconnect_waiters = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # -- send ----------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Take one ASGI message of the response."""
        proto = self.proto
        if proto._lost:
            if self.settings.raise_on_disconnect:
                raise ClientDisconnected("the client disconnected")
            return
        state = self.state
        kind = message["type"]
        try:
            if state == _START:
                if kind != "http.response.start":
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.start', but got '{kind}'."
                    )
                self.status = message["status"]
                self.headers = message.get("headers", ())
                if "trailers" in message and message["trailers"]:
                    self.trailers = True
                self.state = _HEAD
                return
            if state == _HEAD:
                if kind == "http.response.body":
                    body = message.get("body", b"")
                    if not self.trailers and not ("more_body" in message and message["more_body"]):
                        self._respond_whole(body)
                        return
                    self._start_streaming(self._response())
                    self._write(body, message.get("more_body", False))
                elif kind == "http.response.pathsend":
                    await self._send_file(message["path"])
                    return
                else:
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.body', but got '{kind}'."
                    )
            elif state == _BODY:
                if kind != "http.response.body":
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.body', but got '{kind}'."
                    )
                self._write(message.get("body", b""), message.get("more_body", False))
            elif state == _TRAILERS:
                if kind != "http.response.trailers":
                    raise RuntimeError(
                        f"Expected ASGI message 'http.response.trailers', but got '{kind}'."
                    )
                fields = self.trailer_fields
                if fields is None:
                    fields = self.trailer_fields = []
                fields.extend(_decode_fields(message.get("headers", ())))
                if not message.get("more_trailers", False):
                    writer = self.writer
                    writer.close(Headers._of_list(fields) if writer.is_chunked and fields else None)
                    self._done()
            else:
                raise RuntimeError(
                    f"Unexpected ASGI message '{kind}' sent, after response already completed."
                )
        except StateError:
            if proto._lost or self.reqd.error_code is not None or proto.conn.is_closed:
                # The engine gave up on this exchange (the peer left or broke it).
                if self.settings.raise_on_disconnect:
                    raise ClientDisconnected("the connection is closed") from None
                return
            raise
        if self.eager and self.state == _BODY:
            # Output waits for the read pass to end: let it, then see whether the
            # transport is full (the rest of the call runs in a task).
            await _next_turn()
        if proto._write_paused:
            waiter = proto.writable()
            if waiter is not None:
                await waiter

    def _response(self, log: bool = True) -> Response:
        """The response head of the start message, after the server's default fields."""
        settings = self.settings
        fields = settings.default_fields() + _decode_fields(self.headers)
        response = Response(self.status, Headers._of_list(fields))
        if not self.reqd.persistent:
            # The exchange ends the connection: say so once (the engine adds it only
            # when the client expected the connection to stay).
            if "close" not in response.headers.get_tokens("connection"):
                fields.append(("connection", "close"))
        if log and settings.access_log:
            settings.log_access(self, response.status)
        return response

    def _respond_whole(self, body: Any) -> None:
        reqd = self.reqd
        settings = self.settings
        data = body if type(body) is bytes else bytes(body)
        # A persistent exchange's head is the same for the same start message (until
        # the default fields change): made once, shared like a native handler's.
        response = None
        if reqd.persistent:
            status = self.status
            watched = settings._watched
            if (
                type(status) is int
                and status == settings._last_status
                and self.headers == settings._last_start
                and (watched is None or watched.default_headers is settings._source)
            ):
                response = settings._last_response  # the usual case: the same as last
            else:
                response = settings.shared_response(status, self.headers)
        if response is None:
            response = self._response()
        elif settings.access_log:
            settings.log_access(self, response.status)
        try:
            reqd.respond_with_bytes(response, data)
        except ValueError:
            response = self._response(log=False)  # (a shared one is never changed)
            if not _drop_length_beside_chunked(response):
                raise
            reqd.respond_with_bytes(response, data)
        # (_done, inline)
        self.state = _DONE
        settings.counter.total_requests += 1
        if self.disconnect_waiters:
            self._finish()

    def _start_streaming(self, response: Response) -> None:
        headers = response.headers
        has_te = headers.mem("transfer-encoding")
        if has_te:
            _drop_length_beside_chunked(response)
        elif not headers.mem("content-length") and response_has_body(
            response.status, self.reqd.request.method
        ):
            if self.reqd.request.version is not HTTP_1_0:
                headers.add("transfer-encoding", "chunked")
            # (HTTP/1.0: the body ends when the connection closes.)
        self.writer = self.reqd.respond_with_streaming(response)
        self.state = _BODY

    def _write(self, body: Any, more: bool) -> None:
        writer = self.writer
        if body:
            if type(body) is bytes and len(body) >= _SCHEDULE_MIN:
                writer.schedule(body)
            else:
                writer.write(body)
        if more:
            writer.flush()
        elif self.trailers:
            self.state = _TRAILERS
            writer.flush()
        else:
            writer.close()
            self._done()

    def _done(self) -> None:
        self.state = _DONE
        self.settings.counter.total_requests += 1
        if self.disconnect_waiters:
            self._finish()

    # -- pathsend ------------------------------------------------------------------

    async def _send_file(self, path: str | os.PathLike[str]) -> None:
        """``http.response.pathsend``: the file at ``path`` as the body."""
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            response = self._response()
            headers = response.headers
            if not headers.mem("content-length") and not headers.mem("transfer-encoding"):
                headers.add("content-length", str(size))
            self._start_streaming(response)
            writer = self.writer
            proto = self.proto
            sent = 0
            if size and response_has_body(response.status, self.reqd.request.method):
                if not writer.is_chunked:
                    sent = await self._sendfile(file, size)
                if sent < size:
                    await self._send_pieces(file, sent, size)
            if proto._lost:
                raise ClientDisconnected("the client disconnected")
            writer.close()
            self._done()

    async def _sendfile(self, file: Any, size: int) -> int:
        """Send ``file`` with ``loop.sendfile`` (zero copy); 0 if it cannot be used."""
        proto = self.proto
        transport = proto._transport
        if transport is None or proto._lost:
            return 0
        loop = asyncio.get_running_loop()
        flushed: asyncio.Future[None] = loop.create_future()

        def on_flushed() -> None:
            if not flushed.done():
                flushed.set_result(None)

        self.writer.flush(on_flushed)
        await flushed  # the head (and anything before) is with the transport
        if proto._lost or transport.is_closing():
            return 0
        proto._sending_file = True
        try:
            sent = await loop.sendfile(transport, file, 0, size, fallback=False)
        except (NotImplementedError, RuntimeError):
            return 0  # no native sendfile here (uvloop, TLS): nothing was sent
        finally:
            proto._sending_file = False
            if not proto._lost:
                # loop.sendfile pauses and resumes reading itself: restore our state.
                if proto._reading_paused:
                    transport.pause_reading()
                else:
                    transport.resume_reading()
        self.writer.mark_sent(sent)
        proto._writer_wanted = True
        proto._pump()
        return int(sent)

    async def _send_pieces(self, file: Any, offset: int, size: int) -> None:
        """Send ``file[offset:size]`` read piece by piece, waiting for the transport."""
        proto = self.proto
        writer = self.writer
        loop = asyncio.get_running_loop()
        fd = file.fileno()
        while offset < size and not proto._lost:
            n = min(_CHUNK, size - offset)
            if size <= _SMALL_FILE:
                data = os.pread(fd, n, offset)
            else:
                data = await loop.run_in_executor(None, os.pread, fd, n, offset)
            if not data:
                break  # the file shrank: the body ends short and the connection closes
            writer.schedule(data)
            writer.flush()
            offset += len(data)
            waiter = proto.writable()
            if waiter is not None:
                await waiter


def _drop_length_beside_chunked(response: Response) -> bool:
    """Drop Content-Length when Transfer-Encoding is also set (it wins, RFC 9112 §6.3)."""
    headers = response.headers
    if headers.mem("transfer-encoding") and headers.mem("content-length"):
        headers.remove("content-length")
        return True
    return False


# -- starting application calls eagerly ---------------------------------------------
#
# A request's application call (``_Cycle.run``) takes its first step at once, inside
# the callback that parsed the request, rather than in a task that the loop runs on a
# later turn: a response given without waiting goes out in the same read-and-write
# pass, and no task is made for it. This is what Python 3.12's eager tasks do, on 3.11
# and without a task per request:
#
# - While the step runs, ``asyncio.current_task()`` is a *host*: a task of the server
#   (per loop) that sleeps while idle, so that libraries needing a current task
#   (anyio, ``asyncio.timeout``, ``TaskGroup``) have one.
# - A step that kept or changed its task (a strong or weak reference held on to, a
#   done callback, a cancellation) has *observed* it: that host is retired and the
#   next step gets a new one, so no two calls share a task that either of them kept.
# - A call that waits (its step yielded a future) goes on in a task: a new one if it
#   did not observe the host, else the host itself, which is then its alone.
#   ``_Runner`` is what such a task runs: it hands the task the future the first step
#   yielded, then steps the call.
# - A step that raised (only ``CancelledError``, ``KeyboardInterrupt`` and
#   ``SystemExit`` get out of ``_Cycle.run``) raises it again from a task, where
#   asyncio deals with it as it always did.
# - The first steps are taken (in ``_ASGIProtocol._on_request``, the rest in
#   ``_after_first_step``) through a generator that does what ``_Cycle.run`` does and
#   never ends by itself (``_eager_calls``, one per host): a call that ends in its
#   first step makes it yield ``_FINISHED``. So a call that answers at once needs no
#   ``_Cycle.run`` coroutine, and its end raises no ``StopIteration``. A call that
#   waits takes that generator along into its task.
#
# A call that starts while a task runs (a pipelined request started from the previous
# response's ``send``), or on a loop that is not an asyncio event loop, is a task.

_enter_task: Any = getattr(asyncio.tasks, "_enter_task", None)
_leave_task: Any = getattr(asyncio.tasks, "_leave_task", None)
_current_tasks = getattr(asyncio.tasks, "_current_tasks", None)
if sys.version_info < (3, 12) and isinstance(_current_tasks, dict):
    _current_task: Any = _current_tasks.get  # (asyncio.current_task is Python code here)
    # What _enter_task and _leave_task change: an eager step sets and deletes its
    # loop's entry itself, once it has seen that no task is current (cheaper calls).
    _tasks_by_loop: dict[Any, Any] | None = _current_tasks
else:  # pragma: no cover
    _current_task = asyncio.current_task
    _tasks_by_loop = None
_EAGER = (
    sys.version_info >= (3, 11)
    and sys.implementation.name == "cpython"
    and _enter_task is not None
    and _leave_task is not None
)
_getrefcount = sys.getrefcount
_getweakrefcount = weakref.getweakrefcount
_CoroutineType = types.CoroutineType
_NOTHING: Any = object()  # a _Runner has nothing pending
_FINISHED: Any = object()  # the eager step ended the call


@types.coroutine
def _next_turn() -> Generator[None, None, None]:
    """Let the loop turn once (a bare yield, as ``asyncio.sleep(0)``)."""
    yield


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


@types.coroutine
def _eager_calls() -> Generator[Any, Any, None]:
    """Runs application calls sent to it, one after another, as ``_Cycle.run`` does.

    Each ``send((cycle, app))`` takes the first step of a call: it yields
    ``_FINISHED`` once the call has ended, else what the call waits for, and then
    whoever goes on with the call drives this generator (until it yields
    ``_FINISHED``). Primed with ``send(None)``.
    """
    call = yield
    while True:
        cycle, app = call
        try:
            coro = app(cycle.scope, cycle.receive, cycle.send)
            if type(coro) is not _CoroutineType:
                coro = _awaited(coro)  # (any awaitable, as ``await`` takes)
            result = yield from coro
        except BaseException as exc:
            # (GeneratorExit: this generator is being closed, with the call in it.)
            if cycle._raised(exc) or type(exc) is GeneratorExit:
                raise
        else:
            if result is not None or cycle.state != _DONE:
                cycle._returned(result)
        finally:
            task = cycle.task
            if task is not None:
                cycle.settings.tasks.discard(task)
        call = cycle = app = coro = None  # (nothing kept while idle)
        call = yield _FINISHED


class _Runner(Coroutine[Any, Any, None]):
    """The coroutine of a task that goes on with an eagerly started call.

    A host's runner has no call (``coro`` is None) until one is handed over: it waits
    for ``waiter``, and ends once that is resolved with nothing to run.
    """

    __slots__ = ("coro", "pending", "error", "context", "waiter", "task", "loop", "calls")

    def __init__(self, coro: Any, pending: Any = _NOTHING, error: Any = None) -> None:
        # The call: a started _Cycle.run coroutine, or the _eager_calls generator
        # that runs one (and yields _FINISHED when it ends).
        self.coro = coro
        self.pending = pending  # what its eager step yielded, for the first step
        self.error: BaseException | None = error  # what its eager step raised
        self.context: contextvars.Context | None = None  # the call's, if not the task's
        self.waiter: asyncio.Future[None] | None = None  # a host's idle wait
        self.task: Any = None  # a host's task
        self.loop: Any = None  # a host's loop
        self.calls: Any = None  # a host's idle _eager_calls generator

    def send(self, value: Any) -> Any:
        coro = self.coro
        if coro is None:  # an idle host: wait, or end once retired
            waiter = self.waiter
            if waiter is None or waiter.done():
                raise StopIteration
            waiter._asyncio_future_blocking = True
            return waiter
        error = self.error
        if error is not None:
            self.error = None
            raise error
        pending = self.pending
        if pending is not _NOTHING:
            self.pending = _NOTHING
            if pending is not None:
                return pending  # the task waits for what the eager step waits for
            # (A bare yield, as in asyncio.sleep(0): the loop has turned since.)
        context = self.context
        result = coro.send(None) if context is None else context.run(coro.send, None)
        if result is _FINISHED:
            self._end()
        return result

    def _end(self) -> None:
        """The call ran by an ``_eager_calls`` generator has ended: so does the task."""
        self.coro.close()
        raise StopIteration

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        coro = self.coro
        error = self.error
        if coro is None or error is not None:
            self.error = None
            if error is not None:
                raise error
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.cancel()  # a host that ends so is not used again
            if val is None:
                val = typ if isinstance(typ, BaseException) else typ()
            raise val.with_traceback(tb) if tb is not None else val
        pending = self.pending
        if pending is not _NOTHING:
            # Cancelled before the task took over: what the step waits for is
            # cancelled, as a task cancelled during a step cancels what it yields.
            self.pending = _NOTHING
            if isinstance(pending, asyncio.Future) and not pending.done():
                pending.cancel()
        args = (typ,) if val is None and tb is None else (typ, val, tb)
        context = self.context
        result = coro.throw(*args) if context is None else context.run(coro.throw, *args)
        if result is _FINISHED:
            self._end()
        return result

    def close(self) -> None:
        coro = self.coro
        if coro is not None:
            coro.close()

    def __await__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    # What asyncio's task repr and stack printing read of a coroutine (of the call's,
    # or of the generator that runs it).
    @property
    def cr_frame(self) -> Any:
        coro = self.coro
        return getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)

    @property
    def cr_running(self) -> bool:
        coro = self.coro
        return bool(getattr(coro, "cr_running", False) or getattr(coro, "gi_running", False))

    @property
    def cr_await(self) -> Any:
        coro = self.coro
        return getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)

    @property
    def cr_code(self) -> Any:
        coro = self.coro
        return getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)


def _track(settings: _Settings, cycle: _Cycle, task: Any) -> None:
    """Count ``task`` (running ``cycle``'s call) among the server's tasks."""
    tasks = settings.tasks
    tasks.add(task)
    if settings.discard_by_callback:
        task.add_done_callback(tasks.discard)
    else:
        cycle.task = task  # the cycle discards it when it ends (saves a loop turn)


def _after_first_step(
    loop: Any,
    settings: _Settings,
    host: _Runner,
    cycle: _Cycle,
    context: contextvars.Context,
    pending: Any,
    error: BaseException | None,
    observed: bool,
) -> None:
    """The eager first step of ``cycle``'s call (in ``_ASGIProtocol._on_request``)
    waits, raised, or observed ``host``'s task: the call goes on in a task."""
    calls = host.calls
    if pending is not _FINISHED:
        host.calls = None  # it goes on with the call (or it ended with it)
    task = host.task
    waiter: Any = host.waiter
    if observed:
        # The call observed its task: the host is not shared any more.
        settings.host = None
        if pending is not _FINISHED and error is None:
            host.coro = calls  # the host goes on with the call
            host.pending = pending
            host.context = context
            _track(settings, cycle, task)
            if not waiter.done():
                waiter.set_result(None)
            return
        if not waiter.done():
            waiter.set_result(None)  # the host ends
    if pending is _FINISHED:
        return
    task = loop.create_task(_Runner(calls, pending, error), context=context)
    if error is None:
        _track(settings, cycle, task)


# -- one connection ----------------------------------------------------------------


class _ASGIProtocol(_runtime._ServerProtocol):
    """A connection serving an ASGI application."""

    __slots__ = (
        "settings",
        "_server",
        "_client",
        "_scheme",
        "_trusted",
        "_cycle",
        "_cycle_free",
        "scope",
        "_context",
        "_template",
        "_last_target",
        "_last_method",
        "_last_version",
        "_last_fields",
        "_last_headers",
        "_last_forwarded",
        "_eager",
    )

    def __init__(self, settings: _Settings, loop: Any = None) -> None:
        self.settings = settings
        super().__init__(
            self._on_request, self._on_error, settings.config, settings.connections, loop
        )
        self._server: Any = None
        self._client: Any = None
        self._scheme = "http"
        self._trusted = False
        self._cycle: _Cycle | None = None
        self._cycle_free = False  # ... and ready for the next request
        #: The scope of the request being served (``None`` once a call that answered
        #: in its first step is over).
        self.scope: Scope | None = None
        self._context = contextvars.Context()
        # What the scopes of requests with the last request line start from (made
        # again when the line changes), and that line.
        self._template: dict[str, Any] = {}
        self._last_target: str | None = None
        self._last_method: Any = None
        self._last_version: Any = None
        self._last_fields: list[tuple[str, str]] | None = None  # the last request's
        self._last_headers: list[tuple[bytes, bytes]] = []  # ... as scope headers
        self._last_forwarded = False  # ... with X-Forwarded-For or -Proto
        # Application calls start inside the callback that parsed the request (see
        # _on_request) on a real event loop; on others (test doubles) as tasks.
        self._eager = _EAGER and isinstance(self.loop, asyncio.AbstractEventLoop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        get = transport.get_extra_info
        self._server = _server_address(get("sockname"))
        self._client = _address(get("peername"))
        self._scheme = "https" if get("sslcontext") else "http"
        trust = self.settings.trust
        if trust is not None:
            self._trusted = (self._client[0] if self._client else None) in trust
        # Each call runs in a copy of this (the connection's) context: not in one of
        # the previous call's, whose task may start the next pipelined request.
        self._context = contextvars.copy_context()
        self._last_target = None  # (the template has the old addresses)
        super().connection_made(transport)

    def _scope_template(self, request: Request) -> dict[str, Any]:
        """What the ``http`` scopes of requests with the request line of ``request``
        start from (in the ASGI order): all but ``headers`` and ``state``."""
        settings = self.settings
        target = request.target
        path, raw_path, query = settings._targets.get(target) or settings.split_target(target)
        template = self._template = {
            "type": "http",
            "asgi": settings.asgi,
            "http_version": "1.0" if request.version is HTTP_1_0 else "1.1",
            "server": self._server,
            "client": self._client,
            "scheme": self._scheme,
            "method": request.method,
            "root_path": settings.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": [],
            "state": {},
            "extensions": settings.extensions,
        }
        self._last_target = target
        self._last_method = request.method
        self._last_version = request.version
        return template

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        cycle = self._cycle
        if cycle is not None:
            cycle.connection_lost()
        settings = self.settings
        if settings.host is not None and not settings.connections:
            settings.retire_host()  # nothing left to serve: no idle task lingers

    def eof_received(self) -> bool:
        keep_open = super().eof_received()
        cycle = self._cycle
        if cycle is not None:
            # The client sent all it will: an application waiting for the end of
            # the exchange hears http.disconnect (a response may still go out).
            cycle.peer_eof()
        return keep_open

    # -- requests ------------------------------------------------------------------

    def _on_request(self, reqd: Reqd) -> None:
        if reqd._upgradable and self._upgrade(reqd):
            return
        settings = self.settings
        request = reqd.request
        # A client sends much the same request line and fields on each request of a
        # connection: the scope of the last line, and the last fields converted, are
        # kept. (A copy of a dict is cheaper than a build.)
        if (
            request.target == self._last_target
            and request.method == self._last_method
            and request.version is self._last_version
        ):
            scope = self._template.copy()
        else:
            scope = self._scope_template(request).copy()
        fields = request.headers._fields  # (the engine's list, only read here)
        if fields == self._last_fields:
            headers = self._last_headers.copy()
        else:
            headers = self._scope_headers(fields)
        scope["headers"] = headers
        scope["state"] = settings.state.copy()
        if self._last_forwarded and self._trusted:
            scope["client"], scope["scheme"] = _forwarded(
                headers,
                self._client,
                self._scheme,
                settings.trust,  # type: ignore[arg-type]
            )
        self.scope = scope
        cycle = self._cycle
        if self._cycle_free and cycle is not None:
            # The last call ended in its first step and nothing kept its cycle (see
            # below): it serves this request too (cheaper than a new one).
            self._cycle_free = False
            cycle.start(reqd, scope)
        else:
            cycle = self._cycle = _Cycle(self, settings, reqd, scope)
        if settings.limit_concurrency is not None and settings.over_limit():
            settings.error_logger.warning("Exceeded concurrency limit.")
            app: ASGIApp = _service_unavailable
        else:
            app = settings.app
        loop = self.loop
        if self._eager and settings.eager and _current_task(loop) is None:
            host = settings.host
            if host is None or host.loop is not loop or host.waiter.done():  # type: ignore[union-attr]
                host = settings.new_host(loop)
            if host is not None:
                # The call's first step, now, under the host's task (see "starting
                # application calls eagerly"; inline: the usual case ends here).
                context = (
                    contextvars.Context() if settings.reset_contextvars else self._context.copy()
                )
                task = host.task
                calls = host.calls
                if calls is None:
                    calls = host.calls = _eager_calls()
                    calls.send(None)
                refs = _getrefcount(task)
                weak = _getweakrefcount(task)
                cycle_refs = _getrefcount(cycle)
                cycle.eager = True
                tasks = _tasks_by_loop
                if tasks is not None:
                    tasks[loop] = task  # (_enter_task)
                else:  # pragma: no cover
                    _enter_task(loop, task)
                try:
                    pending = context.run(calls.send, (cycle, app))
                    error = None
                except BaseException as exc:  # (raised again from a task)
                    pending = _NOTHING
                    error = exc
                finally:
                    if tasks is not None:
                        del tasks[loop]  # (_leave_task)
                    else:  # pragma: no cover
                        _leave_task(loop, task)
                    cycle.eager = False
                # (A cancel of the host task cancels the waiter it waits for.)
                observed = (
                    _getrefcount(task) != refs
                    or _getweakrefcount(task) != weak
                    or host.waiter.done()  # type: ignore[union-attr]
                    or task._callbacks
                )
                if observed or pending is not _FINISHED:
                    _after_first_step(
                        loop, settings, host, cycle, context, pending, error, observed
                    )
                elif _getrefcount(cycle) == cycle_refs:
                    # The call is over and kept nothing of its cycle (no ``receive`` or
                    # ``send``, no callback, no frame): the next request may reuse it.
                    # Meanwhile it holds no request (an idle connection stays small).
                    self._cycle_free = True
                    cycle.reqd = cycle.scope = self.scope = None  # type: ignore[assignment]
                return
        self._start_task(cycle, cycle.run(app))

    def _scope_headers(self, fields: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
        """The scope's ``headers`` of request ``fields``, kept for the next request."""
        names = _NAMES
        try:
            headers = [(names[n], v.encode("latin-1")) for n, v in fields]
        except KeyError:  # a name not seen yet
            headers = _scope_headers(fields)
        self._last_fields = fields.copy()
        self._last_headers = headers.copy()
        # Whether a trusted proxy's fields have to be read (see _forwarded).
        self._last_forwarded = not _FORWARDED.isdisjoint(map(_first, headers))
        return headers

    def _upgrade(self, reqd: Reqd) -> bool:
        """Whether an upgrade request was taken elsewhere (not as an ``http`` scope)."""
        return False

    def _start_task(self, cycle: _Cycle, coro: Any) -> None:
        """Run ``coro`` as a task (when it cannot start eagerly)."""
        loop = self.loop
        if self.settings.reset_contextvars:
            context: contextvars.Context | None = contextvars.Context()
        elif self._eager:  # (not on loop doubles: their create_task takes no context)
            context = self._context.copy()
        else:
            context = None
        if context is None:
            task = loop.create_task(coro)
        elif sys.version_info >= (3, 11):
            task = loop.create_task(coro, context=context)
        else:  # pragma: no cover
            task = context.run(loop.create_task, coro)
        _track(self.settings, cycle, task)

    def _on_error(
        self, request: Request | None, error: BaseException, start_response: StartResponse
    ) -> None:
        status, body = self.settings.error_response(error)
        fields = [
            *self.settings.default_fields(),
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", str(len(body))),
            ("connection", "close"),
        ]
        writer = start_response(Headers._of_list(fields))
        writer.write(body)
        writer.close()


# -- lifespan ---------------------------------------------------------------------


class _Lifespan:
    """Runs the application's ``lifespan`` scope: startup before serving, shutdown after."""

    def __init__(
        self,
        app: ASGIApp,
        mode: Literal["auto", "on", "off"],
        state: dict[str, Any],
        logger: logging.Logger = error_logger,
    ) -> None:
        self.app = app
        self.mode = mode
        self.state = state
        self.logger = logger
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._startup: asyncio.Future[str] | None = None
        self._shutdown: asyncio.Future[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = False  # the application took part in startup

    async def startup(self) -> None:
        """Run startup; raise :class:`LifespanFailure` if it failed."""
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self._startup = loop.create_future()
        self._shutdown = loop.create_future()
        self._task = loop.create_task(self._main())
        self._events.put_nowait({"type": "lifespan.startup"})
        outcome = await self._startup
        if outcome == "complete":
            self._running = True
            return
        if outcome == "unsupported":
            return
        raise LifespanFailure(f"application startup failed: {outcome}")

    async def shutdown(self) -> None:
        """Run shutdown (when startup ran), and wait for the lifespan call to end."""
        if not self._running or self._shutdown is None:
            return
        self._running = False
        self._events.put_nowait({"type": "lifespan.shutdown"})
        outcome = await self._shutdown
        if outcome not in ("complete", "unsupported"):
            self.logger.error("Application shutdown failed: %s", outcome)
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            startup = self._startup
            if startup is not None and not startup.done():
                if self.mode == "auto":
                    self.logger.info("ASGI 'lifespan' protocol appears unsupported.")
                    startup.set_result("unsupported")
                else:
                    self.logger.error("Exception in 'lifespan' protocol\n", exc_info=exc)
                    startup.set_result(f"{type(exc).__name__}: {exc}")
            else:
                self.logger.error("Exception in 'lifespan' protocol\n", exc_info=exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            for future in (self._startup, self._shutdown):
                if future is not None and not future.done():
                    future.set_result("unsupported" if future is self._startup else "complete")

    async def _receive(self) -> Message:
        return await self._events.get()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        startup, shutdown = self._startup, self._shutdown
        if kind == "lifespan.startup.complete" and startup and not startup.done():
            startup.set_result("complete")
        elif kind == "lifespan.startup.failed" and startup and not startup.done():
            text = message.get("message", "")
            self.logger.error("Application startup failed. %s", _escape(str(text)))
            startup.set_result(str(text) or "lifespan.startup.failed")
        elif kind == "lifespan.shutdown.complete" and shutdown and not shutdown.done():
            shutdown.set_result("complete")
        elif kind == "lifespan.shutdown.failed" and shutdown and not shutdown.done():
            shutdown.set_result(str(message.get("message", "")) or "lifespan.shutdown.failed")
        else:
            raise RuntimeError(f"unexpected lifespan message {kind!r}")


# -- public API --------------------------------------------------------------------

_LISTEN_OPTIONS = frozenset({"reuse_port", "ssl", "backlog", "sock"})
_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))


async def serve(
    app: ASGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    config: Config | None = None,
    **options: Any,
) -> _runtime.Server:
    """Run the lifespan startup of ``app``, then serve it on ``host:port``.

    Returns the :class:`httpaf.asyncio.Server`; its ``shutdown()`` stops accepting,
    lets in-flight requests finish (up to ``timeout_graceful_shutdown``), cancels
    what is left, then runs the lifespan shutdown. ``port=0`` picks a free port.

    Options:

    - ``root_path`` (``""``): the mount point, prefixed to ``path`` and ``raw_path``.
    - ``proxy_headers`` (``True``) and ``forwarded_allow_ips`` (the environment's
      ``FORWARDED_ALLOW_IPS``, else ``"127.0.0.1"``; a comma-separated string or a
      list of addresses and networks, ``"*"`` for all): a peer in that list may set
      the client address (``X-Forwarded-For``) and scheme (``X-Forwarded-Proto``).
    - ``lifespan`` (``"auto"``): ``"on"`` makes a lifespan error fatal, ``"off"``
      skips it, ``"auto"`` runs it if the application supports it.
    - ``access_log`` (``True``): a line per response on the ``httpaf.access`` logger
      (INFO), control characters escaped. Errors go to ``httpaf.error``.
    - ``limit_concurrency`` (``None``): beyond this many running requests (or open
      connections) requests are answered ``503 Service Unavailable``.
    - ``timeout_graceful_shutdown`` (``30.0``; ``None``: no limit): seconds
      ``shutdown()`` waits for in-flight requests.
    - ``server_header`` / ``date_header`` (``True``): send ``Server: httpaf`` and a
      ``Date`` (refreshed each second); ``headers``: more ``(name, value)`` fields for
      every response.
    - ``reset_contextvars`` (``False``): run each request in an empty context.
    - ``ssl``, ``reuse_port``, ``backlog``, ``sock``: how to listen.
    - any :class:`~httpaf.Config` field (``keep_alive_timeout``, ``head_timeout``,
      ``body_timeout``, ``max_body_size``, ...), applied over ``config``.
    """
    config = config if config is not None else Config()
    config_changes = {k: options.pop(k) for k in list(options) if k in _CONFIG_FIELDS}
    if config_changes:
        config = dataclasses.replace(config, **config_changes)
    listen = {k: options.pop(k) for k in list(options) if k in _LISTEN_OPTIONS}
    lifespan_mode = options.pop("lifespan", "auto")
    if lifespan_mode not in ("auto", "on", "off"):
        raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan_mode!r}")
    timeout = options.pop("timeout_graceful_shutdown", 30.0)
    options.setdefault("proxy_headers", True)
    if "forwarded_allow_ips" not in options or options["forwarded_allow_ips"] is None:
        options["forwarded_allow_ips"] = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    limit = options.get("limit_concurrency")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit_concurrency must be a positive int or None, not {limit!r}")
    state: dict[str, Any] = {}
    try:
        settings = _Settings(app, config, state=state, **options)
    except TypeError as error:
        raise TypeError(f"httpaf.asgi.serve: {error}") from None

    lifespan = _Lifespan(app, lifespan_mode, state)
    await lifespan.startup()
    loop = asyncio.get_running_loop()
    try:
        server = await _runtime._listen(lambda: _ASGIProtocol(settings, loop), host, port, **listen)
    except BaseException:
        await lifespan.shutdown()
        raise
    settings.start_clock(loop)

    async def stop_clock() -> None:
        settings.stop_clock()

    return _runtime.Server(
        server,
        settings.connections,
        tasks=settings.tasks,
        on_shutdown=[stop_clock, lifespan.shutdown],
        shutdown_timeout=timeout,
    )


def run(
    app: ASGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    use_uvloop: bool | None = None,
    ready: Callable[[_runtime.Server], None] | None = None,
    **options: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully.

    Stops accepting, finishes in-flight requests within ``timeout_graceful_shutdown``
    seconds, then runs the lifespan shutdown. ``options`` are :func:`serve`'s;
    ``use_uvloop=None`` uses uvloop when it is installed; ``ready(server)`` is called
    once listening.
    """
    _runtime._run_until_signal(lambda: serve(app, host, port, **options), use_uvloop, ready)
