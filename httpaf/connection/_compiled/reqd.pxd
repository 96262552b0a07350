# C declarations for the compiled build of ../reqd.py (see __init__.py here). Fields
# are C slots; every field stays readable and writable from Python (``public``).

cimport cython

from httpaf._serializer cimport Serializer as CSerializer

# Module globals the request path reads, as C variables: a module-global lookup is a
# dict lookup on every use from Python 3.12 (Cython's cache of them needs dict
# versions, which 3.12 deprecated).
cdef int WAITING, STREAMING, UPGRADED, COMPLETE
cdef object byte_view


@cython.final
cdef class Reqd:
    cdef public object request
    cdef public object body
    cdef public bint persistent
    cdef public bint upgradable
    cdef public object _conn
    cdef public CSerializer _serializer
    cdef public int _state
    cdef public object _writer
    cdef public object _response
    cdef public object _error
    cdef public object _pending_error
    cdef public bint _expect_continue
    cdef public object _on_upgrade

    # A whole response goes to the serializer in one C call.
    cpdef respond_with_bytes(self, response, body)
    cpdef _respond_whole(self, response, data, bint copy)


@cython.locals(reqd=Reqd)
cpdef Reqd make_reqd(
    conn, CSerializer serializer, request, body, bint keep_alive, bint expect_continue,
    bint upgradable,
)
