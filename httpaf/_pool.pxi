# A bounded stack of shared idle objects (included by _parser.pyx and _serializer.pyx):
# the parsers idle connections lend, the copy buffers of idle serializers.
#
# Why not a list's append and pop: a connection takes one object and gives it back on
# every request, so the list goes from one item to none and back each time, and CPython
# shrinks a list that empties to no storage at all (via the C allocator, not pymalloc),
# then allocates again on the next append: a realloc, a malloc and the allocator's lock
# per request. Here the slots are allocated once and only the count moves.

@cython.final
cdef class _Pool:
    cdef list _items  # ``limit`` slots: the first ``_count`` hold objects, the rest None
    cdef Py_ssize_t _count

    def __cinit__(self, Py_ssize_t limit):
        self._items = [None] * limit
        self._count = 0

    cdef inline object take(self):
        """The object pushed last, or None when the pool is empty."""
        if self._count == 0:
            return None
        self._count -= 1
        item = self._items[self._count]
        self._items[self._count] = None
        return item

    cdef inline bint give(self, item):
        """Keep ``item``; False (and not kept) when the pool is full."""
        if self._count == PyList_GET_SIZE(self._items):
            return False
        self._items[self._count] = item
        self._count += 1
        return True

    cdef list drain(self):
        """Empty the pool: the objects it held, oldest first."""
        items = self._items[: self._count]
        for i in range(self._count):
            self._items[i] = None
        self._count = 0
        return items
