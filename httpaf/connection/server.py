"""The server side of one HTTP/1.1 connection, as a state machine that does no I/O.

A runtime drives it with two loops, as http/af's runtimes do:

- read loop: :meth:`ServerConnection.next_read_operation` says ``READ`` (read bytes and
  call :meth:`read`, or :meth:`read_eof` at end of input), ``YIELD`` (wait for the
  :meth:`yield_reader` callback), ``CLOSE`` or ``UPGRADE``. ``read`` returns how many
  bytes it consumed; the runtime keeps the rest and presents it again, followed by new
  data, on the next call. After a ``YIELD`` ends, it presents kept bytes even if no
  new ones arrive.
- write loop: :meth:`next_write_operation` gives a ``Write`` of iovecs (write them,
  then :meth:`report_write_result`), ``YIELD`` (wait for :meth:`yield_writer`'s
  callback), ``Closed`` (shut the transport's write side) or ``UPGRADE``.

Every complete request in a read is parsed (up to ``Config.max_pipelined_requests``);
handlers run one at a time, in order, and responses go out strictly in order.
"""

from __future__ import annotations

from collections.abc import Callable

from httpaf.connection._states import (
    AWAIT_BODY,
    AWAIT_HEAD,
    AWAIT_NOTHING,
    AWAIT_REQUEST,
    COMPLETE,
    STREAMING,
)
from httpaf.model import (
    CLOSE,
    READ,
    UPGRADE,
    YIELD,
    Closed,
    Config,
    EndOfMessage,
    Headers,
    Operation,
    ParseError,
    Request,
    Response,
    StateError,
    Write,
)
from httpaf.wire import (
    DateField,
    RequestParser,
    Serializer,
    borrow_request_parser,
    lend_request_parser,
)

from .body import BodyReader, BodyWriter
from .reqd import (
    ErrorHandler,
    Reqd,
    StartResponse,
    default_error_handler,
    error_status,
    make_reqd,
)

__all__ = ["ServerConnection", "RequestHandler"]

RequestHandler = Callable[[Reqd], None]
Callback = Callable[[], None]

_EMPTY_BODY = BodyReader.empty()  # shared by every request without a body

# An idle keep-alive connection lends its parser (``lend_request_parser``) and
# borrows one with its next request; meanwhile it holds ``_NO_PARSER``, which is never
# fed, so it always says it is idle.
_NO_PARSER = RequestParser(Config())


def _close_reader_of(reqd: Reqd) -> None:
    reqd.body.close()


