"""atheris harness over the request parser, the response parser and the chunked decoder.

    python tests/fuzz/fuzz_parsers.py request  [libFuzzer flags] [corpus dirs]
    python tests/fuzz/fuzz_parsers.py response ...
    python tests/fuzz/fuzz_parsers.py chunked  ...

Each input (format in ``harness.decode``: a flags byte, read boundaries, then the HTTP
bytes) goes through both implementations with the same reads; any difference in events,
consumed counts or errors, a split-dependent result, a hang or an exception other than
``ParseError`` is a crash. Every input is also compared with h11 when both accept it
(``harness.compare_h11``; responses with ``harness.compare_h11_response``, h11's client
having sent the request the flags name). The pure-Python parser is instrumented for
coverage; the Cython twin runs uninstrumented beside it.

``make fuzz SECONDS=N`` runs every target for N seconds (``tests/fuzz/run.py``).
"""

from __future__ import annotations

import os
import sys

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(os.path.dirname(HERE))]

with atheris.instrument_imports(include=["httpaf"]):
    import httpaf._parser_pure  # noqa: F401
    import httpaf.model.message  # noqa: F401

import harness  # noqa: E402

_BLANK_LINES = (b"\r\n\r\n", b"\n\n", b"\r\n\n", b"\n\r\n")


def _maybe_h11(data: bytes) -> None:
    # h11 needs a blank line to complete a head: skip it (and its cost) otherwise.
    if any(mark in data for mark in _BLANK_LINES):
        harness.compare_h11(data)


def fuzz_request(raw: bytes) -> None:
    case = harness.decode(raw)
    harness.check("request", case)
    if case.config is harness.DEFAULT:
        _maybe_h11(case.data)


def fuzz_response(raw: bytes) -> None:
    case = harness.decode(raw)
    harness.check("response", case)
    if case.config is harness.DEFAULT and any(mark in case.data for mark in _BLANK_LINES):
        harness.compare_h11_response(case.data, case.method, case.eof)


def fuzz_chunked(raw: bytes) -> None:
    case = harness.decode(raw)
    harness.check("chunked", case)
    if case.config is harness.DEFAULT:
        harness.compare_h11(harness.CHUNKED_HEAD + case.data)


TARGETS = {"request": fuzz_request, "response": fuzz_response, "chunked": fuzz_chunked}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags] [corpus]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
