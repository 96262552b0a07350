"""A test runtime for the sans-I/O connections, modelled on http/af's (reference §5).

:class:`Runtime` drives a :class:`~httpaf.ServerConnection` or a
:class:`~httpaf.ClientConnection` the way http/af's ``test_server_connection.ml`` does:

- it **caches** the current read and write operations, polled once at creation;
- a ``YIELD`` registers a callback that re-polls (synchronously, inside whatever woke
  it, which is the hardest case for re-entrancy);
- :meth:`Runtime.read` / :meth:`Runtime.read_eof` may only be called while the cached
  read operation is ``READ``; unconsumed bytes are **kept** and presented again,
  followed by new ones, and when a yielded reader is woken the kept bytes are
  presented again even if nothing new arrived (the runtime contract in
  ``server_connection.py``);
- :meth:`Runtime.write` compares the *cached* ``Write`` with the expected bytes,
  reports them written, then re-polls.

So how writes are split depends on exactly when wakeups happen, as in http/af.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from httpaf import (
    CLOSE,
    READ,
    UPGRADE,
    YIELD,
    BodyReader,
    BodyWriter,
    Closed,
    Headers,
    Reqd,
    Request,
    Response,
    Write,
)

__all__ = [
    "Runtime",
    "get",
    "request_bytes",
    "response_bytes",
    "ok",
    "default_request_handler",
    "request_handler_with_body",
    "echo_handler",
    "streaming_handler",
    "error_handler",
    "read_body",
    "Recorder",
    "ErrorRecorder",
]


class Runtime:
    """Drive ``conn`` with cached operations, keeping unconsumed input."""

    def __init__(self, conn: Any, resume: bool = True) -> None:
        self.conn = conn
        #: Whether a woken reader presents the kept bytes at once (as a runtime does).
        self.resume = resume
        self.pending = b""  # bytes read from the "transport" but not consumed
        self.saw_eof = False
        self.read_op: Any = None
        self.write_op: Any = None
        self.reader_wakeups = 0
        self.writer_wakeups = 0
        self.read_calls = 0
        self._reader_waiting = False
        self._writer_waiting = False
        self._reading = False
        self._woken_while_reading = False
        self.poll_reader()
        self.poll_writer()

    # -- polling -----------------------------------------------------------------------

    def poll_reader(self) -> Any:
        """Ask the connection for its read operation; register on ``YIELD``."""
        op = self.conn.next_read_operation()
        self.read_op = op
        if op is YIELD and not self._reader_waiting:
            self._reader_waiting = True
            self.conn.yield_reader(self._on_reader_wakeup)
        return op

    def poll_writer(self) -> Any:
        """Ask the connection for its write operation; register on ``YIELD``."""
        op = self.conn.next_write_operation()
        self.write_op = op
        if op is YIELD and not self._writer_waiting:
            self._writer_waiting = True
            self.conn.yield_writer(self._on_writer_wakeup)
        return op

    def _on_reader_wakeup(self) -> None:
        self._reader_waiting = False
        self.reader_wakeups += 1
        if self._reading:
            self._woken_while_reading = True
        self.poll_reader()
        if self.resume and not self._reading and self.read_op is READ and self.pending:
            self._present()

    def _on_writer_wakeup(self) -> None:
        self._writer_waiting = False
        self.writer_wakeups += 1
        self.poll_writer()

    # -- reading -----------------------------------------------------------------------

    def _present(self) -> int:
        """Give the kept bytes to the connection until it stops making progress."""
        total = 0
        self._reading = True
        try:
            while True:
                self._woken_while_reading = False
                buf = self.pending
                self.read_calls += 1
                n = self.conn.read_eof(buf) if self.saw_eof else self.conn.read(buf)
                if not 0 <= n <= len(buf):
                    raise AssertionError(f"read consumed {n} of {len(buf)} bytes")
                total += n
                self.pending = buf[n:]
                self.poll_reader()
                if not (self._woken_while_reading and self.pending and self.read_op is READ):
                    break
        finally:
            self._reading = False
        return total

    def read(self, data: bytes = b"") -> int:
        """Read ``data`` (after any kept bytes); return how many bytes were consumed."""
        self._expect_read_op()
        self.pending += data
        return self._present()

    def read_eof(self, data: bytes = b"") -> int:
        """Like :meth:`read`, then end of input."""
        self._expect_read_op()
        self.pending += data
        self.saw_eof = True
        return self._present()

    def _expect_read_op(self) -> None:
        if self.read_op is not READ:
            raise AssertionError(f"read while the cached read operation is {self.read_op!r}")

    # -- writing -----------------------------------------------------------------------

    def _write_bytes(self) -> bytes:
        op = self.write_op
        if not isinstance(op, Write):
            raise AssertionError(f"expected a Write, the writer is {op!r}")
        return b"".join(bytes(v) for v in op.iovecs)

    def peek(self) -> bytes:
        """The bytes of the cached ``Write`` (nothing is reported)."""
        return self._write_bytes()

    def write(self, expected: bytes) -> None:
        """Check that the cached ``Write`` is exactly ``expected``; report it written."""
        got = self._write_bytes()
        assert got == expected, f"write mismatch:\n got      {got!r}\n expected {expected!r}"
        self.conn.report_write_result(len(got))
        self.poll_writer()

    def write_partial(self, expected: bytes, n: int) -> None:
        """Check the cached ``Write``; report only ``n`` of its bytes written."""
        got = self._write_bytes()
        assert got == expected, f"write mismatch:\n got      {got!r}\n expected {expected!r}"
        self.conn.report_write_result(n)
        self.poll_writer()

    def next_write(self) -> bytes:
        """Collect the cached ``Write``'s bytes, report them written, re-poll."""
        got = self._write_bytes()
        self.conn.report_write_result(len(got))
        self.poll_writer()
        return got

    def drain(self) -> bytes:
        """Collect every ``Write`` until the writer yields, closes or upgrades."""
        out = b""
        while isinstance(self.write_op, Write):
            out += self.next_write()
        return out

    def writes(self) -> list[bytes]:
        """Like :meth:`drain`, keeping each ``Write`` apart."""
        out = []
        while isinstance(self.write_op, Write):
            out.append(self.next_write())
        return out

    def report_closed(self) -> None:
        """The transport refused the cached ``Write``."""
        self.conn.report_write_result(CLOSE)
        self.poll_writer()

    # -- checks --------------------------------------------------------------------------

    def reader_ready(self) -> None:
        assert self.read_op is READ, f"reader is {self.read_op!r}, expected READ"

    def reader_yielded(self) -> None:
        assert self.read_op is YIELD, f"reader is {self.read_op!r}, expected YIELD"

    def reader_closed(self) -> None:
        assert self.read_op is CLOSE, f"reader is {self.read_op!r}, expected CLOSE"

    def reader_upgraded(self) -> None:
        assert self.read_op is UPGRADE, f"reader is {self.read_op!r}, expected UPGRADE"

    def writer_yielded(self) -> None:
        assert self.write_op is YIELD, f"writer is {self.write_op!r}, expected YIELD"

    def writer_closed(self, dropped: int = 0) -> None:
        assert self.write_op == Closed(dropped), f"writer is {self.write_op!r}, expected Closed({dropped})"

    def writer_upgraded(self) -> None:
        assert self.write_op is UPGRADE, f"writer is {self.write_op!r}, expected UPGRADE"

    def is_shutdown(self) -> None:
        """http/af's ``connection_is_shutdown``: reader CLOSE and writer ``Closed(0)``."""
        self.reader_closed()
        self.writer_closed(0)
        assert self.conn.is_closed


