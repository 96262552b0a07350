"""The compiled build of the runtime's connection drivers.

``setup.py`` compiles ``../driver.py`` with Cython (pure Python mode) into this
package as ``driver``; ``driver.pxd`` here declares its C types. ``..protocols`` picks
this build when it is present (``docs/architecture.md``, "Compiled and pure").
"""
