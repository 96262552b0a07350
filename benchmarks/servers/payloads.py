"""The response bodies, shared by every benchmark server."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from benchmark import HELLO, TEXT  # noqa: E402  (examples/benchmark.py)

ALICE = TEXT

__all__ = ["HELLO", "ALICE"]
