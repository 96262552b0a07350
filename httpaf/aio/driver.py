"""The asyncio runtime's connection drivers: read buffers, flow control, timers.

:class:`Driver` runs a connection's read and write loops over an asyncio transport;
:class:`ServerDriver` adds a server's idle, head and body timers and the steady read
path. Like the connection layer, this module is plain Python that a build also
compiles with Cython (declarations in ``_compiled/driver.pxd``): a compiled class
cannot have a Python base, so :mod:`httpaf.aio.protocols` adds the
``asyncio.BufferedProtocol`` base to whichever build is in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any, cast

from httpaf.connection import (
    AWAIT_BODY,
    AWAIT_HEAD,
    AWAIT_NOTHING,
    AWAIT_REQUEST,
    ErrorHandler,
    RequestHandler,
    ServerConnection,
)
from httpaf.model import CLOSE, READ, UPGRADE, YIELD, Closed, Config, ParseError, StateError, Write
from httpaf.wire import DateField

#: Seconds to keep reading (and discarding) after the last byte was sent, so that a
#: client's unread request bytes do not turn our close into a reset that eats the
#: response (a "lingering close").
LINGER_SECONDS = 2.0

_SMALL_WRITE = 65536

#: How often a connection whose reading is paused checks that its peer is still there.
PROBE_SECONDS = 0.5

# What a server connection's timer is waiting for (see ``ServerDriver``).
_TIMER_NONE = AWAIT_NOTHING
_TIMER_IDLE = AWAIT_REQUEST
_TIMER_HEAD = AWAIT_HEAD
_TIMER_BODY = AWAIT_BODY


_shared = threading.local()  # per thread (so per event loop): buffers, the clock


class _Clock:
    """The deadlines of a loop's server connections, behind one timer handle.

    An idle keep-alive connection must cost little, and a ``TimerHandle`` each is
    most of what it would cost. So a connection asks to be called back at its
    deadline rounded up to a sixteenth of its timeout (at most a second): the
    connections due in the same slot share a bucket, and one handle waits for the
    earliest bucket. A connection whose deadline moves later (a busy keep-alive
    connection) stays in its bucket and, called back early, asks again.
    """

    __slots__ = ("loop", "time", "_buckets", "_times", "_handle", "_handle_at")

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        #: ``loop.time``, bound once: the connections read it after each request.
        self.time: Callable[[], float] = loop.time
        self._buckets: dict[float, _Bucket] = {}
        self._times: list[float] = []  # the buckets' times, a heap
        self._handle: Any = None
        self._handle_at = math.inf

    @staticmethod
    def slot(deadline: float, timeout: float) -> float:
        """When a connection due at ``deadline`` is called back: a little later."""
        step = min(timeout / 16, 1.0)
        if step <= 0:
            return deadline
        at = math.ceil(deadline / step) * step
        return at if at >= deadline else at + step  # (rounding must not make it early)

    def watch(self, protocol: ServerDriver, at: float) -> _Bucket:
        """Call ``protocol._on_timer()`` at ``at`` (once; a slot's time): its bucket.

        (To forget the call, discard the protocol from the bucket; an empty bucket
        just expires.)
        """
        bucket = self._buckets.get(at)
        if bucket is None:
            bucket = self._buckets[at] = _Bucket(at)
            heapq.heappush(self._times, at)
            if at < self._handle_at:
                self._arm(at)
        bucket.add(protocol)
        return bucket

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle_at = at
        loop = self.loop
        self._handle = loop.call_later(max(at - loop.time(), 0.0), self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._handle_at = math.inf
        now = self.loop.time()
        times, buckets = self._times, self._buckets
        due = []  # (taken first: a callback that asks again lands in a later round)
        while times and times[0] <= now:
            due.append(buckets.pop(heapq.heappop(times)))
        try:
            for bucket in due:
                while bucket:  # (one callback may make another connection leave)
                    protocol = bucket.pop()
                    try:
                        protocol._on_timer()  # may watch again: always a later bucket
                    except Exception as error:  # one connection's failure spares the rest
                        self.loop.call_exception_handler(
                            {"message": "httpaf connection timer failed", "exception": error}
                        )
        finally:
            if times:
                self._arm(times[0])


class _Bucket(set["ServerDriver"]):
    """The connections the clock calls back at ``at``."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at


class _Dates:
    """The ``Date`` of the responses of this thread's loop: a value the serializers of
    its server connections read, set once a second while any connection is open."""

    __slots__ = ("loop", "field", "users", "_handle")

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.field = DateField()
        self.users = 0  # open connections that use ``field``
        self._handle: Any = None

    def acquire(self) -> None:
        """A connection that uses the field opens: keep it current from now on."""
        self.users += 1
        if self._handle is None:
            self._tick()

    def release(self) -> None:
        """A connection that used the field is gone (the last one stops the ticks)."""
        self.users -= 1
        if self.users <= 0 and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        now = time.time()
        self.field.set(formatdate(now, usegmt=True))
        self._handle = self.loop.call_later(1.0 - now % 1.0, self._tick)  # on the second


def _dates_of(loop: Any) -> _Dates:
    """The dates of ``loop`` (the thread's running loop, as a rule)."""
    dates: _Dates | None = getattr(_shared, "dates", None)
    if dates is None or dates.loop is not loop:
        dates = _shared.dates = _Dates(loop)
    return dates


def _clock_of(loop: Any) -> _Clock:
    """The clock of ``loop`` (the thread's running loop, as a rule)."""
    clock: _Clock | None = getattr(_shared, "clock", None)
    if clock is None or clock.loop is not loop:
        clock = _shared.clock = _Clock(loop)
    return clock


_timeouts_cache: tuple[Any, tuple[float | None, ...]] = (None, ())


def _timeouts_of(config: Config) -> tuple[float | None, ...]:
    """Timeouts indexed by the timer kinds (``AWAIT_*`` values), one tuple per config."""
    global _timeouts_cache
    cached, timeouts = _timeouts_cache
    if cached is not config:
        timeouts = (None, config.keep_alive_timeout, config.head_timeout, config.body_timeout)
        _timeouts_cache = (config, timeouts)
    return timeouts


#: Smallest buffer a connection allocates for bytes it keeps between reads.
_MIN_KEPT = 4096


class _ReadBuffer:
    """The read buffer that every connection of this thread's loop reads into.

    A loop runs one callback at a time and a connection consumes what it reads before
    its callback returns, so one buffer serves every connection: an idle connection
    holds none, and reads can be large. Bytes a connection must keep move to a buffer
    of its own. Body pieces are handed to handlers as views of this buffer (no copy);
    a handler that keeps one past its callback would see what the next read puts
    there, another connection's bytes perhaps. So after views went out (``suspect``),
    a buffer that a view still exports is left to whoever holds the view, and a new
    one takes its place.
    """

    __slots__ = ("buffer", "suspect")

    def __init__(self, size: int) -> None:
        self.buffer = bytearray(size)
        #: Body views of ``buffer`` went to handlers since the last check.
        self.suspect = False

    def take(self) -> bytearray:
        """The buffer to read into now: the same one unless a view of it is alive."""
        buffer = self.buffer
        if self.suspect:
            self.suspect = False
            if _exported(buffer):
                buffer = self.buffer = bytearray(len(buffer))
        return buffer


def _exported(buffer: bytearray) -> bool:
    """Whether a view of ``buffer`` is alive: a bytearray with one cannot change size."""
    try:
        buffer.append(0)
    except BufferError:
        return True
    del buffer[-1]
    return False


def _read_buffer(size: int) -> _ReadBuffer:
    """This thread's shared read buffer of ``size`` bytes."""
    buffers: dict[int, _ReadBuffer] | None = getattr(_shared, "buffers", None)
    if buffers is None:
        buffers = _shared.buffers = {}
    reads = buffers.get(size)
    if reads is None:
        reads = buffers[size] = _ReadBuffer(size)
    return reads


# An empty ``_buf`` and its view, shared: never written (a write grows ``_buf`` into a
# new bytearray first), and the view's export would refuse any resize.
_NO_VIEW = memoryview(bytearray())
_NO_BYTES = cast(bytearray, _NO_VIEW.obj)


def _payload(iovecs: list[memoryview], total: int) -> list[Any]:
    """What to hand the transport: bytes it may keep, never views of reused buffers.

    Transports may keep a reference to what they could not send yet (uvloop, and
    asyncio since 3.12), while the serializer reuses its buffer once a write is
    reported; so views of mutable memory are copied, views of ``bytes`` are not.
    ``total`` is the iovecs' byte count.
    """
    if len(iovecs) == 1:
        iov = iovecs[0]
        return [iov if type(iov.obj) is bytes else bytes(iov)]
    if total <= _SMALL_WRITE:
        return [b"".join(iovecs)]
    return [iov if type(iov.obj) is bytes else bytes(iov) for iov in iovecs]


def _apply_flow_control(transport: Any) -> None:
    """Have ``transport`` pause its protocol if its buffer is over the high-water mark.

    CPython 3.12.0 to 3.12.8 and 3.13.0 to 3.13.1 keep what ``writelines`` could not
    send without pausing the protocol (gh-127655): a peer that stops reading would
    make the server buffer without bound. Setting the same limits again makes the
    transport check (public API); it then resumes the protocol as usual.
    """
    try:
        size = transport.get_write_buffer_size()
        low, high = transport.get_write_buffer_limits()
        if size > high:
            transport.set_write_buffer_limits(high=high, low=low)
    except Exception:  # best effort: the bytes are out, the write stands
        return  # a transport that cannot tell or set its limits has no flow control


class Driver:
    """Drives a server or client connection over a transport (shared machinery).

    It also accepts ``data_received(bytes)``, for transports (and tests) that do not
    use the buffered protocol, and needs of a transport only ``write``, ``close``,
    ``is_closing``, ``pause_reading``, ``resume_reading`` and ``get_extra_info``
    (``writelines``, ``write_eof`` and ``abort`` are used when present).
    """

    # Slots, not a dict: thousands of idle connections each hold one of these.
    __slots__ = (
        "conn", "_config", "loop", "_reads", "_buf", "_view",
        "_input", "_start", "_end", "_transport", "_views_only", "_fresh", "_eof",
        "_reading_paused", "_write_paused", "_reads_while_write_paused", "_writable",
        "_sending_file", "_busy",
        "_reader_wanted", "_writer_wanted", "_reading", "_fed", "_in_resume", "_active",
        "_lazy_pause", "_reader_waiting", "_writer_waiting", "_reader_done", "_buf_lent",
        "_writer_done", "_upgraded", "_lost", "_handoff", "_linger", "_probe",
        "_finished", "_closed",
    )  # fmt: skip

    def __init__(self, config: Config, loop: Any = None) -> None:
        #: The connection (a subclass sets it).
        self.conn: Any = None
        self._config = config
        #: The event loop (anything with ``call_later`` and ``create_task``).
        self.loop: Any = loop if loop is not None else asyncio.get_running_loop()
        self._reads = _read_buffer(config.read_buffer_size)
        # Bytes kept between reads (an incomplete head, a body held back) live here.
        self._buf = _NO_BYTES
        self._view = _NO_VIEW  # memoryview(self._buf) once it has room
        self._buf_lent = False  # body views of ``_buf`` went out: do not write over it
        # What the connection reads: the shared buffer during a read, else ``_buf``.
        self._input = self._buf
        self._start = 0  # unconsumed bytes are self._input[self._start:self._end]
        self._end = 0
        self._transport: asyncio.Transport | None = None
        # TLS: asyncio's (and uvloop's) TLS transport reads a second record into
        # ``buffer[offset:]`` of what get_buffer gave, a copy where that is a bytearray.
        self._views_only = False
        self._fresh = False  # unconsumed bytes not yet shown to the connection
        self._eof = False  # the peer finished sending
        self._reading_paused = False
        self._write_paused = False  # the transport asked us to stop (flow control)
        # Whether reading goes on while writes are paused: a client's does (the server
        # may answer before the request's end, RFC 9112 §9.5); a server's stops.
        self._reads_while_write_paused = False
        # Resolved by resume_writing (a list once someone waits).
        self._writable: list[asyncio.Future[None]] | None = None
        self._sending_file = False  # loop.sendfile owns the transport's write side
        self._busy = False  # inside _pump: wakeups only set the flags below
        self._reader_wanted = False  # the read loop has to run
        self._writer_wanted = False  # the write loop has to run
        self._reading = False  # the read loop last stopped on READ
        self._fed = 0  # bytes the last read consumed
        self._in_resume = False  # inside resume_writing
        self._active = False  # bytes arrived since the read loop last stopped
        # A yield after a read of at most this many bytes leaves the transport reading.
        self._lazy_pause = min(4096, config.read_buffer_size // 2)
        self._reader_waiting = False  # a yield_reader callback is registered
        self._writer_waiting = False  # a yield_writer callback is registered
        self._reader_done = False
        self._writer_done = False
        self._upgraded = False
        self._lost = False  # connection_lost was called
        # Set by a subclass to take the transport over once pending output is written:
        # called with the bytes read and not consumed.
        self._handoff: Callable[[bytes], None] | None = None
        self._linger: Any = None
        self._probe: Any = None  # the liveness check while reading is paused
        self._finished = False  # closed, lost or handed over
        self._closed: asyncio.Future[None] | None = None

    # -- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._views_only = transport.get_extra_info("sslcontext") is not None
        self._drive()

    def get_buffer(self, sizehint: int) -> bytearray | memoryview:
        end = self._end
        if not end:
            if self._buf is not _NO_BYTES:
                self._drop_kept()
            # The usual case: nothing kept, the loop reads into the shared buffer.
            shared = self._input = self._reads.take()
            return memoryview(shared) if self._views_only else shared
        buf, start = self._buf, self._start  # kept bytes are always in ``_buf``
        if end == len(buf):
            if start:
                # Move the unconsumed bytes to the front; the size does not change.
                self._compact(buf, start, end)
            else:
                # A head bigger than the buffer: grow it up to the head limit (#18).
                size = len(buf) * 2
                config = self._config
                cap = max(config.read_buffer_size, config.max_head_size + config.max_request_line)
                grown = bytearray(min(size, cap) if len(buf) < cap else size)
                grown[:end] = buf[:end]
                self._buf = self._input = grown
                self._view = memoryview(grown)
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        if self._reader_done:
            self._start = self._end = 0  # after CLOSE, input is discarded
            return
        self._end += nbytes
        try:
            self._bytes_arrived()
        finally:
            self._after_read(self.conn.views_lent)

    def _after_read(self, lent: bool) -> None:
        """A read is over: keep what is left in ``_buf``; after body views went out
        (``lent``), check before the memory they show is read into again."""
        if lent:
            self.conn.views_lent = False
            self._reads.suspect = True
            self._buf_lent = True
        if self._end:
            if self._input is not self._buf:  # read into the shared buffer
                self._keep_unconsumed()
        elif self._buf is not _NO_BYTES:
            self._drop_kept()

    def _compact(self, buf: bytearray, start: int, end: int) -> None:
        """Move the unconsumed ``buf[start:end]`` to the front of ``_buf`` (a fresh
        one, of the same size, if a body view of ``buf`` is still alive)."""
        target = buf
        if self._buf_lent:
            self._buf_lent = False
            if self._view is not _NO_VIEW:  # (ours must not count as a handler's view)
                self._view.release()
            if _exported(buf):
                target = self._buf = self._input = bytearray(len(buf))
            self._view = memoryview(target)
        target[: end - start] = buf[start:end]
        self._start, self._end = 0, end - start

    def _drop_kept(self) -> None:
        """Nothing is kept any more: let ``_buf`` go (idle connections hold none)."""
        if self._buf is not _NO_BYTES:
            self._buf = self._input = _NO_BYTES
            self._view = _NO_VIEW
            self._buf_lent = False

    def _bytes_arrived(self) -> None:
        """New bytes at the end of ``self._input[self._start:self._end]``."""
        self._fresh = True
        self._active = True
        self._reader_wanted = True
        self._pump()

    def _keep_unconsumed(self) -> None:
        """After a read into the shared buffer: move what is left to ``_buf``."""
        start, end, shared = self._start, self._end, self._input
        self._input = self._buf
        self._start = self._end = 0
        if start < end:
            with memoryview(shared) as view:
                self._end = self._keep(view[start:end])

    def data_received(self, data: bytes) -> None:
        """Take ``data`` as if the loop had read it into :meth:`get_buffer`."""
        n = self._keep(data)
        if n:
            self.buffer_updated(n)

    def _keep(self, data: bytes | memoryview) -> int:
        """Copy ``data`` after the kept bytes in ``_buf`` (not yet counted); its size."""
        n = len(data)
        if not n:
            return 0
        buf, start, end = self._buf, self._start, self._end
        if len(buf) - end < n:
            if start:
                self._compact(buf, start, end)
                buf, end = self._buf, self._end
            if len(buf) - end < n:
                grown = bytearray(max(len(buf) * 2, end + n, _MIN_KEPT))
                grown[:end] = buf[:end]
                self._buf = buf = grown
                self._view = memoryview(grown)
        self._input = buf
        buf[end : end + n] = data
        return n

    def eof_received(self) -> bool:
        self._eof = True
        if self._reader_done:
            self._maybe_close()
        else:
            self._fresh = True
            self._reader_wanted = True
            self._pump()
        # Keep the transport open, responses may still be going out (SSL cannot). A
        # transport closed already is not asked (a closed TLS transport cannot answer).
        transport = self._transport
        if transport is None:
            return True
        if transport.is_closing():
            return False
        return transport.get_extra_info("sslcontext") is None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writable()
        self._writer_wanted = True
        self._reader_wanted = self._fresh = True  # reading may have stopped meanwhile
        self._in_resume = True
        try:
            self._pump()
        finally:
            self._in_resume = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._reader_done = self._writer_done = True
        if self._linger is not None:
            self._linger.cancel()
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        self._connection_ended()
        conn = self.conn
        if conn is not None and not conn.is_closed:
            with contextlib.suppress(Exception):
                conn.report_write_result(CLOSE)
        self._wake_writable()
        self._set_finished()

    # -- for the layers above ----------------------------------------------------

    def writable(self) -> asyncio.Future[None] | None:
        """A future resolved when the transport takes writes again, or ``None`` now.

        While the transport is paused (its buffer is full) a producer should await
        it before producing more; it also resolves when the connection is lost.
        Each call gets its own future, so cancelling one waiter spares the others.
        """
        if not self._write_paused or self._lost:
            return None
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._writable is None:
            self._writable = []
        self._writable.append(waiter)
        return waiter

    def _wake_writable(self) -> None:
        waiters = self._writable
        if waiters:
            self._writable = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def wait_closed(self) -> Awaitable[None]:
        """A future resolved when the connection is closed (or handed over)."""
        waiter = self._closed
        if waiter is None:
            waiter = self._closed = asyncio.get_running_loop().create_future()
            if self._finished:
                waiter.set_result(None)
        return waiter

    def _set_finished(self) -> None:
        self._finished = True
        waiter = self._closed
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _connection_ended(self) -> None:
        """The transport is gone or handed over: a hook for subclasses."""

    def _close_transport(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if self._in_resume:
                # Closing from inside resume_writing makes asyncio's selector
                # transport run connection_lost twice (CPython gh-156512): later.
                self.loop.call_soon(self._close_transport)
                return
            transport.close()

    # -- driving the connection ------------------------------------------------------

    def _drive(self) -> None:
        """Run both loops (after something outside the connection changed)."""
        self._reader_wanted = self._writer_wanted = True
        self._pump()

    def _pump(self) -> None:
        """Run the read and write loops until neither has anything left to do.

        Wakeups that happen meanwhile (the connection calling back while it is being
        read or written) only set flags, so the loops never nest: a response
        written from inside a read goes out once the read returns, batched with the
        other pipelined ones.
        """
        if self._busy:
            return
        self._busy = True
        try:
            while True:
                if self._reader_wanted:
                    self._reader_wanted = False
                    self._drive_reader()
                if self._writer_wanted or not self._writer_waiting:
                    self._writer_wanted = False
                    self._drive_writer()
                if not self._reader_wanted and not self._writer_wanted:
                    break
        finally:
            self._busy = False

    def _wake_reader(self) -> None:
        self._reader_waiting = False
        self._fresh = True
        self._reader_wanted = True
        if not self._busy:
            self._pump()

    def _wake_writer(self) -> None:
        self._writer_waiting = False
        self._writer_wanted = True
        if not self._busy:
            self._pump()

    # The protocol is its own writer wakeup (``conn.yield_writer(self)``): an idle
    # connection's waiting callback then costs no bound method object.
    __call__ = _wake_writer

    def _start_probe(self) -> None:
        """Check now and then that the peer is still there while reading is paused.

        A paused transport does not read, so it never sees the peer's reset: a
        request whose handler never answers would keep the connection for ever. The
        socket's pending error (ECONNRESET after an RST) tells without reading.
        """
        if self._probe is None and not self._lost:
            self._probe = self.loop.call_later(PROBE_SECONDS, self._probe_peer)

    def _stop_probe(self) -> None:
        """No more liveness checks (the transport is handed over: it is not ours)."""
        probe = self._probe
        if probe is not None:
            self._probe = None
            probe.cancel()

    def _probe_peer(self) -> None:
        self._probe = None
        transport = self._transport
        if self._lost or transport is None or not self._reading_paused:
            return
        sock = transport.get_extra_info("socket")
        try:
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if sock else 0
        except (OSError, AttributeError, TypeError):
            error = 0
        if error:
            transport.abort()  # connection_lost then releases the connection
        else:
            self._start_probe()

    def _settle(self, op: Any) -> None:
        """The read loop stopped on ``op`` (READ: waiting for the peer): a timer hook."""

    def _drive_reader(self) -> None:
        conn = self.conn
        transport = self._transport
        self._reading = False
        if self._reader_done or transport is None:
            return
        while True:
            try:
                op = conn.next_read_operation()
                if self._reader_done:
                    return
                if op is READ:
                    if self._write_paused and not self._eof and not self._reads_while_write_paused:
                        # The peer does not read what we send: stop reading what it
                        # sends, or its pipelined requests' answers pile up in memory.
                        # resume_writing starts reading again.
                        if not self._reading_paused:
                            self._reading_paused = True
                            transport.pause_reading()
                        return
                    if self._fresh and (self._start < self._end or self._eof):
                        self._fresh = False
                        self._feed()
                        if self._handoff is not None:
                            self._writer_wanted = True  # write what is pending, then hand off
                            return
                        if self._reader_done:
                            return
                        continue
                    if self._eof:  # read_eof consumed nothing more: stop reading
                        self._reader_done = True
                        self._settle(CLOSE)
                        self._maybe_close()
                        return
                    if self._reading_paused:
                        self._reading_paused = False
                        transport.resume_reading()
                    self._reading = True
                    self._settle(READ)
                    return
                if op is YIELD:
                    # A small request all taken in waits for its answer without
                    # pausing the transport (two system calls per request saved);
                    # bytes that arrive meanwhile are kept, and pause it then.
                    if not self._reading_paused and (
                        self._start < self._end or self._fed > self._lazy_pause
                    ):
                        self._reading_paused = True
                        transport.pause_reading()
                        self._start_probe()
                    if not self._reader_waiting:
                        self._reader_waiting = True
                        conn.yield_reader(self._wake_reader)
                    self._settle(YIELD)
                    return
                if op is CLOSE:
                    self._reader_done = True
                    self._start = self._end = 0
                    self._settle(CLOSE)
                    self._maybe_close()
                    return
                if op is UPGRADE:
                    if not self._reading_paused:
                        self._reading_paused = True
                        transport.pause_reading()
                    self._settle(UPGRADE)
                    self._maybe_upgrade()
                    return
                raise StateError(f"unknown read operation {op!r}")
            except Exception as error:  # an application error escaping the connection
                conn.report_exn(error)
                self._fresh = False

    def _feed(self) -> None:
        """Show the unconsumed bytes to the connection."""
        start, end = self._start, self._end
        if self._eof:
            consumed = self.conn.read_eof(self._input, start, end - start)
        else:
            consumed = self.conn.read(self._input, start, end - start)
        self._consume(consumed)

    def _consume(self, consumed: int) -> None:
        """The connection consumed ``consumed`` of the unconsumed bytes."""
        self._fed = consumed
        start = self._start + consumed
        if start == self._end:
            self._start = self._end = 0
        else:
            self._start = start

    def _drive_writer(self) -> None:
        conn = self.conn
        transport = self._transport
        if self._writer_done or transport is None:
            return
        while not self._write_paused and not self._sending_file:
            try:
                # The usual case: a little output, handed over as one bytes object.
                data = conn.take_output(_SMALL_WRITE)
                if data is not None:
                    transport.write(data)
                op = conn.next_write_operation()
                if self._writer_done:
                    return
                kind = type(op)
                if kind is Write:
                    iovecs = op.iovecs
                    total = sum(map(len, iovecs))
                    payload = _payload(iovecs, total)
                    writelines = getattr(transport, "writelines", None)
                    if len(payload) == 1:
                        transport.write(payload[0])
                    elif writelines is not None:
                        writelines(payload)
                    else:
                        for piece in payload:
                            transport.write(piece)
                    conn.report_write_result(total)
                    if writelines is not None and len(payload) > 1 and not self._write_paused:
                        _apply_flow_control(transport)
                    continue
                if op is YIELD:
                    if self._handoff is not None:
                        self._run_handoff()
                        return
                    if not self._writer_waiting:
                        self._writer_waiting = True
                        conn.yield_writer(self)
                    return
                if kind is Closed:
                    self._writer_done = True
                    self._finish_writing()
                    return
                if op is UPGRADE:
                    self._maybe_upgrade()
                    return
                raise StateError(f"unknown write operation {op!r}")
            except Exception as error:
                conn.report_exn(error)

    # -- ending ----------------------------------------------------------------------

    def _finish_writing(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._reader_done and self._eof:
            self._close_transport()
            return
        can_write_eof = getattr(transport, "can_write_eof", None)
        if can_write_eof is not None and can_write_eof():
            transport.write_eof()
        else:
            self._close_transport()
            return
        self._maybe_close()

    def _maybe_close(self) -> None:
        """Close once both sides are done; linger a little for the peer's EOF."""
        transport = self._transport
        if transport is None or not (self._reader_done and self._writer_done):
            return
        if transport.is_closing():
            return
        if self._eof:
            self._close_transport()
            return
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        if self._linger is None:
            self._linger = self.loop.call_later(LINGER_SECONDS, self._close_transport)

    def _maybe_upgrade(self) -> None:
        """Hand the transport over once the 101 is out and reading has stopped."""
        if self._upgraded or self.conn.next_write_operation() is not UPGRADE:
            return
        transport = self._transport
        if transport is None:
            return
        self._upgraded = self._reader_done = self._writer_done = True
        leftover = bytes(self._input[self._start : self._end])
        self._start = self._end = 0
        self._connection_ended()
        on_upgrade = self.conn.upgrade_handler
        protocol = on_upgrade(transport, leftover)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if leftover:
            protocol.data_received(leftover)
        self._stop_probe()
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        self._set_finished()

    def _run_handoff(self) -> None:
        """Give the transport to ``self._handoff`` with the bytes not consumed."""
        handoff, self._handoff = self._handoff, None
        if handoff is None or self._transport is None:
            return
        self._upgraded = self._reader_done = self._writer_done = True
        leftover = bytes(self._input[self._start : self._end])
        self._start = self._end = 0
        self._connection_ended()
        self._stop_probe()
        if self._reading_paused:
            self._reading_paused = False
            self._transport.resume_reading()
        handoff(leftover)
        self._set_finished()


class ServerDriver(Driver):
    """A server connection: the driver plus idle, head and body timers."""

    __slots__ = (
        "_connections", "_timeouts", "_timer_kind", "_deadline", "_clock", "_bucket",
        "_heads", "_dates",
    )  # fmt: skip

    def __init__(
        self,
        handler: RequestHandler,
        error_handler: ErrorHandler | None,
        config: Config,
        connections: set[Any],
        loop: Any = None,
    ) -> None:
        super().__init__(config, loop)
        # Responses without a Date get the loop's (Config.date_header), kept current
        # while the connection is open.
        self._dates = dates = _dates_of(self.loop) if config.date_header else None
        self.conn = ServerConnection(
            handler, error_handler, config, None if dates is None else dates.field
        )
        self._connections = connections
        self._timeouts = _timeouts_of(config)  # indexed by the timer kinds
        self._timer_kind = _TIMER_NONE
        self._deadline = 0.0  # when the current kind's timeout runs out
        self._clock: _Clock | None = None  # the loop's, once a timer is wanted
        self._bucket: _Bucket | None = None  # where the clock will call back, if it will
        self._heads = 0  # conn.request_count when the timer was last set

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._connections.add(self)
        dates = self._dates
        if dates is not None:
            dates.acquire()
        super().connection_made(transport)

    def buffer_updated(self, nbytes: int) -> None:
        if (
            not self._reading
            or self._busy
            or self._reader_done
            or self._write_paused
            or self._sending_file
        ):
            Driver.buffer_updated(self, nbytes)  # (a cpdef method has no super())
            return
        # Bytes for a connection that waits for nothing else: the usual case, short.
        # It does what the two loops would do (feed the bytes, write what the handlers
        # answered, wait for more) without asking for each operation; whenever the
        # connection ends up in any other state, the loops take over.
        conn = self.conn
        try:
            start = self._start
            self._end = end = self._end + nbytes
            self._busy = True
            self._reading = False
            try:
                # read, take_output, is_awaiting_input, yield_writer(self) and awaiting
                # in one call.
                data = conn.read_steadily(self._input, start, end - start, _SMALL_WRITE, self)
                consumed = conn.steady_consumed
                kind = conn.steady_awaiting
                if kind >= 0:
                    self._writer_waiting = True  # the connection holds its wakeup
                self._consume(consumed)
                if data is not None:
                    self._transport.write(data)  # type: ignore[union-attr]
                steady = (
                    kind >= 0
                    and not self._write_paused
                    and not self._sending_file
                    and not self._lost
                )
            except Exception as error:  # an application error escaping the connection
                conn.report_exn(error)
                steady = False
            finally:
                self._busy = False
            if steady and not self._reader_wanted:
                self._writer_wanted = False
                self._reading = True
                self._active = False
                self._wait_for_input(kind, True)  # as ``_settle(READ)`` after bytes arrived
            else:
                self._active = True  # bytes arrived: ``_settle`` restarts the timer
                self._reader_wanted = self._writer_wanted = True
                self._pump()
        finally:
            self._after_read(conn.views_lent)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """Finish what is in flight, then close; an idle connection closes now."""
        conn = self.conn
        if conn.awaiting() == AWAIT_REQUEST and self._start == self._end and not self._lost:
            self._reader_done = self._writer_done = True
            self._connection_ended()
            self._close_transport()
            conn.shutdown()
            return
        conn.close_when_idle()
        self._drive()

    # -- timers ----------------------------------------------------------------------

    def _settle(self, op: Any) -> None:
        active, self._active = self._active, False
        if op is READ:
            self._wait_for_input(self.conn.awaiting(), active)
        else:
            self._wait_for(_TIMER_NONE, active)

    def _wait_for_input(self, kind: int, active: bool) -> None:
        """Reading goes on, the connection waiting for ``kind`` (an ``AWAIT_*``)."""
        if kind == _TIMER_IDLE and self._start < self._end:
            kind = _TIMER_HEAD  # a request line is arriving
        self._wait_for(kind, active)

    def _wait_for(self, kind: int, active: bool) -> None:
        """The timer rule: a new wait starts its timer; bytes that arrived
        (``active``) restart an idle or body wait; a head's timer runs from the head's
        first byte, so it restarts only for a new head."""
        if kind == self._timer_kind:
            if kind == _TIMER_HEAD:
                if self.conn.request_count == self._heads:
                    return
            elif not active:
                return
            elif kind == _TIMER_IDLE and self._bucket is not None:
                # Idle again (a busy keep-alive connection): the deadline moves later;
                # the clock, due before it, calls back and the connection asks again.
                timeout = self._timeouts[_TIMER_IDLE]
                if timeout is not None:
                    self._deadline = self._clock.time() + timeout  # type: ignore[union-attr]
                return
        self._set_timer(kind)

    def refresh_timer(self) -> None:
        """Re-read what the connection waits for (a handler started reading the body)."""
        if self._reading and not self._reader_done:
            self._settle(READ)

    def _set_timer(self, kind: int) -> None:
        """Wait for ``kind`` from now (a body timer restarts at each call)."""
        self._timer_kind = kind
        self._heads = self.conn.request_count
        timeout = self._timeouts[kind]
        if timeout is None:
            return  # a pending handle finds nothing to do and goes away
        self._deadline = deadline = self.loop.time() + timeout
        at = _Clock.slot(deadline, timeout)
        bucket = self._bucket
        if bucket is None or at < bucket.at:
            self._watch(at)

    def _watch(self, at: float) -> None:
        """Be called back (``_on_timer``) at ``at``, instead of any earlier plan."""
        clock = self._clock
        if clock is None:
            clock = self._clock = _clock_of(self.loop)
        if self._bucket is not None:
            self._bucket.discard(self)
        self._bucket = clock.watch(self, at)

    def _on_timer(self) -> None:
        self._bucket = None
        kind = self._timer_kind
        timeout = self._timeouts[kind]
        if timeout is None or self._reader_done:
            return
        now = self.loop.time()
        if self._deadline > now:
            self._watch(_Clock.slot(self._deadline, timeout))  # it moved: not yet
            return
        if self._write_paused:
            # The peer does not read what we send: it is not idle. Look again later.
            self._watch(_Clock.slot(now + timeout / 4, timeout))
            return
        self._timer_kind = _TIMER_NONE
        self._expire(kind)

    def _expire(self, kind: int) -> None:
        """A timeout of ``kind`` ran out."""
        if kind == _TIMER_HEAD:
            # 408, then close: the connection answers it like a bad request.
            self.conn.report_exn(ParseError("request head timeout", 408))
            self._start = self._end = 0
            self._drive()
        else:
            self._close_transport()

    def abort(self) -> None:
        """Cut the connection now: pending output is dropped, the transport closed."""
        if self._lost or self._transport is None:
            return
        self._reader_done = self._writer_done = True
        self._connection_ended()
        self._close_transport()
        conn = self.conn
        if not conn.is_closed:
            with contextlib.suppress(Exception):
                conn.report_write_result(CLOSE)

    def _connection_ended(self) -> None:
        if self._upgraded:
            # Handed over (an upgrade): no longer one of the server's HTTP connections
            # (the protocol that took the transport joins them if it wants to).
            self._connections.discard(self)
        dates = self._dates
        if dates is not None:
            self._dates = None
            dates.release()
        self._timer_kind = _TIMER_NONE
        bucket = self._bucket
        if bucket is not None:
            self._bucket = None
            bucket.discard(self)
