"""The compiled build of the WebSocket state machine.

``setup.py`` compiles ``../connection.py`` with Cython (pure Python mode) into this
package under the same name; ``connection.pxd`` here declares its C types. The
``.py`` file stays the one source and the pure-Python build; ``httpaf.websocket``
picks this build when it is present (see ``docs/architecture.md``, "Compiled and
pure").
"""
