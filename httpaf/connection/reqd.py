"""``Reqd``, the request descriptor: one request, its body, and how it is answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from httpaf.connection._states import COMPLETE, STREAMING, UPGRADED, WAITING
from httpaf.model import Headers, ParseError, Request, Response, StateError, reason_phrase
from httpaf.wire import Serializer

from .body import BodyReader, BodyWriter, byte_view

__all__ = [
    "Reqd",
    "StartResponse",
    "ErrorHandler",
    "error_status",
    "default_error_handler",
    "make_reqd",
]

StartResponse = Callable[[Headers], BodyWriter]


class ErrorHandler(Protocol):
    """``error_handler(request, error, start_response)``: answer an error.

    ``request`` is ``None`` when the error came before a request head was complete.
    ``start_response(headers)`` sends the head (with the error's status) and returns
    the body writer; close it to finish.
    """

    def __call__(
        self, request: Request | None, error: BaseException, start_response: StartResponse
    ) -> None: ...


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def error_status(error: BaseException) -> int:
    """The status an error is answered with: a parse error's own, else 500."""
    return error.status if isinstance(error, ParseError) else 500


def default_error_handler(
    request: Request | None, error: BaseException, start_response: StartResponse
) -> None:
    """Answer with the status's reason phrase as ``text/plain``; reveal nothing else."""
    body = (reason_phrase(error_status(error)) + "\n").encode()
    writer = start_response(
        Headers([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    )
    writer.write(body)
    writer.close()


class Owner(Protocol):
    """What a :class:`Reqd` asks of the connection that made it (besides its
    serializer, which it writes the response to and whose wakeup wakes the writer)."""

    def _wake_reader(self) -> None: ...
    def _on_upgrade_written(self) -> None: ...
    def _close_writer(self) -> None: ...
    def _abort(self) -> None: ...
    def _call_error_handler(
        self, request: Request | None, error: BaseException, start_response: StartResponse
    ) -> None: ...


class Reqd:
    """A request being answered: the request, its body, and the ways to respond.

    Exactly one of the ``respond_with_*`` methods may be called, once. Its fields:
    ``request`` (the :class:`Request`), ``body`` (its :class:`BodyReader`),
    ``persistent`` (whether the connection may carry another request after this one)
    and ``upgradable`` (whether the request asked for an upgrade, or is a
    ``CONNECT``, so that :meth:`respond_with_upgrade` may answer it).
    """

    __slots__ = (
        "request",
        "body",
        "persistent",
        "upgradable",
        "_conn",
        "_serializer",
        "_state",
        "_writer",
        "_response",
        "_error",
        "_pending_error",
        "_expect_continue",
        "_on_upgrade",
    )

    # A connection makes its requests' descriptors (:func:`make_reqd`), applications
    # never do: there is no ``__init__``. (For mypy; the compiled build's C fields are
    # declared in _compiled/reqd.pxd.)
    request: Request
    body: BodyReader
    persistent: bool
    upgradable: bool
    _conn: Owner
    _serializer: Serializer
    _state: int
    _writer: BodyWriter | None
    _response: Response | None
    _error: BaseException | None
    _pending_error: BaseException | None
    _expect_continue: bool
    _on_upgrade: object

    # -- reading ---------------------------------------------------------------------

    @property
    def response(self) -> Response | None:
        """The response, once one has started."""
        return self._response

    @property
    def error_code(self) -> BaseException | None:
        """The error being answered, if any."""
        return self._error

    @property
    def input_complete(self) -> bool:
        """Whether the request body is fully received or was closed."""
        return self.body.is_complete

    @property
    def output_complete(self) -> bool:
        """Whether the response is complete (its body closed) or upgraded."""
        state = self._state
        if state == COMPLETE or state == UPGRADED:
            return True
        writer = self._writer
        return writer is not None and writer.is_closed

    @property
    def upgraded(self) -> bool:
        """Whether a 101 (or a 2xx to CONNECT) handed the connection over."""
        return self._state == UPGRADED

    # -- responding ------------------------------------------------------------------

    def _check_can_respond(self) -> None:
        if self._state != WAITING:
            if self._state == COMPLETE or (self._writer is not None and self._writer.is_closed):
                raise StateError("httpaf.Reqd: response already complete")
            raise StateError("httpaf.Reqd: response already started")
        if self._error is not None:
            raise StateError("httpaf.Reqd: invalid state, currently handling error")

    def respond_with_string(self, response: Response, body: str | bytes = b"") -> None:
        """Send ``response`` with ``body`` (a ``str`` is UTF-8 encoded), copied.

        ``Content-Length`` is added when the response has no framing fields.
        """
        if self._state != WAITING or self._error is not None:
            self._check_can_respond()
        if type(body) is bytes:
            data: bytes | bytearray | memoryview = body
        else:
            data = body.encode() if isinstance(body, str) else byte_view(body)
        self._respond_whole(response, data, True)

    def respond_with_bytes(self, response: Response, body: bytes | bytearray | memoryview) -> None:
        """Send ``response`` with ``body`` scheduled zero-copy (http/af's bigstring).

        Leave ``body`` unchanged until the connection has written it.
        """
        if self._state != WAITING or self._error is not None:
            self._check_can_respond()
        self._respond_whole(response, body if type(body) is bytes else byte_view(body), False)

    def _respond_whole(
        self, response: Response, data: bytes | bytearray | memoryview, copy: bool
    ) -> None:
        """Head and whole body at once, straight into the serializer (the common case).

        What :meth:`_write_head` and the body's writes do, in one call. (The
        serializer refuses a 1xx response.)
        """
        persistent = self.persistent
        # The client may still wait for 100 Continue: see ``_write_head``.
        if persistent and self._expect_continue:
            persistent = self.body.at_eof
        serializer = self._serializer
        # Nothing is written (and nothing changes) if the head is refused.
        self.persistent = serializer.write_whole_response(
            response, self.request, data, persistent, copy
        )
        self._response = response
        self._state = COMPLETE
        serializer.wakeup()

    def respond_with_streaming(
        self, response: Response, flush_headers_immediately: bool = False
    ) -> BodyWriter:
        """Send ``response``'s head and return the writer of its body.

        The head goes out with the first :meth:`BodyWriter.flush` or ``close``, or at
        once with ``flush_headers_immediately``.
        """
        self._check_can_respond()
        return self._start(response, None, flush_headers_immediately)

    def respond_with_upgrade(self, response: Response, on_upgrade: object) -> None:
        """Answer an upgrade (101) or a CONNECT (2xx) and hand the connection over.

        Once the head is written, the connection's operations become ``UPGRADE`` and
        the runtime passes the transport and the bytes already read after the request
        to ``on_upgrade`` (what exactly it passes is the runtime's contract).
        """
        self._check_can_respond()
        status = response.status
        is_connect = self.request.method == "CONNECT"
        if not self.upgradable:
            raise StateError("httpaf.Reqd: the request asked for no upgrade")
        if not (200 <= status < 300 if is_connect else status == 101):
            raise ValueError("an upgrade is answered with 101, a CONNECT with 2xx")
        serializer = self._serializer
        if serializer.is_closed:
            raise StateError("cannot write to closed writer")
        serializer.write_response_head(response)
        self._response = response
        self._on_upgrade = on_upgrade
        self._state = UPGRADED
        self.persistent = False
        serializer.flush(self._conn._on_upgrade_written)
        serializer.wakeup()

    def _start(
        self, response: Response, body_size: int | None, flush: bool, force: bool = False
    ) -> BodyWriter:
        """Write the head of ``response`` and make its body writer."""
        length, discard = self._write_head(response, body_size, force)
        writer = BodyWriter(self._serializer, length, self._body_closed, discard)
        self._writer = writer
        if flush:
            self._serializer.wakeup()
        return writer

    def _write_head(
        self, response: Response, body_size: int | None, force: bool
    ) -> tuple[int, bool]:
        """Frame ``response``, decide persistence, write its head: ``(length, discard)``."""
        serializer = self._serializer
        if serializer.is_closed:
            raise StateError("cannot write to closed writer")
        if response.status < 200 and not force:
            raise ValueError("1xx responses are sent by the connection, not the handler")
        request = self.request
        # The client may still wait for 100 Continue: it cannot be trusted to send the
        # body (or to skip it), so the connection ends with this response.
        awaiting_continue = self._expect_continue and not self.body.at_eof
        # Nothing is written (and nothing changes) if the head is refused.
        length, discard, persistent = serializer.write_framed_response_head(
            response,
            request.method,
            request.version,
            body_size,
            self.persistent and not awaiting_continue,
        )
        self.persistent = persistent
        self._response = response
        self._state = STREAMING
        return length, discard

    def _body_closed(self, delimited: bool) -> None:
        if not delimited:
            self.persistent = False

    def _send_continue(self) -> None:
        """First read of a body sent with ``Expect: 100-continue``.

        Sent even when the body is already here (RFC 9110 §10.1.1 lets a server omit
        it then, but peers send it on the first read and clients ignore a late one).
        """
        serializer = self._serializer
        if self._state == WAITING and not serializer.is_closed:
            serializer.write(_CONTINUE)
            self._expect_continue = False  # sent: nothing is awaited any more
            serializer.wakeup()

    # -- errors ----------------------------------------------------------------------

    def report_exn(self, error: BaseException) -> None:
        """Report that answering failed: a 500 (or the error's status) if possible.

        Before the response starts, the error handler answers. After it started, the
        response is cut short and the connection closes, so the client sees a
        truncated message rather than a complete-looking wrong one.
        """
        conn = self._conn
        if self._error is None:
            self._error = error
            self.persistent = False
            if self._state == WAITING:
                self._give_up_body()
                status = error_status(error)

                def start_response(headers: Headers) -> BodyWriter:
                    if self._state != WAITING:
                        raise StateError("httpaf.Reqd: error response already started")
                    return self._start(Response(status, headers), None, True, force=True)

                conn._call_error_handler(self.request, error, start_response)
            elif self._state == COMPLETE:
                self._give_up_body()  # the exchange is over: nothing to cut short
            elif self._state == STREAMING and self._writer is not None:
                if not self._writer.is_closed:
                    self._writer.abort()
                    conn._close_writer()
                # A complete response stays as it is: the request may even be
                # retired already, and the connection serving the next one.
                self._give_up_body()
        else:
            conn._abort()

    def _give_up_body(self) -> None:
        """Close the request body while an error is answered.

        The application's pending ``on_eof`` runs; if it fails (typically by trying to
        respond, which the error forbids), that failure is secondary to the error
        being answered and must not stop the error handler from running.
        """
        try:
            self.body.close()
        except Exception:
            pass

    def try_with(self, fn: Callable[[], object]) -> BaseException | None:
        """Run ``fn``; on an exception report it and return it, else return ``None``."""
        try:
            fn()
        except Exception as error:
            self.report_exn(error)
            return error
        return None


def _nothing() -> None:
    return None


def make_reqd(
    conn: Owner,
    serializer: Serializer,
    request: Request,
    body: BodyReader | None,
    keep_alive: bool,
    expect_continue: bool,
    upgradable: bool,
) -> Reqd:
    """The descriptor of a request that ``conn`` parsed, answered through ``serializer``.

    ``body`` is the shared empty body of a request without one, else ``None`` (a new
    reader is made); ``keep_alive`` says whether the client asked for persistence
    (the exchange persists unless something ends it),
    ``expect_continue`` whether it waits for ``100 Continue``, ``upgradable`` whether
    the request may be answered with an upgrade.
    """
    # ``Reqd.__new__`` (not ``object.__new__``, which the compiled class refuses).
    reqd = Reqd.__new__(Reqd)
    #: The request head.
    reqd.request = request
    #: Whether the connection may persist after this exchange.
    reqd.persistent = keep_alive
    reqd._conn = conn
    reqd._serializer = serializer
    reqd._state = WAITING
    reqd._writer = None  # a streamed response's body
    reqd._response = None
    reqd._error = None
    reqd._pending_error = None  # found before the handler ran
    # Whether the client sent ``Expect: 100-continue`` and has not had the 100 yet.
    reqd._expect_continue = expect_continue
    reqd.upgradable = upgradable
    reqd._on_upgrade = None
    #: The request body (:class:`BodyReader`).
    reqd.body = (
        body
        if body is not None
        else BodyReader(conn._wake_reader, reqd._send_continue if expect_continue else _nothing)
    )
    return reqd
