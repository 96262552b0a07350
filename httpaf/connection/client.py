"""The client side of one HTTP/1.1 connection, as a state machine that does no I/O.

Unlike http/af's one-shot client, a connection carries any number of requests: it
stays open while responses allow it, and requests may be pipelined (each one's head is
written as soon as the previous request body is closed). Responses are matched to
requests in order. It is driven like :class:`~httpaf.ServerConnection`.

It distrusts the server as the server side distrusts clients: the response parser's
framing rules (:func:`~httpaf.model.response_body_length`) and limits are strict, and
the connection ends with an error for bytes no request asked for (a response before
its request was written, or anything while no request is in flight), for more than
``Config.max_interim_responses`` 1xx responses before a final one, and for a body cut
short by the end of the connection (never reported as complete: see
:meth:`~httpaf.BodyReader.fail`). While no request is in flight the connection still
reads, so that a runtime sees at once a server that closed an idle connection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from httpaf.model import (
    CHUNKED,
    CLOSE,
    HTTP_1_0,
    HTTP_1_1,
    READ,
    UPGRADE,
    YIELD,
    Closed,
    Config,
    ConnectionClosed,
    EndOfMessage,
    Operation,
    ParseError,
    Request,
    Response,
    StateError,
    Write,
    is_chunked,
    parse_content_length,
)
from httpaf.wire import ResponseParser, Serializer

from .body import BodyReader, BodyWriter

__all__ = [
    "ClientConnection",
    "ClientErrorHandler",
    "InterimHandler",
    "PreparedRequest",
    "ResponseHandler",
]

ResponseHandler = Callable[[Response, BodyReader], None]
ClientErrorHandler = Callable[[BaseException], None]
InterimHandler = Callable[[Response], None]
Callback = Callable[[], None]


class _Respd:
    """A request waiting for (or receiving) its response."""

    __slots__ = (
        "request", "on_response", "on_error", "on_interim", "body", "writer", "done",
        "sent_at", "started", "interim",
    )  # fmt: skip

    def __init__(
        self,
        request: Request,
        on_response: ResponseHandler,
        on_error: ClientErrorHandler,
        on_interim: InterimHandler | None,
        sent_at: int,
    ) -> None:
        self.request = request
        self.on_response = on_response
        self.on_error = on_error
        self.on_interim = on_interim
        self.body: BodyReader | None = None  # the response body, once the head is in
        self.writer: BodyWriter | None = None
        self.done = False  # the error handler ran, or the response completed
        # The request's first byte is this many bytes into the connection's output: it
        # is sent once more than that was reported written.
        self.sent_at = sent_at
        self.started = False  # a byte of its response arrived
        self.interim = 0  # 1xx responses received


def request_body_length(request: Request) -> int:
    """How a request's body is framed: a byte count or CHUNKED (``ValueError`` else)."""
    return request_framing(request)[0]


def request_framing(request: Request) -> tuple[int, bool]:
    """A request's body framing (a byte count or CHUNKED) and whether it keeps the
    connection (RFC 9112 §9.3, as :func:`~httpaf.model.is_keep_alive`); one pass over
    the fields. ``ValueError`` for framing a server would refuse."""
    te: list[str] = []
    cl: list[str] = []
    close = keep_alive = False
    for name, value in request.headers._fields:
        size = len(name)
        if size == 17 or size == 14 or size == 10:  # only these names matter here
            low = name.lower()
            if low == "transfer-encoding":
                te.append(value)
            elif low == "content-length":
                cl.append(value)
            elif low == "connection":
                for token in value.split(","):
                    token = token.strip(" \t").lower()
                    if token == "close":
                        close = True
                    elif token == "keep-alive":
                        keep_alive = True
    version = request.version
    if version is HTTP_1_1:  # (identity first: Version compares in Python)
        persistent = not close
    else:
        persistent = not close and (keep_alive if version == HTTP_1_0 else version >= HTTP_1_1)
    try:
        if te:
            if cl:
                raise ValueError(
                    "a request must not have both Transfer-Encoding and Content-Length"
                )
            is_chunked(te, strict=True)
            return CHUNKED, persistent
        return (parse_content_length(cl) if cl else 0), persistent
    except ParseError as error:
        raise ValueError(f"invalid request body length: {error.message}") from None


