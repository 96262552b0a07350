"""The compiled build of the connection layer.

``setup.py`` compiles ``../body.py``, ``../reqd.py``, ``../server.py`` and
``../client.py`` with Cython (pure Python mode) into this package, under the same
names; each ``.pxd`` here declares the C types of one of them (cdef classes with C
fields, typed locals on the hot path). The ``.py`` files stay the one source and the
pure-Python build: a sibling import in them (``from .reqd import Reqd``) finds the
compiled sibling here and the pure one there. ``httpaf.connection`` picks this build
when it is present (see ``docs/architecture.md``, "Compiled and pure").
"""
