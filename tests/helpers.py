"""The helpers the tests share (one module: test files never import each other).

- fake transports and a loop whose clock moves only when told to, for driving protocols
  in process;
- ``parse_all``/``parse_pieces``: a parser fed as a runtime feeds it;
- ``Runtime``: http/af's test runtime for the sans-I/O connections, with request and
  response builders and handler recorders;
- servers over real sockets (``run_async``, ``with_server``, ``run_with_server``,
  ``raw``, ``raw_exchange``) and in subprocesses (``ServerProcess``, the ``httpaf``
  command, ``wait_until``);
- for the clients: ``Exchange``/``send`` (a ClientConnection's request, recorded),
  ``our_server``, ``RawServer`` (misbehaving on cue), ``Proxy``, ``Certs``, ``Nginx``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

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
    asgi,
)
from httpaf.asyncio import new_event_loop
from httpaf.asyncio import serve as serve_native
from httpaf.asyncio import shutdown as shutdown_native
from httpaf.model import EndOfMessage, ParseError

# -- transports and loops for driving protocols in process --------------------


class FakeTransport(asyncio.Transport):
    """What the runtime's protocols need of a transport; ``data`` is what they wrote."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.writes = 0
        self.closed = False

    def write(self, data: Any) -> None:
        self.data += data
        self.writes += 1

    def writelines(self, pieces: Any) -> None:
        for piece in pieces:
            self.data += piece
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )


class FakeHandle:
    def __init__(self, loop: FakeLoop, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False
        self.loop = loop

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: FakeHandle) -> bool:
        return self.when < other.when


class FakeLoop:
    """``time`` and ``call_later`` on a clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.handles: list[FakeHandle] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle(self, self.now + delay, callback)
        heapq.heappush(self.handles, handle)
        return handle

    def call_soon(self, callback: Callable[[], None]) -> FakeHandle:
        return self.call_later(0, callback)

    def pending(self) -> int:
        return sum(not h.cancelled for h in self.handles)

    def advance(self, seconds: float) -> None:
        """Move the clock, running each handle that comes due, in order."""
        self.now += seconds
        while self.handles and self.handles[0].when <= self.now:
            handle = heapq.heappop(self.handles)
            if not handle.cancelled:
                handle.callback()


# -- parsing as a runtime would ------------------------------------------------


def parse_all(parser: Any, data: bytes, eof: bool = False, split: int | None = None) -> list[Any]:
    """Feed ``data`` (in two reads if ``split``), keeping unconsumed bytes like a runtime.

    See :func:`parse_pieces` for what comes back.
    """
    pieces = [data] if split is None else [data[:split], data[split:]]
    return parse_pieces(parser, pieces, eof)


def parse_pieces(parser: Any, pieces: Iterable[bytes], eof: bool = False) -> list[Any]:
    """Feed any number of reads (``eof`` with the last one), as a runtime would.

    Returns the events, with body pieces joined into ``bytes`` and a parse error as
    ``("error", status, message)``; a trailing ``None`` marks "needs more input".
    """
    pieces = list(pieces)
    events: list[Any] = []
    pending = bytearray()
    for i, piece in enumerate(pieces):
        pending += piece
        pos = 0
        while True:
            try:
                event = parser.parse(pending, pos, len(pending), eof and i == len(pieces) - 1)
            except ParseError as error:
                events.append(("error", error.status, error.message))
                return events
            pos += parser.consumed
            if event is None:
                break
            if isinstance(event, memoryview):
                event = bytes(event)
                if events and isinstance(events[-1], bytes):
                    events[-1] += event
                    continue
            events.append(event)
        del pending[:pos]
    if not events or not isinstance(events[-1], EndOfMessage) or pending:
        events.append(None)
    return events


# -- a test runtime for the sans-I/O connections ------------------------------
#
# A test runtime for the sans-I/O connections, modelled on http/af's lib_test runtime.
#
# :class:`Runtime` drives a :class:`~httpaf.ServerConnection` or a
# :class:`~httpaf.ClientConnection` the way http/af's ``test_server_connection.ml`` does:
#
# - it **caches** the current read and write operations, polled once at creation;
# - a ``YIELD`` registers a callback that re-polls (synchronously, inside whatever woke
#   it, which is the hardest case for re-entrancy);
# - :meth:`Runtime.read` / :meth:`Runtime.read_eof` may only be called while the cached
#   read operation is ``READ``; unconsumed bytes are **kept** and presented again,
#   followed by new ones, and when a yielded reader is woken the kept bytes are
#   presented again even if nothing new arrived (the runtime contract in
#   ``server_connection.py``);
# - :meth:`Runtime.write` compares the *cached* ``Write`` with the expected bytes,
#   reports them written, then re-polls.
#
# So how writes are split depends on exactly when wakeups happen, as in http/af.


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


def ok_closing(body: bytes = b"") -> bytes:
    """``ok(body)`` as the last response of a connection: the close is announced."""
    fields = (("Content-Length", str(len(body))), ("Connection", "close"))
    return response_bytes("200 OK", fields, body)


# -- handlers (as in http/af's lib_test/test_server_connection.ml) -------------------


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


#: A body of every byte value (300 KiB), served and checked by the framework tests.
DATA = bytes(range(256)) * 1200

#: The event loops the tests run on.
LOOPS = ["asyncio", "uvloop"]


# -- servers over real sockets --------------------------------------------------


def run_async(loop_kind: str, main: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    """Run ``main()`` on a fresh loop of ``loop_kind``."""
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), timeout))
    finally:
        loop.close()


def with_server(
    loop_kind: str,
    app: Any,
    scenario: Callable[[int], Awaitable[Any]],
    **options: Any,
) -> Any:
    """Serve ``app`` on a free port, run ``scenario(port)``, then shut down."""

    async def main() -> Any:
        server = await asgi.serve(app, "127.0.0.1", 0, **options)
        try:
            return await scenario(server.port)
        finally:
            await server.shutdown(5)

    return run_async(loop_kind, main)


async def raw(port: int, data: bytes, *, until_close: bool = True, wait: float = 5) -> bytes:
    """Send ``data``; read until the server closes (or ``wait`` s of silence)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    chunks = []
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), wait)
            if not chunk:
                break
            chunks.append(chunk)
    except asyncio.TimeoutError:
        if until_close:
            raise
    writer.close()
    return b"".join(chunks)


