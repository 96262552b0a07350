# C declarations for the compiled build of ../driver.py (see __init__.py here). Fields
# are C slots; every field stays readable and writable from Python (``public``).

cimport cython

from httpaf.connection._compiled.server cimport ServerConnection as CServerConnection

# The timer kinds (the connection's ``AWAIT_*`` values) and the write size that
# takes the one-bytes path, as C constants.
cdef int _TIMER_NONE, _TIMER_IDLE, _TIMER_HEAD, _TIMER_BODY
cdef Py_ssize_t _SMALL_WRITE
# The shared empty buffer and its view, read on every request (a module-global
# lookup is a dict lookup on every use from Python 3.12).
cdef bytearray _NO_BYTES
cdef object _NO_VIEW


cdef class _ReadBuffer:
    cdef public bytearray buffer
    cdef public bint suspect

    @cython.locals(buffer=bytearray)
    cpdef bytearray take(self)


cdef class _Clock:
    cdef public object loop
    cdef public object time
    cdef public dict _buckets
    cdef public list _times
    cdef public object _handle
    cdef public double _handle_at


cdef class Driver:
    cdef public object conn
    cdef public object _config
    cdef public object loop
    cdef public _ReadBuffer _reads
    cdef public object _buf
    cdef public object _view
    cdef public object _input
    cdef public Py_ssize_t _start
    cdef public Py_ssize_t _end
    cdef public object _transport
    cdef public bint _views_only
    cdef public bint _fresh
    cdef public bint _eof
    cdef public bint _reading_paused
    cdef public bint _write_paused
    cdef public bint _reads_while_write_paused
    cdef public object _writable
    cdef public bint _sending_file
    cdef public bint _busy
    cdef public bint _reader_wanted
    cdef public bint _writer_wanted
    cdef public bint _reading
    cdef public Py_ssize_t _fed
    cdef public bint _in_resume
    cdef public bint _active
    cdef public Py_ssize_t _lazy_pause
    cdef public bint _reader_waiting
    cdef public bint _writer_waiting
    cdef public bint _reader_done
    cdef public bint _buf_lent
    cdef public bint _writer_done
    cdef public bint _upgraded
    cdef public bint _lost
    cdef public object _handoff
    cdef public object _linger
    cdef public object _probe
    cdef public bint _finished
    cdef public object _closed

    cpdef buffer_updated(self, nbytes)

    @cython.locals(start=Py_ssize_t)
    cdef _consume(self, Py_ssize_t consumed)

    cdef _after_read(self, bint lent)


cdef class ServerDriver(Driver):
    cdef public object _connections
    cdef public tuple _timeouts
    cdef public int _timer_kind
    cdef public double _deadline
    cdef public _Clock _clock
    cdef public object _bucket
    cdef public object _heads
    cdef public object _dates

    # The steady read calls the connection's read_steadily directly (a C call).
    @cython.locals(
        conn=CServerConnection, start=Py_ssize_t, end=Py_ssize_t, consumed=Py_ssize_t,
        kind=int, steady=bint,
    )
    cpdef buffer_updated(self, nbytes)

    cdef _wait_for_input(self, int kind, bint active)

    @cython.locals(timeout=object)
    cdef _wait_for(self, int kind, bint active)
