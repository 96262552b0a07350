# Reading and writing ``__slots__`` attributes of plain Python classes by their offset
# (included by _parser.pyx and _serializer.pyx): a member descriptor records where its
# object pointer lives, so C code can skip the attribute lookup.

from cpython.object cimport PyObject

from types import MemberDescriptorType

cdef extern from "Python.h":
    ctypedef int (*descrsetfunc)(object, object, object) except -1
    ctypedef struct TypeSlots "PyTypeObject":
        descrsetfunc tp_descr_set
    TypeSlots* Py_TYPE(object)
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef extern from *:
    """
    /* structmember.h's values, which Python.h does not always define. */
    #define HTTPAF_T_OBJECT_EX 16
    #define HTTPAF_READONLY 1
    """
    enum:
        HTTPAF_T_OBJECT_EX
        HTTPAF_READONLY

cdef Py_ssize_t _slot_offset(object descriptor, object owner):
    """Where a ``__slots__`` attribute of ``owner`` lives in its objects, or -1."""
    if (
        type(descriptor) is not MemberDescriptorType
        or descriptor.__objclass__ is not owner
        or (<PyMemberDescrObject*>descriptor).d_member.type != HTTPAF_T_OBJECT_EX
        or (<PyMemberDescrObject*>descriptor).d_member.flags & HTTPAF_READONLY
    ):
        return -1
    return (<PyMemberDescrObject*>descriptor).d_member.offset


cdef inline PyObject* _slot(object obj, Py_ssize_t offset):
    """The object pointer in the slot at ``offset`` of ``obj`` (borrowed; NULL if unset)."""
    return (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
