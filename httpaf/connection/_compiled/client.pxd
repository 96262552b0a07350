# C declarations for the compiled build of ../client.py (see __init__.py here). Fields
# are C slots; every field stays readable and writable from Python (``public``).

from httpaf._parser cimport ResponseParser as CResponseParser
from httpaf._serializer cimport Serializer as CSerializer


cdef class _Respd:
    cdef public object request
    cdef public object on_response
    cdef public object on_error
    cdef public object on_interim
    cdef public object body
    cdef public object writer
    cdef public bint done
    cdef public object sent_at
    cdef public bint started
    cdef public int interim


cdef class ClientConnection:
    cdef public object config
    cdef public CResponseParser _parser
    cdef public CSerializer _serializer
    cdef public object _queue
    cdef public bint _reader_closed
    cdef public bint _persistent
    cdef public bint _upgraded
    cdef public object _dropped
    cdef public object _reader_waiter
    cdef public object _writing
    cdef public object _written
    cdef public bint views_lent
