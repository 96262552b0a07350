"""Run the test suite against the *installed* httpaf, never the source tree.

Copies tests/, examples/, docs/ and pyproject.toml (for pytest's settings) from the
source tree into a temporary directory, checks from there that ``import httpaf``
finds an installed package (not this tree) with the expected implementation, then
runs pytest in that directory. Used by ``make wheel-check`` and by cibuildwheel's
test-command; works on Linux, macOS and Windows.

    python .ci/test_installed.py [--expect cython|python|any] [--pure-too] [-- PYTEST_ARGS]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ["tests", "examples", "docs", "pyproject.toml"]
PROBE = "import httpaf, os; print(os.path.realpath(httpaf.__file__)); print(httpaf.implementation)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect", choices=["cython", "python", "any"], default="any")
    parser.add_argument(
        "--pure-too",
        action="store_true",
        help="run the suite a second time with HTTPAF_NO_EXTENSIONS=1",
    )
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HTTPAF_NO_EXTENSIONS")}
    with tempfile.TemporaryDirectory(prefix="httpaf-tests-") as tmp:
        work = Path(tmp)
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    work / name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".work", ".hypothesis"),
                )
            elif source.is_file():
                shutil.copy2(source, work / name)

        probe = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=work, env=env, capture_output=True, text=True
        )
        if probe.returncode != 0:
            print(probe.stderr, file=sys.stderr)
            print("error: httpaf is not installed in this environment", file=sys.stderr)
            return 1
        location, implementation = probe.stdout.split()
        print(f"httpaf from {location} ({implementation})")
        if Path(location).is_relative_to(ROOT):
            print(f"error: httpaf was imported from the source tree {ROOT}", file=sys.stderr)
            return 1
        if args.expect != "any" and implementation != args.expect:
            print(
                f"error: httpaf.implementation is {implementation!r}, expected {args.expect!r}",
                file=sys.stderr,
            )
            return 1

        pytest = ["-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"]
        command = [sys.executable, *pytest, *args.pytest_args]
        status = subprocess.run(command, cwd=work, env=env).returncode
        if status == 0 and args.pure_too:
            print("again with HTTPAF_NO_EXTENSIONS=1")
            pure = dict(env, HTTPAF_NO_EXTENSIONS="1")
            status = subprocess.run(command, cwd=work, env=pure).returncode
        return status


if __name__ == "__main__":
    sys.exit(main())
