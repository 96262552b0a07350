"""Build httpaf's optional Cython extensions.

All metadata lives in pyproject.toml; this file only adds the C extensions.
They are optional: when they cannot be built, httpaf falls back to its
pure-Python implementation, the install still succeeds, and a warning is
printed (pip shows a build's output with ``pip install -v``).

  HTTPAF_NO_EXTENSIONS=1    build no extensions at all (a pure py3-none-any wheel)
  Cython installed          the usual case: Cython is a build requirement, so the
                            .pyx files are compiled to C by the Cython of the build
  no Cython                 build from generated httpaf/_*.c files if there are any
                            (the sdist ships none), else pure Python with a warning
"""

import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

BUILD_ERRORS = (CCompilerError, ExecError, PlatformError, OSError, ValueError)


def no_extensions() -> bool:
    return os.environ.get("HTTPAF_NO_EXTENSIONS", "") not in ("", "0")


def warn(reason: object) -> None:
    bar = "*" * 75
    print(
        f"\n{bar}\nWARNING: httpaf's C extensions could not be built:\n  {reason}\n"
        "httpaf will use its pure-Python implementation (slower, same behaviour).\n"
        f"{bar}\n",
        file=sys.stderr,
    )


class optional_build_ext(build_ext):
    """build_ext that warns instead of failing."""

    def run(self) -> None:
        try:
            super().run()
        except BUILD_ERRORS as exc:
            warn(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except BUILD_ERRORS as exc:
            warn(f"{ext.name}: {exc}")
            self.failed = [*getattr(self, "failed", []), ext.name]

    def copy_extensions_to_source(self) -> None:
        # inplace / editable builds copy each .so into httpaf/: skip the failed ones
        failed = getattr(self, "failed", [])
        self.extensions = [e for e in self.extensions if e.name not in failed]
        super().copy_extensions_to_source()


def forget_stale_c(py_extensions: list[Extension]) -> None:
    """Remove the generated C of compiled .py modules older than any declaration.

    Cython's change detection looks for a .pxd beside the source only, so it would not
    see a change to _compiled/<name>.pxd or to a .pxd it cimports: the C is made again.
    """
    declarations = glob.glob("httpaf/**/*.pxd", recursive=True) + glob.glob("httpaf/*.pxi")
    newest = max((os.path.getmtime(p) for p in declarations), default=0.0)
    for ext in py_extensions:
        c_file = os.path.splitext(ext.sources[0])[0] + ".c"
        if os.path.exists(c_file) and os.path.getmtime(c_file) < newest:
            os.remove(c_file)


def extensions() -> list[Extension]:
    if no_extensions():
        return []
    # -g0: no debug information in the shared objects (it would make them 5x larger);
    # MSVC adds none unless asked.
    args = [] if sys.platform == "win32" else ["-O3", "-g0"]

    def make(sources: list[str]) -> list[Extension]:
        return [
            Extension(
                "httpaf." + os.path.splitext(os.path.basename(src))[0],
                [src],
                extra_compile_args=args,
            )
            for src in sources
        ]

    pyx = sorted(glob.glob("httpaf/_*.pyx"))
    # Plain Python modules of a layer that has a _compiled/ package are compiled too,
    # in Cython's pure Python mode, into that package under the same name: the
    # declarations are _compiled/<name>.pxd, the source ../<name>.py, which stays the
    # pure build (docs/architecture.md, "Compiled and pure").
    def compiled_build(pxd: str) -> Extension:
        folder, name = os.path.split(pxd)  # httpaf/<layer>/_compiled, <name>.pxd
        source = os.path.join(os.path.dirname(folder), name[:-4] + ".py")
        module = os.path.splitext(pxd)[0].replace(os.sep, ".")
        return Extension(module, [source], extra_compile_args=args)

    py = [compiled_build(p) for p in sorted(glob.glob("httpaf/*/_compiled/*.pxd"))]
    forget_stale_c(py)
    if pyx:
        try:
            from Cython.Build import cythonize
        except ImportError:
            pass  # fall through to generated .c files, if any
        else:
            directives = {
                "language_level": 3,
                "boundscheck": False,
                "wraparound": False,
                "cdivision": True,
                "initializedcheck": False,
            }
            try:
                return cythonize(make(pyx), compiler_directives=directives) + cythonize(
                    py,
                    # The .py modules keep Python semantics: their annotations are for
                    # mypy (``int`` is any int), C types come from the .pxd only; and
                    # negative indexes and bounds checks stay on.
                    compiler_directives={"language_level": 3, "annotation_typing": False},
                )
            except Exception as exc:  # Cython compile error: keep going without
                warn(f"cythonize failed: {exc}")
                return []
    # No Cython: use C sources generated beforehand (the sdist ships none).
    c_files = sorted(glob.glob("httpaf/_*.c"))
    if pyx and not c_files:
        warn("Cython is not installed and no generated .c files were found")
    return make(c_files)


setup(ext_modules=extensions(), cmdclass={"build_ext": optional_build_ext})
