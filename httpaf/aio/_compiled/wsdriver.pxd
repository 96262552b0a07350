# C declarations for the compiled build of ../wsdriver.py (see __init__.py here). Fields
# are C slots; every field stays readable and writable from Python (``public``). The
# state machine is the compiled one: its per-message methods are C calls.

cimport cython

from httpaf.websocket._compiled.connection cimport WebSocketConnection as CConnection


cdef class WebSocketDriver:
    cdef public CConnection conn
    cdef public object loop
    cdef public object transport
    cdef public object request
    cdef public object subprotocol
    cdef public object ping_interval
    cdef public object ping_timeout
    cdef public object close_timeout
    cdef public Py_ssize_t max_queue
    cdef public object on_message
    cdef public object close_event
    cdef public object close_timer
    cdef public object ping_timer
    cdef public object pong_timer
    cdef public double ping_sent_at
    cdef public double last_ping_rtt
    cdef public object _ping_payload
    cdef public dict _pings
    cdef public object _handler
    cdef public object _connections
    cdef public object _queue
    cdef public object _receiver
    cdef public bytes _pending
    cdef public bint _read_paused
    cdef public bint _write_paused
    cdef public list _drain
    cdef public bint _lost
    cdef public object _closed
    cdef public object task
    cdef public object shutdown_code
    cdef public object _view
    cdef public bytearray _shared

    @cython.locals(conn=CConnection, pos=Py_ssize_t, used=Py_ssize_t, events=list)
    cpdef _feed(self, object buf, Py_ssize_t end)

    @cython.locals(kind=object, waiting=Py_ssize_t)
    cpdef _dispatch(self, list events)

    @cython.locals(conn=CConnection)
    cpdef _flush(self)

    @cython.locals(conn=CConnection)
    cpdef send_nowait(self, object data)