def dechunk(body: bytes) -> tuple[bytes, bytes]:
    """A chunked body's data and its trailer section."""
    data = bytearray()
    while True:
        line, _, body = body.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return bytes(data), body
        data += body[:size]
        body = body[size + 2 :]


def run_with_server(
    loop_kind: str,
    handler: Callable[[Reqd], None],
    scenario: Callable[[int], Awaitable[Any]],
    **kwargs: Any,
) -> Any:
    """Serve ``handler`` on a free port and run ``scenario(port)`` in the same loop."""
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    loop = new_event_loop(use_uvloop=loop_kind == "uvloop")

    async def main() -> Any:
        server = await serve_native(handler, "127.0.0.1", 0, **kwargs)
        port = server.sockets[0].getsockname()[1]
        try:
            return await asyncio.wait_for(scenario(port), 20)
        finally:
            await shutdown_native(server, timeout=2)

    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


async def raw_exchange(port: int, data: bytes, until_close: bool = True) -> bytes:
    """Send ``data`` at once and read until the server closes (or 2 s of silence)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    chunks = []
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), 2)
            if not chunk:
                break
            chunks.append(chunk)
    except asyncio.TimeoutError:
        if until_close:
            raise
    writer.close()
    return b"".join(chunks)


# -- servers in subprocesses ---------------------------------------------------


APPS = Path(__file__).resolve().parent / "apps"


class ServerProcess:
    """A server started as a subprocess; its output is collected by a thread.

    ``url`` is found by ``pattern`` (one group: the URL) in the merged output.
    """

    def __init__(
        self,
        args: Sequence[str],
        pattern: str = r"serving on (http://\S+)",
        *,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        full_env = dict(os.environ)
        full_env.pop("HTTPAF_TEST_PROBE", None)
        full_env["PYTHONUNBUFFERED"] = "1"
        if env:
            full_env.update(env)
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=full_env,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self.wait_for(pattern, timeout).group(1)

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything printed so far."""
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until a line matches ``pattern``; fail if the process ends first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"server exited ({self.process.returncode}) before {pattern!r}:\n"
                        + "".join(self.lines)
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r} in:\n" + "".join(self.lines))
                self._changed.wait(min(left, 0.2))

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the server (its main process)."""
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the server to exit; its status."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Stop the server (``sig``, then SIGKILL to its group if it lingers)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with_group_kill(self.process.pid)
                self.process.wait(10)
        self._reader.join(5)
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self.process.poll() is None:  # pragma: no cover
            with_group_kill(self.process.pid)


def with_group_kill(pid: int) -> None:
    """SIGKILL the process group that ``pid`` leads (a server and its workers)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def httpaf_command(*args: str, script: bool = False) -> list[str]:
    """The ``httpaf`` console script (if installed and ``script``) or ``python -m httpaf``."""
    if script:
        candidate = Path(sys.executable).with_name("httpaf")
        if candidate.exists():
            return [str(candidate), *args]
    return [sys.executable, "-m", "httpaf", *args]


