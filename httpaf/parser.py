"""The request and response parsers: the Cython extension, or its pure-Python twin.

See :mod:`httpaf._parser_py` for the contract both implement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import load

if TYPE_CHECKING:  # both implementations have the API of the stubs in _parser.pyi
    from ._parser import (
        FORBIDDEN_TRAILERS,
        RequestParser,
        ResponseParser,
        borrow_request_parser,
        lend_request_parser,
    )

    implementation: str
else:
    _module, implementation = load("parser")

    RequestParser = _module.RequestParser
    ResponseParser = _module.ResponseParser
    FORBIDDEN_TRAILERS = _module.FORBIDDEN_TRAILERS
    borrow_request_parser = _module.borrow_request_parser
    lend_request_parser = _module.lend_request_parser

__all__ = [
    "RequestParser",
    "ResponseParser",
    "FORBIDDEN_TRAILERS",
    "borrow_request_parser",
    "implementation",
    "lend_request_parser",
]