class ServerConnection:
    """One server connection: parses requests, runs handlers, serializes responses."""

    # Slots, not a dict: thousands of idle connections each hold one of these.
    __slots__ = (
        "config", "_handler", "_error_handler", "_parser", "_serializer", "_queue",
        "_receiving", "_reader_closed", "_parse_error", "_errored", "_dropped",
        "_draining", "_reader_waiter", "_upgrade_written",
        "request_count", "steady_consumed", "steady_awaiting", "views_lent",
    )  # fmt: skip

    def __init__(
        self,
        request_handler: RequestHandler,
        error_handler: ErrorHandler | None = None,
        config: Config | None = None,
        date: DateField | None = None,
    ) -> None:
        self.config = config = config if config is not None else Config()
        self._handler = request_handler
        self._error_handler: ErrorHandler = error_handler or default_error_handler
        self._parser = _NO_PARSER  # a parser of its own while a request comes in
        self._serializer = serializer = Serializer(config.response_buffer_size)
        # The Date of responses that have none (RFC 9110 §6.6.1): the runtime, which
        # has a clock, keeps it current; the connection reads none.
        serializer.date = date
        # A list, not a deque: it holds at most ``max_pipelined_requests``, and an
        # empty deque costs an idle connection many times what an empty list does.
        self._queue: list[Reqd] = []
        self._receiving: Reqd | None = None  # whose body the parser is in
        self._reader_closed = False
        self._parse_error: ParseError | None = None  # a bad head, answered once idle
        self._errored = False  # a connection-level error is being answered
        self._dropped = 0
        self._draining = False  # close_when_idle() was called
        self._reader_waiter: Callback | None = None  # the writer's is the serializer's
        self._upgrade_written = False  # the 101 (or CONNECT 2xx) head is out
        #: Request heads received so far (a runtime restarts its head timer when this
        #: changes: the head it waits for now is a new one).
        self.request_count = 0
        #: What the last :meth:`read_steadily` consumed, and the input it awaits.
        self.steady_consumed = 0
        self.steady_awaiting = -1
        #: Whether body bytes went to a handler as views of the runtime's read buffer
        #: since the runtime last cleared this: a handler may have kept one, so the
        #: runtime must check before it reuses that memory.
        self.views_lent = False

    # -- state -----------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """Whether both the reader and the writer are closed."""
        return self._reader_closed and self._serializer.is_closed

    @property
    def error_code(self) -> BaseException | None:
        """The error the current request is being answered with, if any."""
        return self._queue[0].error_code if self._queue else None

    @property
    def upgrade_handler(self) -> object:
        """What the upgrading handler gave ``respond_with_upgrade``, once upgraded."""
        queue = self._queue
        return queue[0]._on_upgrade if queue and queue[0].upgraded else None

    def awaiting(self) -> int:
        """What the connection waits for from the peer: an ``AWAIT_*`` constant.

        A runtime that holds unconsumed bytes while this says ``AWAIT_REQUEST`` is
        in fact receiving a head (the parser has not consumed its request line yet).
        """
        if self._queue and self._receiving is None:
            return AWAIT_NOTHING
        return self._awaiting_input()

    def _awaiting_input(self) -> int:
        """:meth:`awaiting` when no request is answered or one's body comes in.

        A connection at a message boundary lends its parser back (see
        ``_NO_PARSER``): an idle keep-alive connection holds none.
        """
        receiving = self._receiving
        if receiving is not None:
            body = receiving.body
            return AWAIT_BODY if body.is_read_scheduled or body.is_closed else AWAIT_NOTHING
        parser = self._parser
        if not parser.at_message_boundary():
            return AWAIT_HEAD
        if parser is not _NO_PARSER:
            self._parser = _NO_PARSER
            lend_request_parser(parser)
        return AWAIT_REQUEST

    def is_awaiting_input(self) -> bool:
        """Whether the connection only waits for bytes: no request in progress,
        nothing to write, both sides open.

        Then :meth:`next_read_operation` is ``READ`` and :meth:`next_write_operation`
        ``YIELD``; a runtime may skip asking them.
        """
        return (
            not self._queue
            and not self._reader_closed
            and self._parse_error is None
            and self._serializer.is_quiet()
        )

    # -- reading ---------------------------------------------------------------------

    def next_read_operation(self) -> Operation:
        """``READ``, ``YIELD``, ``CLOSE`` or ``UPGRADE``."""
        queue = self._queue
        if queue or self._reader_closed or self._parse_error is not None:
            self._advance()
        if self._reader_closed:
            return CLOSE
        if queue:
            head = queue[0]
            if head.upgraded:
                # Hand over only once the head is written: the runtime gives the
                # transport away when it sees UPGRADE.
                return UPGRADE if self._upgrade_written else YIELD
            if head.input_complete and not head.persistent:
                self._close_reader()
                return CLOSE
            if head.input_complete and not head.output_complete and self._parser.is_idle:
                return YIELD  # the head is received: wait for its answer, as http/af does
            if self._must_stop_parsing():
                return YIELD
        return READ

    def _must_stop_parsing(self) -> bool:
        """Whether parsing has to wait for the application, even with bytes at hand."""
        queue = self._queue
        if not queue:
            return False
        receiving = self._receiving
        if receiving is not None:
            body = receiving.body
            if body.buffered_bytes > self.config.body_buffer_high_water and not (
                body.is_read_scheduled
            ):
                return True  # request-body backpressure
        if self._parser.is_idle:
            if len(queue) >= self.config.max_pipelined_requests:
                return True
            last = queue[-1]
            if last.upgradable and (last.upgraded or not last.output_complete):
                return True  # what follows may not be HTTP: wait for the answer
            if not last.persistent:
                return True  # nothing after a request that ends the connection
        return False

    def read(self, buf: bytes | bytearray, off: int = 0, length: int | None = None) -> int:
        """Parse ``buf[off:off+length]``; return the number of bytes consumed."""
        end = len(buf) if length is None else off + length
        return self._read(buf, off, end, False)

    def read_eof(self, buf: bytes | bytearray, off: int = 0, length: int | None = None) -> int:
        """Like :meth:`read`, and no more input will come."""
        end = len(buf) if length is None else off + length
        consumed = self._read(buf, off, end, True)
        if off + consumed == end and not self._reader_closed:
            self._close_reader()
            self._advance()
        return consumed

    def _read(self, buf: bytes | bytearray, start: int, end: int, eof: bool) -> int:
        parser = self._parser
        if parser is _NO_PARSER:
            parser = self._parser = borrow_request_parser(self.config)
        queue = self._queue
        pos = start
        if queue:
            self._advance()
        while not self._reader_closed:
            headed = False  # the event was a request head
            if queue and self._must_stop_parsing():
                # A body whose last bytes crossed the high-water mark still has its
                # end to report, which takes no input: report it, or the request
                # would wait for bytes that never come.
                if self._receiving is None or not self._finish_body(buf, pos):
                    break
            else:
                try:
                    event = parser.parse(buf, pos, end, eof)
                except ParseError as error:
                    pos += parser.consumed
                    self._on_parse_error(error)
                    break
                pos += parser.consumed
                if event is None:
                    break
                if type(event) is Request:  # the common case first, without a call
                    self._on_request(event)
                    headed = True
                else:
                    self._on_event(event)
            if queue:
                self._advance()
            if self._draining and parser.is_idle:
                self._close_reader()
                break
            if headed and pos == end and not queue and not eof:
                break  # answered and retired, every byte taken: a parse would need more
        return pos - start

    def read_steadily(
        self,
        buf: bytes | bytearray,
        off: int,
        length: int,
        limit: int,
        on_writable: Callback,
    ) -> bytes | None:
        """A runtime's usual pass, in one call: read, take the answers, wait again.

        For a runtime whose read operation is ``READ`` and which has bytes: returns
        the output to write, what :meth:`take_output` with ``limit`` would return
        after :meth:`read`, and sets :attr:`steady_consumed` and
        :attr:`steady_awaiting` to what that :meth:`read`, then :meth:`awaiting`
        would return; ``steady_awaiting`` is ``-1`` unless :meth:`is_awaiting_input`
        holds. (Two fields, not a tuple: the compiled driver reads them in C.)

        The writer's callback is not called during the call (the caller takes the
        output anyway). Then, when ``steady_awaiting`` is not ``-1``, a writer
        callback is registered as :meth:`yield_writer` would: the one registered
        before, or else ``on_writable``. When it is ``-1``, the callback registered
        before, if any, stays registered, and the caller must run both loops (as
        after a wakeup of each). If the call raises, the two fields keep the values
        of the call before.
        """
        serializer = self._serializer
        waiter = serializer.waiter
        serializer.waiter = None  # wakeups meanwhile: the caller writes anyway
        try:
            consumed = self._read(buf, off, off + length, False)
            output = serializer.take(limit)
            if self.is_awaiting_input():
                awaiting = self._awaiting_input()
                if waiter is None:
                    waiter = on_writable
            else:
                awaiting = -1
        finally:
            if serializer.waiter is None:
                serializer.waiter = waiter
        self.steady_consumed = consumed
        self.steady_awaiting = awaiting
        return output

    def _on_event(self, event: object) -> None:
        kind = type(event)
        if kind is memoryview:
            self._on_body(event)  # type: ignore[arg-type]
        elif kind is EndOfMessage:
            receiving = self._receiving
            self._receiving = None
            if receiving is not None:
                self._guard(receiving, receiving.body.finish, event.trailers)  # type: ignore[attr-defined]
        else:
            self._on_request(event)  # type: ignore[arg-type]

    def _finish_body(self, buf: bytes | bytearray, pos: int) -> bool:
        """Report the end of the body being received if it needs no more input.

        A parse of an empty window consumes nothing and returns no body bytes: only
        ``EndOfMessage`` (when the body is complete) or ``None``.
        """
        event = self._parser.parse(buf, pos, pos, False)
        if type(event) is not EndOfMessage:
            return False
        self._on_event(event)
        return True

    def _on_request(self, request: Request) -> None:
        parser = self._parser
        has_body = parser.body_length != 0
        reqd = make_reqd(
            self,
            self._serializer,
            request,
            None if has_body else _EMPTY_BODY,
            parser.keep_alive,
            parser.expect_continue,
            parser.upgrade,
        )
        if has_body:
            self._receiving = reqd
        queue = self._queue
        queue.append(reqd)
        self.request_count += 1
        if len(queue) == 1:
            self._start(reqd)

    def _on_body(self, data: memoryview) -> None:
        receiving = self._receiving
        if receiving is not None:
            self.views_lent = True
            self._guard(receiving, receiving.body.feed, data)

    def _guard(self, reqd: Reqd, fn: Callable[..., None], arg: object) -> None:
        """Run an application callback; its exception is the request's error."""
        try:
            fn(arg)
        except Exception as error:
            self._report(reqd, error)

    def _close_body(self, reqd: Reqd) -> None:
        """Close a request body; an exception from its ``on_eof`` is the request's error."""
        self._guard(reqd, _close_reader_of, reqd)

    def _on_parse_error(self, error: ParseError) -> None:
        self._reader_closed = True  # nothing after a framing error is parsed
        receiving = self._receiving
        self._receiving = None
        if receiving is None:
            self._parse_error = error  # answered once the requests before it are
        else:
            self._report(receiving, error)
        self._advance()

    def _start(self, reqd: Reqd) -> None:
        """Hand the queue's new head to the application."""
        error = reqd._pending_error
        if error is not None:
            reqd.report_exn(error)
            return
        try:
            self._handler(reqd)
        except Exception as exc:
            reqd.report_exn(exc)

    def _report(self, reqd: Reqd, error: BaseException) -> None:
        """An error in ``reqd``: answered now if it is the head, else when it is."""
        if self._queue and self._queue[0] is reqd:
            reqd.report_exn(error)
        else:
            reqd._pending_error = error
            reqd.body.close()

    def _advance(self) -> None:
        """Retire finished requests and start the next one; end the connection if due."""
        queue = self._queue
        while queue:
            head = queue[0]
            # (Reqd's fields read directly: this runs several times per request.)
            state = head._state
            if state != COMPLETE and not (state == STREAMING and head._writer.is_closed):  # type: ignore[union-attr]
                return  # no answer yet, still streaming, or upgraded
            body = head.body
            # (The shared empty body is complete: no property lookup for it.)
            complete = body is _EMPTY_BODY or body.is_complete
            if not head.persistent:
                self._close_writer()
                if complete:
                    self._close_reader()
                return
            if not complete:
                if body.is_read_scheduled:
                    return  # the handler still reads the body it answered
                # Answered, and nobody reads the rest of the body: discard it as it
                # arrives, so the next request can follow on this connection.
                self._close_body(head)
                if not head.input_complete:
                    return
            del queue[0]
            # Start the new head before waking the reader: a runtime may read at once
            # from the wakeup, and a request it parses into the empty queue is
            # started by ``_on_request``, not a second time here.
            if queue:
                self._start(queue[0])
            if self._reader_waiter is not None:
                self._wake_reader()
        if self._parse_error is not None:
            error, self._parse_error = self._parse_error, None
            self._connection_error(error)
        elif self._reader_closed and not self._errored:
            self._close_writer()

    def _on_upgrade_written(self) -> None:
        """The upgrade's head went out: both operations become ``UPGRADE``."""
        self._upgrade_written = True
        self._wake_reader()

    def yield_reader(self, callback: Callback) -> None:
        """Call ``callback`` (once) when reading may go on."""
        if self.is_closed:
            raise StateError("yield_reader on closed conn")
        if self._reader_waiter is not None:
            raise StateError("yield_reader: only one callback can be registered at a time")
        self._reader_waiter = callback

    def _wake_reader(self) -> None:
        waiter = self._reader_waiter
        if waiter is not None:
            self._reader_waiter = None
            waiter()

    def _close_reader(self) -> None:
        self._reader_closed = True
        receiving = self._receiving
        if receiving is not None:
            self._receiving = None
            self._close_body(receiving)
        self._wake_reader()

    # -- writing ---------------------------------------------------------------------

    def next_write_operation(self) -> Write | Closed | Operation:
        """A ``Write`` of iovecs, ``YIELD``, ``Closed`` or ``UPGRADE``."""
        self._advance()
        serializer = self._serializer
        iovecs = serializer.operation()
        if iovecs:
            return Write(iovecs)
        if serializer.is_closed:
            return Closed(self._dropped)
        if self._queue and self._queue[0].upgraded:
            return UPGRADE
        return YIELD

    def take_output(self, limit: int) -> bytes | None:
        """The pending output as one ``bytes``, counted as written at once.

        For runtimes whose transport accepts whatever it is given (asyncio's): it
        saves the iovecs and the report. ``None`` when nothing is pending, more than
        ``limit`` bytes are, or a flush callback waits for them to be written;
        :meth:`next_write_operation` then says what to do.
        """
        return self._serializer.take(limit)

    def report_write_result(self, result: int | Operation) -> None:
        """Report ``n`` bytes written, or :data:`~httpaf.operation.CLOSE` if the
        transport closed (pending output is then dropped and the connection ends)."""
        if result is CLOSE:
            self._dropped += self._serializer.drain()
            self._close_reader()
            for reqd in list(self._queue):
                self._close_body(reqd)
            self._wake_writer()
        elif isinstance(result, int):
            self._serializer.shift(result)
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

    def _close_writer(self) -> None:
        if not self._serializer.is_closed:
            self._serializer.close()
            self._wake_writer()

    # -- errors and shutdown --------------------------------------------------------

    def report_exn(self, error: BaseException) -> None:
        """A runtime error: answered by the current request, or by the connection."""
        queue = self._queue
        if queue:
            queue[0].report_exn(error)
        else:
            self._connection_error(error)

    def _connection_error(self, error: BaseException) -> None:
        """An error with no request to answer it: respond, then close."""
        if self._errored:
            return
        self._errored = True
        self._close_reader()
        status = error_status(error)

        started = False

        def start_response(headers: Headers) -> BodyWriter:
            nonlocal started
            if started:
                raise StateError("error response already started")
            serializer = self._serializer
            if serializer.is_closed:
                raise StateError("cannot write to closed writer")
            response = Response(status, headers)  # also accepts a list of pairs
            # Not persistent: the head says ``Connection: close`` unless it does
            # already.
            length, discard, _ = serializer.write_framed_response_head(
                response, "GET", None, None, False
            )
            started = True
            writer = BodyWriter(serializer, length, self._error_body_closed, discard)
            self._wake_writer()
            return writer

        self._call_error_handler(None, error, start_response)

    def _error_body_closed(self, delimited: bool) -> None:
        self._close_writer()

    def _call_error_handler(
        self, request: Request | None, error: BaseException, start_response: StartResponse
    ) -> None:
        started = False

        def tracked(headers: Headers) -> BodyWriter:
            nonlocal started
            started = True
            return start_response(headers)

        try:
            self._error_handler(request, error, tracked)
        except Exception:
            if started:
                self._abort()  # a response is half out: cut the connection
                return
            try:  # nothing was sent: the default handler still can answer
                default_error_handler(request, error, start_response)
            except Exception:
                self._abort()

    def _abort(self) -> None:
        """Give up on the connection: drop pending output and close both sides."""
        self._dropped += self._serializer.drain()
        self._close_reader()
        self._wake_writer()

    def close_when_idle(self) -> None:
        """End gracefully: finish the requests already received, read no new ones."""
        self._draining = True
        for reqd in self._queue:
            if reqd.response is None:
                reqd.persistent = False  # its response will say ``Connection: close``
        if self._parser.is_idle and self._receiving is None:
            self._close_reader()
            self._advance()

    def shutdown(self) -> None:
        """Close the connection: stop reading, send what is pending, then close."""
        self._close_reader()
        for reqd in list(self._queue):
            self._close_body(reqd)
        self._close_writer()
        self._wake_writer()
