# The frame reader's declarations, so that the compiled WebSocket state machine
# (websocket/_compiled/connection.pxd) calls ``read`` and ``take_message`` in C. The
# implementation and the documentation are in _websocket.pyx.

from libc.stdint cimport uint8_t


cdef struct _Utf8:
    int need  # continuation bytes still to come in the current sequence
    uint8_t lo  # the range of the next continuation byte (RFC 3629 §4)
    uint8_t hi


cdef class FrameReader:
    cdef readonly bint client
    cdef public Py_ssize_t max_frame_size
    cdef public Py_ssize_t max_message_size
    cdef public bint rsv1_allowed
    cdef readonly Py_ssize_t consumed
    cdef readonly int opcode
    cdef readonly bint compressed
    # The frame being read.
    cdef bint _in_frame
    cdef int _frame_opcode
    cdef bint _fin
    cdef bint _masked
    cdef uint8_t _key[4]
    cdef int _phase
    cdef unsigned long long _remaining
    # The data message being read.
    cdef bint _in_message
    cdef int _message_opcode
    cdef bint _message_compressed
    cdef Py_ssize_t _size
    cdef bint _validate
    cdef _Utf8 _utf8
    cdef uint8_t* _acc  # the message's payload, assembled (PyMem)
    cdef Py_ssize_t _acc_len
    cdef Py_ssize_t _acc_cap
    cdef object _whole  # a message that came whole in one frame, made at once
    cdef uint8_t _control[125]
    cdef Py_ssize_t _control_len
    cdef object _payload

    cpdef int read(self, buf, Py_ssize_t start=*, object end=*) except -1
    cpdef object take_message(self)
    cdef Py_ssize_t _read_head(
        self, const uint8_t* data, Py_ssize_t pos, Py_ssize_t stop
    ) except -1
    cdef void _start_message(self, int opcode, bint compressed) noexcept
    cdef int _whole_message(self, const uint8_t* src, Py_ssize_t n) except -1
    cdef void _unmask_into(self, uint8_t* dst, const uint8_t* src, Py_ssize_t n) noexcept
    cdef int _take(self, const uint8_t* src, Py_ssize_t n) except -1
    cdef int _end_message(self) except -1