# -- wire forms -------------------------------------------------------------------------


def request_bytes(
    method: str = "GET",
    target: str = "/",
    headers: Iterable[tuple[str, str]] = (("Host", "x"),),
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    """A request as bytes (``Host: x`` by default: HTTP/1.1 requires it)."""
    head = f"{method} {target} {version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


def get(*extra: tuple[str, str], target: str = "/") -> bytes:
    """``GET /`` with ``Host: x`` and ``extra`` fields."""
    return request_bytes("GET", target, (("Host", "x"),) + extra)


def response_bytes(
    status: str = "200 OK", headers: Iterable[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    """A response as bytes."""
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


def ok(body: bytes = b"", *extra: tuple[str, str]) -> bytes:
    """What ``respond_with_string(Response(200, extra), body)`` puts on the wire."""
    return response_bytes("200 OK", extra + (("Content-Length", str(len(body))),), body)


# -- handlers (reference §5, "Handlers used in the tests") ------------------------------


def default_request_handler(reqd: Reqd) -> None:
    """Close the request body, then answer 200 with an empty body."""
    reqd.body.close()
    reqd.respond_with_string(Response(200), b"")


def request_handler_with_body(body: bytes) -> Callable[[Reqd], None]:
    def handler(reqd: Reqd) -> None:
        reqd.body.close()
        reqd.respond_with_string(Response(200), body)

    return handler


def echo_handler(response: Response) -> Callable[[Reqd], None]:
    """Stream ``response``; each piece read is written, then flushed, and the next read
    is scheduled once the flush completes; the end of the request body closes it."""

    def handler(reqd: Reqd) -> None:
        writer = reqd.respond_with_streaming(response)
        body = reqd.body

        def on_read(data: memoryview) -> None:
            writer.write(bytes(data))
            writer.flush(lambda: body.schedule_read(on_read, on_eof))

        def on_eof() -> None:
            writer.close()

        body.schedule_read(on_read, on_eof)

    return handler


def streaming_handler(
    response: Response, writes: list[bytes], flush: bool = False
) -> Callable[[Reqd], None]:
    """Close the request body, stream ``response``, write each of ``writes`` and flush,
    the next one in the flush callback; close after the last."""

    def handler(reqd: Reqd) -> None:
        reqd.body.close()
        writer = reqd.respond_with_streaming(response, flush_headers_immediately=flush)
        remaining = list(writes)

        def step() -> None:
            if not remaining:
                writer.close()
                return
            writer.write(remaining.pop(0))
            writer.flush(step)

        step()

    return handler


def error_handler(request: Request | None, error: BaseException, start_response: Any) -> None:
    """http/af's test error handler: empty headers, ``got an error``, close."""
    writer = start_response(Headers())
    writer.write(b"got an error")
    writer.close()


def read_body(body: BodyReader, into: list[bytes], on_done: Callable[[], None] | None = None) -> None:
    """Read ``body`` to its end, appending every piece (copied) to ``into``."""

    def on_read(data: memoryview) -> None:
        into.append(bytes(data))
        body.schedule_read(on_read, on_eof)

    def on_eof() -> None:
        if on_done is not None:
            on_done()

    body.schedule_read(on_read, on_eof)


class Recorder:
    """A request handler that stores each Reqd and runs ``then`` on it (if given)."""

    def __init__(self, then: Callable[[Reqd], None] | None = None) -> None:
        self.reqds: list[Reqd] = []
        self.then = then

    def __call__(self, reqd: Reqd) -> None:
        self.reqds.append(reqd)
        if self.then is not None:
            self.then(reqd)

    @property
    def last(self) -> Reqd:
        return self.reqds[-1]

    @property
    def count(self) -> int:
        return len(self.reqds)


class ErrorRecorder:
    """An error handler that records its calls and (optionally) defers the answer."""

    def __init__(self, deferred: bool = False, body: bytes = b"got an error") -> None:
        self.calls: list[tuple[Request | None, BaseException]] = []
        self.deferred = deferred
        self.body = body
        self._pending: list[Callable[[], None]] = []

    def __call__(self, request: Request | None, error: BaseException, start_response: Any) -> None:
        self.calls.append((request, error))

        def answer() -> None:
            writer: BodyWriter = start_response(Headers())
            writer.write(self.body)
            writer.close()

        if self.deferred:
            self._pending.append(answer)
        else:
            answer()

    def resume(self) -> None:
        """Answer the deferred errors."""
        pending, self._pending = self._pending, []
        for answer in pending:
            answer()
