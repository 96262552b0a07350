"""Inputs the fuzzers found, kept as regression tests.

Each entry is the minimal input (in the harness's format, ``tests/fuzz/harness.py``)
and what must hold for it. Harness findings that turned out to be h11 being stricter
than RFC 9112 are kept too, so that the classification stays right. A real parser bug
is a test marked ``xfail(strict=True)`` with the bug in its reason until it is fixed,
then a plain test.
"""

from __future__ import annotations

import pytest
from fuzz import harness

pytest.importorskip("h11")


# -- h11 refuses, RFC 9112 allows, we accept -----------------------------------------------

# atheris, request target, 2.97M inputs in: BWS before a chunk extension's ";". RFC 9112
# §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
# h11's chunk header regex is ``size (;.*)? OWS CRLF`` and refuses it.
# (Its Host value, once 0xB6 "h", is now " h": a Host outside ASCII is refused since.)
BWS_CHUNK_EXT = bytes.fromhex(
    "0b001c002a005354202f20485454502f312e310d0a486f73743a20680d0a5472616e736665722d456e636f"
    "64696e673a206368756e6b65640d0a0d0a35203b6578743d310d0a68656c6c6f0d0a300d0a582d546f7374"
    "3a20680d0a735466322d456e696e673a206f0d0a636f3a20760d0a0d0a"
)


def test_bws_before_chunk_extension_is_accepted_by_both_implementations() -> None:
    case = harness.decode(BWS_CHUNK_EXT)
    log = harness.check("request", case)
    assert ("data", b"hello") in harness.messages(log)
    assert harness.compare_h11(case.data) == "lenient:BWS before a chunk extension"


@pytest.mark.parametrize("line", [b"5 ;a", b"5\t;a", b"5 ; a = b", b'5;a="q" ;b'])
def test_bws_in_chunk_extensions(line: bytes) -> None:
    data = line + b"\r\nhello\r\n0\r\n\r\n"
    log = harness.check("chunked", harness.decode(harness.encode(data)))
    assert harness.messages(log)[-2:] == [("data", b"hello"), ("end", None)]


# -- status-line error messages ---------------------------------------------------------------

BAD_REASON = [b"HTTP/1.1 200 O\rK\r\n\r\n", b"HTTP/1.1 200 O\x00K\r\n\r\n",
              b"HTTP/1.0 404 \x7f\r\n\r\n"]


@pytest.mark.parametrize("data", BAD_REASON)
def test_control_character_in_reason_phrase_is_refused_by_both(data: bytes) -> None:
    log = harness.check("response", harness.decode(harness.encode(data, eof=True)))
    assert log[-1][:2] == ("error", 400)


# Found with the seed corpus: both parsers said "unsupported HTTP version HTTP/1.1" for a
# valid version followed by a CTL in the reason phrase (fixed in eefaf29).
@pytest.mark.parametrize("data", BAD_REASON)
def test_reason_phrase_error_does_not_blame_the_version(data: bytes) -> None:
    log = harness.check("response", harness.decode(harness.encode(data, eof=True)))
    assert log[-1][:3] == ("error", 400, "invalid character in status line"), log[-1]
