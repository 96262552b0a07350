"""Whether the compiled modules may be used: the one place that reads the environment.

``HTTPAF_NO_EXTENSIONS=1`` (any value but empty or ``0``) forces the pure-Python
modules everywhere. Each layer that has compiled modules picks them with a plain
import guarded by :data:`NO_EXTENSIONS` (see ``docs/architecture.md``, "Compiled and
pure").
"""

from __future__ import annotations

import os

__all__ = ["NO_EXTENSIONS"]

#: True when ``HTTPAF_NO_EXTENSIONS`` asks for pure Python.
NO_EXTENSIONS = os.environ.get("HTTPAF_NO_EXTENSIONS", "") not in ("", "0")
