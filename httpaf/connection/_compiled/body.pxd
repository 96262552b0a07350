# C declarations for the compiled build of ../body.py (see __init__.py here). Fields
# are C slots; every field stays readable and writable from Python (``public``).

from httpaf._serializer cimport Serializer as CSerializer


cdef class BodyReader:
    cdef public object _on_read
    cdef public object _on_eof
    cdef public object _pieces
    cdef public object _buffered
    cdef public bint _eof
    cdef public bint _closed
    cdef public object trailers
    cdef public object _on_schedule
    cdef public object _first_read
    cdef public object _error


cdef class BodyWriter:
    cdef public CSerializer _serializer
    cdef public object _length
    cdef public object _remaining
    cdef public bint _discard
    cdef public object _on_close
    cdef public bint _closed