class PreparedRequest:
    """A request checked and serialized once, to be sent any number of times.

    :meth:`ClientConnection.request` takes it where it takes a :class:`~httpaf.Request`
    and copies :attr:`head` instead of serializing the request again. The request must
    not change afterwards (its head would not follow). ``ValueError`` for a request
    that :meth:`ClientConnection.request` would refuse.
    """

    __slots__ = ("request", "head", "length", "keep_alive")

    def __init__(self, request: Request) -> None:
        self.length, self.keep_alive = request_framing(request)
        serializer = Serializer(4096)
        serializer.write_request_head(request)
        head = serializer.take(1 << 62)
        #: The request line and header fields as they go on the wire.
        self.head: bytes = head if head is not None else b""
        self.request = request


class ClientConnection:
    """One client connection: serializes requests, parses their responses in order."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config = config if config is not None else Config()
        self._parser = ResponseParser(config)
        self._serializer = Serializer(config.request_body_buffer_size)
        self._queue: deque[_Respd] = deque()
        self._reader_closed = False
        self._persistent = True
        self._upgraded = False
        self._dropped = 0
        self._reader_waiter: Callback | None = None  # the writer's is the serializer's
        #: Whether body bytes went to a handler as views of the runtime's read buffer
        #: since the runtime last cleared this (see ``ServerConnection.views_lent``).
        self.views_lent = False
        # The body of the last request sent. It may still be open after its response
        # completed (an early response), so the queue cannot tell.
        self._writing: BodyWriter | None = None
        self._written = 0  # bytes reported written (or taken) so far

    @property
    def is_closed(self) -> bool:
        """Whether both the reader and the writer are closed."""
        return self._reader_closed and self._serializer.is_closed

    @property
    def in_flight(self) -> int:
        """Requests sent or being sent whose response has not completed."""
        return len(self._queue)

    @property
    def is_idle(self) -> bool:
        """Whether no request is in flight and a new one may be sent now.

        What a pool checks before reusing the connection: it is open to requests, no
        response is awaited, and the last request's body is closed.
        """
        writing = self._writing
        return (
            not self._queue
            and self._persistent
            and not self._serializer.is_closed
            and (writing is None or writing.is_closed)
        )

    # -- requests --------------------------------------------------------------------

    def request(
        self,
        request: Request | PreparedRequest,
        response_handler: ResponseHandler,
        error_handler: ClientErrorHandler,
        interim_handler: InterimHandler | None = None,
    ) -> BodyWriter:
        """Send ``request``; return its body writer (close it, even when empty).

        ``response_handler(response, body)`` gets the final response (a 101 too);
        ``interim_handler(response)``, if given, each 1xx before it (``100 Continue``
        says to send a body held back after ``Expect: 100-continue``);
        ``error_handler(error)`` gets a malformed response, an early end of the
        connection (:class:`~httpaf.ConnectionClosed`, saying whether any byte of the
        response came), or an exception reported with :meth:`report_exn`. After an
        error the response body, if any, is failed: it never ends normally. A
        :class:`PreparedRequest` is sent as it was serialized.
        """
        serializer = self._serializer
        if serializer.is_closed or not self._persistent:
            raise StateError("the connection is closed to new requests")
        if self._writing is not None and not self._writing.is_closed:
            # Its next bytes would be read as that body: a request desync.
            raise StateError("close the previous request's body before the next request")
        sent_at = self._written + (0 if serializer.is_quiet() else serializer.pending_bytes)
        if type(request) is PreparedRequest:
            length = request.length
            keep_alive = request.keep_alive
            serializer.write(request.head)
            plain = request.request
        else:
            plain = request  # type: ignore[assignment]
            length, keep_alive = request_framing(plain)
            serializer.write_request_head(plain)
        respd = _Respd(plain, response_handler, error_handler, interim_handler, sent_at)
        if not keep_alive:
            self._persistent = False
        respd.writer = BodyWriter(serializer, length, self._body_closed)
        self._writing = respd.writer
        self._queue.append(respd)
        self._wake_writer()
        self._wake_reader()
        if len(self._queue) == 1:
            self._parser.request_method = plain.method
        return respd.writer

    def _body_closed(self, delimited: bool) -> None:
        if not delimited:
            self._persistent = False
            queue = self._queue
            if queue and queue[-1].body is None:
                self._fail_all(ValueError("request body shorter than its Content-Length"))
            # Else its response is in already (an early answer: to ``Expect:
            # 100-continue``, say): it stands, and the connection ends after it.
            self._wake_reader()

    # -- reading ---------------------------------------------------------------------

    def next_read_operation(self) -> Operation:
        """``READ``, ``YIELD`` (backpressure), ``CLOSE`` or ``UPGRADE``.

        ``READ`` also while no request is in flight: the end of the connection then
        closes it quietly, and any byte is an error (no request asked for it).
        """
        if self._upgraded:
            return UPGRADE
        if self._reader_closed:
            return CLOSE
        queue = self._queue
        if not queue:
            if not self._persistent:
                self._close()
                return CLOSE
            return READ
        body = queue[0].body
        if (
            body is not None
            and body.buffered_bytes > self.config.body_buffer_high_water
            and not body.is_read_scheduled
        ):
            return YIELD
        return READ

    def read(self, buf: bytes | bytearray, off: int = 0, length: int | None = None) -> int:
        """Parse response bytes; return how many were consumed."""
        end = len(buf) if length is None else off + length
        return self._read(buf, off, end, False)

    def read_eof(self, buf: bytes | bytearray, off: int = 0, length: int | None = None) -> int:
        """Like :meth:`read`, and no more input will come."""
        end = len(buf) if length is None else off + length
        consumed = self._read(buf, off, end, True)
        if off + consumed == end and not self._upgraded:
            self._fail_all(ConnectionClosed("unexpected eof: the server closed the connection"))
            self._close()
        return consumed

    def _read(self, buf: bytes | bytearray, start: int, end: int, eof: bool) -> int:
        parser = self._parser
        queue = self._queue
        pos = start
        while queue and not self._reader_closed and not self._upgraded:
            head = queue[0]
            body = head.body
            if body is None and not head.started and pos < end:
                if self._written <= head.sent_at:
                    self._unsolicited("a response before its request was sent")
                    break
                head.started = True
            if (
                body is not None
                and body.buffered_bytes > self.config.body_buffer_high_water
                and not body.is_read_scheduled
            ):
                # Backpressure; but a body whose end needs no more input ends now
                # (an empty window yields only EndOfMessage or None).
                event = parser.parse(buf, pos, pos, False)
                if type(event) is not EndOfMessage:
                    break
                self._guard(head, body.finish, event.trailers)
                self._complete(head)
                continue
            try:
                event = parser.parse(buf, pos, end, eof)
            except ParseError as error:
                pos += parser.consumed
                self._fail_all(error)
                self._close()
                break
            pos += parser.consumed
            if event is None:
                break
            kind = type(event)
            if kind is memoryview:
                self.views_lent = True
                self._guard(head, head.body.feed, event)  # type: ignore[union-attr]
            elif kind is EndOfMessage:
                self._guard(head, head.body.finish, event.trailers)  # type: ignore[union-attr, attr-defined]
                self._complete(head)
            else:
                self._on_response(head, event)  # type: ignore[arg-type]
        if pos < end and not queue and not self._reader_closed and not self._upgraded:
            self._unsolicited("response bytes while no request is in flight")
        return pos - start

    def _unsolicited(self, what: str) -> None:
        """Bytes that no request asked for: the server cannot be trusted any more."""
        self._fail_all(ParseError(what))
        self._close()

    def _on_response(self, head: _Respd, response: Response) -> None:
        parser = self._parser
        status = response.status
        if 100 <= status < 200 and status != 101:
            # An interim response; the final one follows (a bounded number of them).
            head.interim += 1
            if head.interim > self.config.max_interim_responses:
                self._report(head, ParseError("too many interim (1xx) responses"))
                return
            if head.on_interim is not None:
                try:
                    head.on_interim(response)
                except Exception as error:
                    self._report(head, error)
            return
        if status == 101 and "upgrade" not in head.request.headers:
            # RFC 9110 §15.2.2: a server switches only to a protocol the request's
            # Upgrade field offered; what follows is no HTTP this client can read.
            self._report(
                head, ParseError("101 Switching Protocols to a request that offered no Upgrade")
            )
            return
        if not parser.keep_alive:
            self._persistent = False
        body = BodyReader(self._wake_reader) if parser.body_length != 0 else BodyReader.empty()
        head.body = body
        if status == 101 or parser.upgrade:
            self._upgraded = True
        try:
            head.on_response(response, body)
        except Exception as error:
            self._report(head, error)
            return
        if self._upgraded:
            # The HTTP exchange is over (a CONNECT's tunnel bytes are no body), and
            # both operations are UPGRADE from now on.
            if not body.at_eof:
                self._guard(head, body.finish, None)
            self._complete(head)
            self._wake_writer()
            return
        if parser.body_length == 0 and not head.done:
            self._complete(head)

    def _guard(self, respd: _Respd, fn: Callable[..., None], arg: object) -> None:
        try:
            fn(arg)
        except Exception as error:
            self._report(respd, error)

    def _complete(self, respd: _Respd) -> None:
        respd.done = True
        queue = self._queue
        if queue and queue[0] is respd:
            queue.popleft()
        if queue:
            self._parser.request_method = queue[0].request.method
        if self._upgraded:
            return
        if not self._persistent and not queue:
            self._close()

    def _report(self, respd: _Respd, error: BaseException) -> None:
        """An error for ``respd``: the connection cannot be trusted any more."""
        self._fail_all(error)
        self._close()

    def _fail_all(self, error: BaseException) -> None:
        """Tell every waiting request about ``error``; the first gets it as is.

        The others get a :class:`~httpaf.ConnectionClosed` saying that no byte of
        their response came, as does every request when ``error`` is one.
        """
        queue = self._queue
        first = True
        while queue:
            respd = queue.popleft()
            if respd.done:
                continue
            respd.done = True
            if respd.body is not None:
                respd.body.fail(error)  # a short body is not a complete one
            if first and type(error) is not ConnectionClosed:
                reason = error
            else:
                reason = ConnectionClosed(
                    str(error) if first else f"connection failed: {error}",
                    self._written > respd.sent_at,
                    respd.started,
                )
            first = False
            try:
                respd.on_error(reason)
            except Exception:
                pass  # the connection is going away; nothing else to tell

    def yield_reader(self, callback: Callback) -> None:
        """Call ``callback`` (once) when reading may go on."""
        if self._reader_waiter is not None:
            raise StateError("yield_reader: only one callback can be registered at a time")
        self._reader_waiter = callback

    def _wake_reader(self) -> None:
        waiter = self._reader_waiter
        if waiter is not None:
            self._reader_waiter = None
            waiter()

    # -- writing ---------------------------------------------------------------------

    def next_write_operation(self) -> Write | Closed | Operation:
        """A ``Write`` of iovecs, ``YIELD``, ``Closed`` or ``UPGRADE``."""
        iovecs = self._serializer.operation()
        if iovecs:
            return Write(iovecs)
        if self._serializer.is_closed:
            return Closed(self._dropped)
        if self._upgraded:
            return UPGRADE
        return YIELD

    def take_output(self, limit: int) -> bytes | None:
        """The pending output as one ``bytes``, counted as written at once.

        For runtimes whose transport accepts whatever it is given (asyncio's): it
        saves the iovecs and the report. ``None`` when nothing is pending, more than
        ``limit`` bytes are, or a flush callback waits for them to be written;
        :meth:`next_write_operation` then says what to do.
        """
        data = self._serializer.take(limit)
        if data is not None:
            self._written += len(data)
        return data

    def report_write_result(self, result: int | Operation) -> None:
        """Report ``n`` bytes written, or :data:`~httpaf.operation.CLOSE`."""
        if result is CLOSE:
            self._dropped += self._serializer.drain()
            self._fail_all(ConnectionClosed("connection closed while writing"))
            self._close()
        elif isinstance(result, int):
            self._serializer.shift(result)
            self._written += result
        else:
            raise ValueError(f"report_write_result: {result!r} is not a count or CLOSE")

    def yield_writer(self, callback: Callback) -> None:
        """Call ``callback`` (once) when there may be something to write."""
        if self._serializer.is_closed:
            callback()
            return
        serializer = self._serializer
        if serializer.waiter is not None:
            raise StateError("yield_writer: only one callback can be registered at a time")
        serializer.waiter = callback

    def _wake_writer(self) -> None:
        self._serializer.wakeup()

    # -- ending ------------------------------------------------------------------

    def report_exn(self, error: BaseException) -> None:
        """A runtime error: every waiting request is told, and the connection ends."""
        self._fail_all(error)
        self._close()

    def _close(self) -> None:
        self._reader_closed = True
        self._persistent = False
        self._serializer.close()
        self._wake_reader()
        self._wake_writer()

    def shutdown(self) -> None:
        """Close the connection: requests still waiting get an error."""
        self._fail_all(ConnectionClosed("connection shut down"))
        self._close()
