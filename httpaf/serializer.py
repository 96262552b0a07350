"""The Faraday-style serializer: the Cython extension, or its pure-Python twin.

See :mod:`httpaf._serializer_py` for the contract both implement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import load

if TYPE_CHECKING:  # both implementations have the API of the stubs in _serializer.pyi
    from ._serializer import Serializer, check_field, check_reason

    implementation: str
else:
    _module, implementation = load("serializer")

    Serializer = _module.Serializer
    check_field = _module.check_field
    check_reason = _module.check_reason

__all__ = ["Serializer", "check_field", "check_reason", "implementation"]