def children_of(pid: int) -> set[int]:
    """The child processes of ``pid`` (Linux ``/proc``)."""
    found: set[int] = set()
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.iterdir():
        try:
            text = (task / "children").read_text()
        except OSError:
            continue
        found.update(int(x) for x in text.split())
    return found


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is true (``False`` if it never is in ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def slow_requests_during_shutdown(
    server: ServerProcess, tmp_path: Path, count: int = 4, sig: int = signal.SIGTERM
) -> list[httpx.Response | BaseException]:
    """Start ``count`` slow requests, signal the server once all are in, collect them."""
    results: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * count
    marks = [tmp_path / f"in-flight-{i}" for i in range(count)]

    def call(i: int) -> None:
        try:
            results[i] = httpx.get(
                f"{server.url}/slow",
                params={"delay": "1", "mark": str(marks[i])},
                timeout=30,
            )
        except BaseException as error:  # noqa: BLE001 - reported by the test
            results[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: all(mark.exists() for mark in marks)), server.output
    server.send_signal(sig)
    for thread in threads:
        thread.join(30)
    return results


# -- what framework applications must do ----------------------------------------


async def exercise_framework_app(port: int, greeting: str, server_header: str = "httpaf") -> None:
    """What both framework apps must do, through httpx."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        r = await client.get("/items/42", params={"q": "x y"})
        assert r.status_code == 200 and r.json()["id"] == 42 and r.json()["q"] == "x y"
        assert r.headers["server"] == server_header and r.headers["date"].endswith(" GMT")
        r = await client.get("/items/nope")
        assert r.status_code in (404, 422)
        body = os.urandom(300_000)
        r = await client.post("/echo", content=body)
        assert r.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}

        async def pieces() -> AsyncIterator[bytes]:  # a chunked request body
            for i in range(10):
                yield bytes([i]) * 10_000

        r = await client.post("/echo", content=pieces())
        expected = b"".join(bytes([i]) * 10_000 for i in range(10))
        assert r.json()["sha256"] == hashlib.sha256(expected).hexdigest()
        r = await client.get("/stream", params={"n": 4})
        assert r.text == "line 0\nline 1\nline 2\nline 3\n"
        assert r.headers["transfer-encoding"] == "chunked"
        r = await client.get("/download")
        assert r.content == DATA and r.headers["content-length"] == str(len(DATA))
        r = await client.get("/background", params={"token": "t1"})
        assert r.json() == {"scheduled": "t1"}
        r = await client.get("/state")
        assert r.json()["greeting"] == greeting


def exercise_asgi_app(url: str, name: str, *, same_process: bool = True) -> None:
    """Routes, JSON, parameters, bodies, streaming, files, background tasks, lifespan."""
    framework = name.split("_")[0]
    with httpx.Client(base_url=url, timeout=30) as client:
        r = client.get("/")
        assert (r.status_code, r.text) == (200, f"hello from {framework}")
        assert client.get("/json").json() == {"ok": True, "items": [1, 2, 3], "name": framework}
        r = client.get("/items/12", params={"q": "héllo"})
        assert r.json()["id"] == 12 and r.json()["q"] == "héllo"
        assert client.get("/items/abc").status_code in (404, 422)
        payload = os.urandom(500_000)
        r = client.post("/echo", content=iter([payload[:1000], payload[1000:]]))
        assert r.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
        r = client.post("/echo", content=payload)
        assert r.json()["size"] == len(payload)
        if framework == "fastapi":
            r = client.post("/items", json={"name": "pen", "price": 1.5, "tags": ["a"]})
            assert r.json() == {"created": {"name": "pen", "price": 1.5, "tags": ["a"]}, "total": 3.0}
            assert client.post("/items", json={"name": "pen"}).status_code == 422
        else:
            assert client.post("/json", json={"x": [1, 2]}).json() == {"received": {"x": [1, 2]}}
        with client.stream("GET", "/stream", params={"n": 50}) as r:
            assert r.headers.get("transfer-encoding") == "chunked"
            assert "".join(r.iter_text()) == "".join(f"line {i}\n" for i in range(50))
        r = client.get("/download")
        assert r.status_code == 200 and r.content == DATA
        assert r.headers["content-length"] == str(len(DATA))
        state = client.get("/state").json()
        assert state["greeting"] == "hello from lifespan"
        assert state["pid"] == state["here"]
        if same_process:
            token = os.urandom(4).hex()
            assert client.get("/background", params={"token": token}).json() == {"scheduled": token}
            assert wait_until(lambda: token in client.get("/background-done").json()["done"])

# -- clients ------------------------------------------------------------------------
#
# What the client tests share: a recorder of one request's response (for the
# sans-I/O ClientConnection), our server with a handler that answers what the client
# tests ask, a scripted raw server that misbehaves on cue, a forward/tunnel proxy, TLS
# certificates (trustme) and nginx.


class Exchange:
    """One request's response handler and error handler, recording what they get."""

    def __init__(self, read: bool = True) -> None:
        self.response: Response | None = None
        self.body: BodyReader | None = None
        self.chunks: list[bytes] = []
        self.eof = False
        self.errors: list[BaseException] = []
        self.read = read  # read the body to its end as it arrives

    def on_response(self, response: Response, body: BodyReader) -> None:
        self.response = response
        self.body = body
        if self.read:
            self._schedule()

    def _schedule(self) -> None:
        assert self.body is not None
        self.body.schedule_read(self._on_read, self._on_eof)

    def _on_read(self, data: memoryview) -> None:
        self.chunks.append(bytes(data))
        self._schedule()

    def _on_eof(self) -> None:
        self.eof = True

    def on_error(self, error: BaseException) -> None:
        self.errors.append(error)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def send(rt: Runtime, request: Request, ex: Exchange) -> BodyWriter:
    """Send ``request`` on the runtime's ClientConnection, recorded by ``ex``."""
    return rt.conn.request(request, ex.on_response, ex.on_error)  # type: ignore[no-any-return]


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run_bounded(coro: Awaitable[Any], timeout: float = 60) -> Any:
    """Run ``coro`` on a fresh loop, bounded in time."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def client_test_handler(reqd: Reqd) -> None:
    """Answers with the request body; ``/trailers`` streams with a trailer, ``/big/N``
    sends N bytes, ``/status/N`` answers N, ``/headers`` echoes the request head."""
    pieces: list[bytes] = []
    target = reqd.request.target

    def on_read(data: memoryview) -> None:
        pieces.append(bytes(data))
        reqd.body.schedule_read(on_read, on_eof)

    def on_eof() -> None:
        body = b"".join(pieces)
        if target == "/trailers":
            writer = reqd.respond_with_streaming(Response(200, [("Transfer-Encoding", "chunked")]))
            writer.write(b"part one, ")
            writer.write(b"part two")
            writer.close(Headers([("X-Sum", "42")]))
        elif target.startswith("/big/"):
            size = int(target.rsplit("/", 1)[1])
            reqd.respond_with_bytes(Response(200), b"x" * size)
        elif target.startswith("/status/"):
            reqd.respond_with_string(Response(int(target.rsplit("/", 1)[1])), b"")
        elif target == "/headers":
            text = "\n".join(f"{n}: {v}" for n, v in reqd.request.headers.to_list())
            reqd.respond_with_string(Response(200), f"{reqd.request.method} {target}\n{text}")
        else:
            trailers = reqd.body.trailers
            extra = [("X-Trailers", repr(trailers.to_list()))] if trailers else []
            reqd.respond_with_string(Response(200, [("X-Method", str(reqd.request.method)), *extra]),
                                     body)

    reqd.body.schedule_read(on_read, on_eof)


@contextlib.asynccontextmanager
async def our_server(**kwargs: Any) -> AsyncIterator[str]:
    """Our server with :func:`client_test_handler`; yields its base URL."""
    async with await serve_native(client_test_handler, "127.0.0.1", 0, **kwargs) as server:
        scheme = "https" if kwargs.get("ssl") else "http"
        yield f"{scheme}://127.0.0.1:{server.port}"


class RawServer:
    """A TCP server running ``script(reader, writer)`` per connection (misbehaving on
    purpose); counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self.script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):  # scripts still running (sleeping, say) end now
            task.cancel()
        await asyncio.sleep(0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """A request head (through its blank line)."""
    return await reader.readuntil(b"\r\n\r\n")


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """A request head and its Content-Length body."""
    head = await read_head(reader)
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head, body


class Certs:
    """A CA, a server certificate for 127.0.0.1 and localhost, and contexts."""

    def __init__(self) -> None:
        import trustme

        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost", "example.test")
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(self.server)
        self.server.set_alpn_protocols(["http/1.1"])
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)


