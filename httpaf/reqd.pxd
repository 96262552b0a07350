# Declarations for compiling reqd.py with Cython (pure Python mode: the .py stays
# the one source; see docs/architecture.md, "The compiled connection layer").
# Fields are C slots instead of __slots__ descriptors; every field stays readable
# and writable from Python (``public``).

cimport cython

from httpaf._serializer cimport Serializer as CSerializer
from httpaf.server_connection cimport ServerConnection


cdef class Reqd:
    cdef public object request
    cdef public object body
    cdef public bint persistent
    cdef public ServerConnection _conn
    cdef public int _state
    cdef public object _writer
    cdef public object _response
    cdef public object _error
    cdef public object _pending_error
    cdef public bint _expect_continue
    cdef public bint _upgradable
    cdef public object _on_upgrade
    cdef public bint _keep_alive

    # A bytes body goes to the serializer in one C call.
    @cython.locals(serializer=CSerializer)
    cpdef respond_with_bytes(self, response, body)
