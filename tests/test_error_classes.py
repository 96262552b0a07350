"""Errors are classified by the first bad byte, not by a limit (RFC 9112 §3, §5).

A request line or field line holding a byte no grammar allows is a 400 as soon as that
byte arrives, before any length limit can fire; a method token longer than any method
is a 501, never a 414; 414 is only for a request-target that is too long, 431 only for
valid field lines that are too many or too large. The same error comes out at every
split of the input into two reads, and byte by byte, in both implementations.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from httpaf import Config

from helpers import parse_pieces

SMALL = Config(max_request_line=64, max_field_size=64, max_head_size=256, max_headers=4)
HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n"

CASES = [
    # (name, input, status, message, the index of the byte that decides it, or None
    #  when only a limit or the end of the line can)
    ("NUL in the method", b"GE\x00T" + b"A" * 100, 400, "invalid character in method", 2),
    ("a method longer than any", b"A" * 100, 501, "method too long", 32),
    ("a long method, then SP", b"A" * 40 + b" / HTTP/1.1\r\n", 501, "method too long", 32),
    ("an empty method", b" / HTTP/1.1\r\n", 400,
     "request line is not 'method SP target SP version'", 0),
    ("NUL in the target", b"GET /a\x00" + b"b" * 100, 400,
     "invalid character in request target", 6),
    ("DEL in the target", b"GET /a\x7f HTTP/1.1\r\n", 400,
     "invalid character in request target", 6),
    ("obs-text in the target", b"GET /\xe9 HTTP/1.1\r\n", 400,
     "invalid character in request target", 5),
    ("a long target", b"GET /" + b"b" * 100, 414, "request line too long", None),
    ("a bad version byte", b"GET / HTTX/1.1\r\n", 400, "invalid HTTP version", 9),
    ("an unsupported version", b"GET / HTTP/2.0\r\n", 505, "unsupported HTTP version HTTP/2.0", None),
    ("bare CR in the request line", b"GET / HTTP/1.1\rX", 400, "bare CR in request line", None),
    ("bare LF in the request line", b"GET /\n", 400, "bare LF in request line", 5),
    ("space in a field name", HEAD + b"Bad Name: " + b"x" * 100, 400,
     "whitespace between header field name and colon", len(HEAD) + 3),
    ("NUL in a field name", HEAD + b"B\x00: x\r\n\r\n", 400,
     "invalid character in header field name", len(HEAD) + 1),
    ("NUL in a field value", HEAD + b"X: a\x00" + b"x" * 100, 400,
     "invalid character '\\x00' in header section", len(HEAD) + 4),
    ("a control in a long value", HEAD + b"X: " + b"x" * 50 + b"\x01" + b"x" * 100, 400,
     "invalid character '\\x01' in header section", len(HEAD) + 53),
    ("obs-fold", HEAD + b" folded\r\n\r\n", 400, "obsolete line folding in header section",
     len(HEAD)),
    ("bare CR in a field line", HEAD + b"X: a\rb" + b"x" * 100, 400,
     "bare CR in header section", None),
    ("a long valid value", HEAD + b"X: " + b"x" * 100, 431, "header field too large", None),
    ("too many valid fields", HEAD + b"A: b\r\n" * 5 + b"\r\n", 431, "too many header fields", None),
]


@pytest.mark.parametrize(
    ("data", "status", "message", "decided_at"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_same_error_at_every_split(
    wire: SimpleNamespace, data: bytes, status: int, message: str, decided_at: int | None
) -> None:
    expected = ("error", status, message)
    outcomes = {
        "whole": parse_pieces(wire.RequestParser(SMALL), [data])[-1],
        "byte by byte": parse_pieces(wire.RequestParser(SMALL), [data[i : i + 1] for i in range(len(data))])[-1],
    }
    for cut in range(1, len(data)):
        outcomes[f"split at {cut}"] = parse_pieces(wire.RequestParser(SMALL), [data[:cut], data[cut:]])[-1]
    assert {name: outcome for name, outcome in outcomes.items() if outcome != expected} == {}


@pytest.mark.parametrize(
    ("data", "status", "message", "decided_at"),
    [case[1:] for case in CASES if case[4] is not None],
    ids=[case[0] for case in CASES if case[4] is not None],
)
def test_a_bad_byte_is_an_error_as_soon_as_it_arrives(
    wire: SimpleNamespace, data: bytes, status: int, message: str, decided_at: int
) -> None:
    """Up to the byte before it, no error (the parser waits for more); with it, the
    error, though the line is neither complete nor at its limit."""
    assert parse_pieces(wire.RequestParser(SMALL), [data[:decided_at]])[-1] is None
    assert parse_pieces(wire.RequestParser(SMALL), [data[: decided_at + 1]])[-1] == (
        "error", status, message
    )


def test_a_hundred_and_more_fields_are_accepted_by_default(wire: SimpleNamespace) -> None:
    fields = b"".join(b"X-Field-%d: %d\r\n" % (i, i) for i in range(150))
    events = parse_pieces(wire.RequestParser(Config()), [HEAD + fields + b"\r\n"])
    request = events[0]
    assert len(request.headers) == 151 and events[-1] is None