class Proxy:
    """A forward proxy for ``http`` (absolute-form requests) and a ``CONNECT`` tunnel;
    records what it saw. Requests are relayed on a new upstream connection each."""

    def __init__(self, require_auth: str | None = None) -> None:
        self.require_auth = require_auth
        self.seen: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            while True:
                head = await read_head(reader)
                self.seen.append(head)
                line = head.split(b"\r\n", 1)[0]
                method, target, _ = line.split(b" ")
                if self.require_auth and f"Proxy-Authorization: {self.require_auth}".encode() \
                        not in head:
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                if method == b"CONNECT":
                    host, _, port = target.decode().rpartition(":")
                    up_reader, up_writer = await asyncio.open_connection(host, int(port))
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await writer.drain()
                    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                    return
                # Forwarding: relay one request (absolute form) to its origin.
                rest = target.split(b"://", 1)[1]
                authority, _, path = rest.partition(b"/")
                host, _, port = authority.decode().partition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
                length = 0
                for field in head.split(b"\r\n")[1:]:
                    if field.lower().startswith(b"content-length:"):
                        length = int(field.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                up_writer.write(head.replace(target, b"/" + path, 1) + body)
                await up_writer.drain()
                resp_head = await read_head(up_reader)
                clen = 0
                for field in resp_head.split(b"\r\n")[1:]:
                    if field.lower().startswith(b"content-length:"):
                        clen = int(field.split(b":")[1])
                writer.write(resp_head + await up_reader.readexactly(clen))
                await writer.drain()
                up_writer.close()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def __aenter__(self) -> Proxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.sleep(0)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Nginx:
    """nginx (Debian's package) serving ``files`` (name -> bytes) from a temporary root,
    ``/post`` answering any method with a small JSON body; started and stopped here
    (its master process, by PID). ``Nginx.available()`` says whether it is installed."""

    def __init__(self, files: dict[str, bytes], workers: int = 1) -> None:
        self.files = files
        self.workers = workers
        self.port = 0
        self._proc: Any = None
        self._tmp: Any = None

    @staticmethod
    def available() -> bool:
        import shutil

        return shutil.which("nginx") is not None or os.path.exists("/usr/sbin/nginx")

    def __enter__(self) -> Nginx:
        import socket as _socket
        import subprocess
        import tempfile
        import time

        self._tmp = tempfile.TemporaryDirectory()
        root = self._tmp.name
        os.chmod(root, 0o755)  # nginx's workers may run as another user
        os.makedirs(os.path.join(root, "www"))
        for name, data in self.files.items():
            with open(os.path.join(root, "www", name), "wb") as f:
                f.write(data)
        probe = _socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        conf = os.path.join(root, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
daemon off;
master_process on;
worker_processes {self.workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {{
        listen 127.0.0.1:{self.port};
        root {root}/www;
        location /post {{ default_type application/json; return 200 '{{"ok":true}}'; }}
    }}
}}
""")
        binary = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"
        self._proc = subprocess.Popen([binary, "-c", conf, "-p", root, "-e",
                                       os.path.join(root, "error.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                _socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()  # the master we started, by its PID
            try:
                self._proc.wait(10)
            except Exception:
                self._proc.kill()
                self._proc.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
