"""What the fuzzers check, shared by the atheris harness and the hypothesis tests.

One input is run through the request parser, the response parser or the chunked
decoder of both implementations (Cython and pure Python), split into reads the same
way, and the two logs (events, ``consumed`` counts, parser attributes, errors) must be
identical. The same bytes fed in one read must give the same messages and the same
error as any split (the parse() contract: errors are found in byte order). On request
inputs that h11 also accepts as a complete request, method, target, headers and body
must agree with h11; the cases h11 accepts and we reject (or the reverse) are sorted
into known classes, and anything unclassified is a finding.

Input format (``decode``): byte 0 holds the flags, ``cuts`` two-byte big-endian read
boundaries follow, and the rest is the HTTP data::

    bit 0-2  number of cuts (0-7)     bit 3  eof after the last read
    bit 4    the small-limits Config  bit 5-6 the request method a response answers

The work per input is bounded: at most ``MAX_EVENTS`` parse() calls per read, and a
parser that neither consumes nor returns ``None`` is a hang.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from httpaf.model.config import Config
from httpaf.model.errors import ParseError
from httpaf.model.message import EndOfMessage, Request, Response

PY: Any = importlib.import_module("httpaf._parser_pure")
try:
    CY: Any = importlib.import_module("httpaf._parser")
except ImportError:  # pragma: no cover - the extension is always built in CI
    CY = None

MAX_EVENTS = 20_000
SMALL = Config(
    max_request_line=64,
    max_field_size=64,
    max_head_size=256,
    max_headers=6,
    max_chunk_line=32,
    max_trailer_size=64,
    max_trailers=3,
    max_body_size=512,
)
DEFAULT = Config()
METHODS = ("GET", "HEAD", "CONNECT", "POST")
CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
TARGETS = ("request", "response", "chunked")


class Finding(AssertionError):
    """A difference or a misbehaviour: the fuzzer's crash."""


@dataclass
class Case:
    """One decoded input."""

    data: bytes
    reads: list[bytes]
    eof: bool
    config: Config
    method: str


def decode(raw: bytes) -> Case:
    """Split a raw fuzz input into the flags, the reads and the data."""
    if not raw:
        return Case(b"", [b""], False, DEFAULT, "GET")
    flags = raw[0]
    ncuts = flags & 7
    body = raw[1:]
    cut_bytes, data = body[: 2 * ncuts], body[2 * ncuts :]
    cuts = sorted(
        int.from_bytes(cut_bytes[i : i + 2], "big") % (len(data) + 1)
        for i in range(0, len(cut_bytes) - 1, 2)
    )
    reads, last = [], 0
    for cut in cuts:
        reads.append(data[last:cut])
        last = cut
    reads.append(data[last:])
    return Case(
        data,
        reads,
        bool(flags & 8),
        SMALL if flags & 16 else DEFAULT,
        METHODS[(flags >> 5) & 3],
    )


def encode(data: bytes, cuts: tuple[int, ...] = (), eof: bool = False, small: bool = False,
           method: str = "GET") -> bytes:
    """The raw input that ``decode`` turns back into ``data`` cut at ``cuts``."""
    flags = len(cuts) | (8 if eof else 0) | (16 if small else 0) | (METHODS.index(method) << 5)
    return bytes([flags]) + b"".join(c.to_bytes(2, "big") for c in cuts) + data


# -- running one parser ------------------------------------------------------------------


def describe(event: Any) -> Any:
    """An event as plain data that compares across implementations."""
    if event is None:
        return None
    if isinstance(event, memoryview):
        return ("data", bytes(event))
    if isinstance(event, EndOfMessage):
        return ("end", None if event.trailers is None else event.trailers.to_list())
    if isinstance(event, Request):
        return ("request", str(event.method), event.target, str(event.version),
                event.headers.to_list())
    if isinstance(event, Response):
        return ("response", int(event.status), event.reason, str(event.version),
                event.headers.to_list())
    raise Finding(f"unexpected event {event!r}")


def run_parser(parser: Any, reads: list[bytes], eof: bool) -> list[Any]:
    """Feed ``reads`` as a runtime does (unconsumed bytes presented again); log it all."""
    log: list[Any] = []
    pending = bytearray()
    for i, piece in enumerate(reads):
        pending += piece
        last = eof and i == len(reads) - 1
        pos = 0
        for _ in range(MAX_EVENTS):
            try:
                event = parser.parse(pending, pos, len(pending), last)
            except ParseError as error:
                log.append(("error", error.status, error.message, parser.consumed))
                return log
            consumed = parser.consumed
            if consumed < 0 or pos + consumed > len(pending):
                raise Finding(f"consumed {consumed} outside the window at {pos}")
            log.append((describe(event), consumed))
            if event is not None:
                log.append(
                    ("attrs", parser.body_length, parser.keep_alive, parser.expect_continue,
                     parser.upgrade)
                    if isinstance(event, (Request, Response))
                    else ("idle", parser.is_idle)
                )
            pos += consumed
            if event is None:
                break
        else:
            raise Finding("parser made no progress (hang)")
        del pending[:pos]
    return log


def messages(log: list[Any]) -> list[Any]:
    """A log without read boundaries: heads, joined body bytes, ends and the error."""
    out: list[Any] = []
    for entry in log:
        if entry[0] == "error":
            out.append(entry[:3])
            continue
        event = entry[0]
        if not isinstance(event, tuple):
            continue
        if event[0] == "data":
            if out and out[-1][0] == "data":
                out[-1] = ("data", out[-1][1] + event[1])
            else:
                out.append(event)
        else:
            out.append(event)
    return out


def _new_parser(module: Any, kind: str, case: Case) -> Any:
    if kind == "response":
        parser = module.ResponseParser(case.config)
        parser.request_method = case.method
        return parser
    return module.RequestParser(case.config)


def check(kind: str, case: Case) -> list[Any]:
    """Run ``case`` through both implementations and a whole read; raise on a difference.

    ``kind`` is ``request``, ``response`` or ``chunked`` (a chunked request head is
    put before the data). Returns the pure implementation's log.
    """
    if kind == "chunked":
        case = Case(CHUNKED_HEAD + case.data, [CHUNKED_HEAD + case.reads[0], *case.reads[1:]],
                    case.eof, case.config, case.method)
    py_log = run_parser(_new_parser(PY, kind, case), case.reads, case.eof)
    if CY is not None:
        cy_log = run_parser(_new_parser(CY, kind, case), case.reads, case.eof)
        if cy_log != py_log:
            raise Finding(f"cython and pure differ:\n pure:   {py_log!r}\n cython: {cy_log!r}")
    if len(case.reads) > 1:
        whole = run_parser(_new_parser(PY, kind, case), [case.data], case.eof)
        if messages(whole) != messages(py_log):
            raise Finding(
                f"split reads change the result:\n whole: {messages(whole)!r}\n"
                f" split: {messages(py_log)!r}"
            )
    return py_log


# -- agreement with h11 ------------------------------------------------------------------

try:
    import h11
except ImportError:  # pragma: no cover
    h11 = None


@dataclass
class Parsed:
    """The first request of an input, as a parser saw it."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    trailers: list[tuple[str, str]]


def first_request_ours(data: bytes, config: Config = DEFAULT) -> Parsed | ParseError | None:
    """The first complete request in ``data`` (one read), an error, or None (incomplete)."""
    parser = PY.RequestParser(config)
    pos = 0
    head: Request | None = None
    body = b""
    for _ in range(MAX_EVENTS):
        try:
            event = parser.parse(data, pos, len(data), False)
        except ParseError as error:
            return error
        pos += parser.consumed
        if event is None:
            return None
        if isinstance(event, Request):
            head = event
            if parser.body_length == 0:
                break
        elif isinstance(event, memoryview):
            body += bytes(event)
        elif isinstance(event, EndOfMessage):
            trailers = event.trailers.to_list() if event.trailers is not None else []
            assert head is not None
            return Parsed(str(head.method), head.target, str(head.version),
                          head.headers.to_list(), body, trailers)
    else:
        raise Finding("parser made no progress (hang)")
    assert head is not None
    return Parsed(str(head.method), head.target, str(head.version), head.headers.to_list(),
                  b"", [])


def first_request_h11(data: bytes) -> Parsed | Exception | None:
    """The first complete request in ``data`` as h11 reads it, its error, or None."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
    head = None
    body = b""
    try:
        conn.receive_data(data)
        for _ in range(MAX_EVENTS):
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return None
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return Parsed(
                    head.method.decode("latin-1"),
                    head.target.decode("latin-1"),
                    "HTTP/" + head.http_version.decode("latin-1"),
                    [(n.decode("latin-1"), v.decode("latin-1")) for n, v in head.headers.raw_items()],
                    body,
                    [(n.decode("latin-1"), v.decode("latin-1"))
                     for n, v in event.headers.raw_items()],
                )
            else:
                return None
    except h11.RemoteProtocolError as error:
        return error
    return None


# Our error messages for inputs h11 accepts, and why we are right to refuse them
# (RFC 9112 / 9110). A message that matches none of these is a finding.
STRICTER = [
    ("bare LF", r"bare LF", "RFC 9112 §2.2: a recipient MAY accept a bare LF; we do not"),
    ("bare CR", r"bare CR", "RFC 9112 §2.2: a bare CR MUST be rejected or replaced by SP"),
    ("obs-fold", r"obsolete line folding",
     "RFC 9112 §5.2: a server MUST reject obs-fold with 400 or replace it by SP"),
    ("CL+TE", r"both Transfer-Encoding and Content-Length",
     "RFC 9112 §6.1: a server MAY reject a request with both; it MUST close after"),
    ("repeated CL", r"multiple Content-Length|invalid Content-Length",
     "RFC 9112 §6.3 (5): a list or repeated CL MAY be rejected; gunicorn/waitress CVEs"),
    ("TE coding", r"transfer coding|final transfer coding|chunked applied",
     "RFC 9112 §6.1/§7: unknown codings 501, chunked must be final and once"),
    ("TE on HTTP/1.0", r"Transfer-Encoding in an HTTP/1.0",
     "RFC 9112 §6.1: TE on 1.0 MUST be treated as faulty framing"),
    ("CTL in field value", r"invalid character '\\x",
     "RFC 9110 §5.5: field-vchar excludes CTLs; h11 lets them through"),
    ("version", r"unsupported HTTP version|invalid HTTP version",
     "RFC 9112 §2.3: only HTTP/1.0 and 1.1 are served (505)"),
    ("target form", r"target|CONNECT needs",
     "RFC 9112 §3.2: four forms, authority-form only for CONNECT, '*' only for OPTIONS"),
    ("Host", r"Host field", "RFC 9112 §3.2: exactly one Host, else 400"),
    ("Host value", r"invalid Host",
     "RFC 9112 §3.2, RFC 3986 §3.2.2: a Host is uri-host [':' port]; h11 takes any value"),
    ("chunk line", r"chunk-size line|missing CRLF after chunk",
     "RFC 9112 §7.1: chunk-ext grammar, no whitespace before CRLF, CRLF after data"),
    ("trailer", r"forbidden trailer|trailer field|trailer section",
     "RFC 9110 §6.5.1: framing and routing fields must not be trailers"),
    ("limits", r"too large|too long|too many", "our Config limits (431/413/414)"),
    ("empty line", r"bare CR before request line|request line is not",
     "RFC 9112 §3: exactly one SP between the three parts"),
    ("field name", r"field name|without a colon",
     "RFC 9112 §5.1: no whitespace before the colon; token names"),
]
_STRICTER = [(name, re.compile(pattern), why) for name, pattern, why in STRICTER]


def classify_stricter(error: ParseError) -> str | None:
    for name, pattern, _ in _STRICTER:
        if pattern.search(error.message):
            return name
    return None


def _strip(value: str) -> str:
    return value.strip(" \t")


def _normal(name: str, value: str) -> str:
    """h11 lower-cases Transfer-Encoding values; compare those without case."""
    value = value.strip(" \t")
    return value.lower() if name.lower() == "transfer-encoding" else value


def compare_h11(data: bytes) -> str:
    """Compare our first request with h11's; return the outcome class or raise Finding.

    Outcomes: ``agree``, ``both-reject``, ``incomplete`` (either side wants more),
    ``stricter:<class>`` (h11 accepts, we refuse for a known reason), ``lenient:<why>``
    (we accept, h11 refuses for a known reason of its own).
    """
    ours = first_request_ours(data)
    theirs = first_request_h11(data)
    if isinstance(ours, Parsed) and isinstance(theirs, Parsed):
        mine = (ours.method, ours.target, ours.version, ours.headers, ours.body)
        other = (theirs.method, theirs.target, theirs.version,
                 [(n, _normal(n, v)) for n, v in theirs.headers], theirs.body)
        mine = (*mine[:3], [(n, _normal(n, v)) for n, v in ours.headers], mine[4])
        if mine != other:
            raise Finding(f"h11 disagrees on {data!r}:\n ours: {mine!r}\n h11:  {other!r}")
        if ours.trailers != [(n, _strip(v)) for n, v in theirs.trailers]:
            raise Finding(f"h11 disagrees on trailers of {data!r}: {ours.trailers!r} vs "
                          f"{theirs.trailers!r}")
        return "agree"
    if isinstance(theirs, Parsed) and isinstance(ours, ParseError):
        name = classify_stricter(ours)
        if name is None:
            raise Finding(f"h11 accepts {data!r}, we refuse it: {ours!r}")
        return f"stricter:{name}"
    if isinstance(ours, Parsed) and isinstance(theirs, Exception):
        return f"lenient:{_lenient_reason(theirs, ours)}"
    if ours is None or theirs is None:
        if isinstance(ours, Parsed) or isinstance(theirs, Parsed):
            # One side has a complete request, the other waits: framing differs.
            if isinstance(theirs, Parsed) and ours is None:
                raise Finding(f"h11 completes {data!r}, we wait for more: {theirs!r}")
            return "incomplete"
        return "incomplete"
    return "both-reject"


# h11's error messages for requests we accept, and why accepting them is right.
LENIENT = [
    ("empty line before request line", r"^no request line received$",
     "RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line"),
    # h11's chunk header is ``size (;.*)? OWS CRLF``: no whitespace before the first ";".
    ("BWS before a chunk extension", r"^illegal chunk header: bytearray\(b'[0-9A-Fa-f]+[ \\t]+;",
     "RFC 9112 §7.1.1: chunk-ext = *( BWS \";\" BWS chunk-ext-name [ BWS \"=\" BWS chunk-ext-val ] )"),
]
_LENIENT = [(name, re.compile(pattern), why) for name, pattern, why in LENIENT]


def _lenient_reason(error: Exception, ours: Parsed) -> str:
    """Why h11 refused a request we accept; an unknown reason is a finding."""
    text = str(error)
    for name, pattern, _ in _LENIENT:
        if pattern.search(text):
            return name
    raise Finding(f"we accept what h11 refuses ({text}): {ours!r}")


# -- responses: agreement with h11 -------------------------------------------------------


@dataclass
class ParsedResponse:
    """The first final response of an input (and the interim ones before it)."""

    interim: list[int]
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes | None  # None: a tunnel or an upgrade (the rest is not HTTP)
    trailers: list[tuple[str, str]]


def first_response_ours(data: bytes, method: str, eof: bool) -> ParsedResponse | ParseError | None:
    """Our first final response in ``data`` (one read), an error, or None (incomplete)."""
    parser = PY.ResponseParser(DEFAULT)
    parser.request_method = method
    pos = 0
    interim: list[int] = []
    head: Response | None = None
    body = b""
    for _ in range(MAX_EVENTS):
        try:
            event = parser.parse(data, pos, len(data), eof)
        except ParseError as error:
            return error
        pos += parser.consumed
        if event is None:
            return None
        if isinstance(event, Response):
            if 100 <= event.status < 200 and event.status != 101:
                interim.append(int(event.status))
                continue
            head = event
            if parser.upgrade or parser.body_length == 0:
                return _parsed_response(interim, head, None if parser.upgrade else b"", [])
        elif isinstance(event, memoryview):
            body += bytes(event)
        elif isinstance(event, EndOfMessage):
            assert head is not None
            trailers = event.trailers.to_list() if event.trailers is not None else []
            return _parsed_response(interim, head, body, trailers)
    raise Finding("parser made no progress (hang)")


def _parsed_response(interim: list[int], head: Response, body: bytes | None,
                     trailers: list[tuple[str, str]]) -> ParsedResponse:
    return ParsedResponse(interim, int(head.status), head.reason, str(head.version),
                          head.headers.to_list(), body, trailers)


def first_response_h11(data: bytes, method: str, eof: bool) -> ParsedResponse | Exception | None:
    """The first final response in ``data`` as h11's client reads it, its error, or None."""
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=1 << 20)
    target = "h:443" if method == "CONNECT" else "/"
    # The request offers an upgrade, so a 101 reads as one on both sides: the parser
    # does not know the request's fields (ClientConnection refuses a 101 that answers
    # no offer; tests/test_client_distrust.py).
    fields = [("Host", "h"), ("Upgrade", "x"), ("Connection", "upgrade")]
    conn.send(h11.Request(method=method, target=target, headers=fields))
    conn.send(h11.EndOfMessage())
    interim: list[int] = []
    head = None
    body = b""
    try:
        conn.receive_data(data)
        if eof:
            conn.receive_data(b"")
        for _ in range(MAX_EVENTS):
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    return _h11_response(interim, event, None, [])
                interim.append(event.status_code)
            elif isinstance(event, h11.Response):
                head = event
            elif event is h11.PAUSED:
                # A 2xx to CONNECT: h11 switches protocols after the head.
                if head is None:
                    return None
                return _h11_response(interim, head, None, [])
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return _h11_response(interim, head, body, list(event.headers.raw_items()))
            else:
                return None
    except h11.RemoteProtocolError as error:
        return error
    return None


def _h11_response(interim: list[int], head: Any, body: bytes | None,
                  trailers: list[tuple[bytes, bytes]]) -> ParsedResponse:
    return ParsedResponse(
        interim, head.status_code, head.reason.decode("latin-1"),
        "HTTP/" + head.http_version.decode("latin-1"),
        [(n.decode("latin-1"), v.decode("latin-1")) for n, v in head.headers.raw_items()],
        body,
        [(n.decode("latin-1"), v.decode("latin-1")) for n, v in trailers],
    )


# Response-side refusals of ours that h11 does not share, and why we are right to
# refuse (the client distrusts servers: SECURITY.md, "What the client refuses").
# The request-side classes (bare CR/LF, obs-fold, controls, limits, chunk lines, trailers) apply as well.
STRICTER_RESPONSE = [
    ("framing on a bodiless status", r"framing fields in a 1\d\d response|framing fields in a 204",
     "RFC 9110 §8.6, RFC 9112 §6.1: a server MUST NOT send CL or TE in a 1xx or 204"),
    ("TE on HTTP/1.0", r"Transfer-Encoding in an HTTP/1.0 response",
     "RFC 9112 §6.1: faulty framing, MUST be treated so"),
    ("status line", r"status line|status-code|missing space after status-code",
     "RFC 9112 §4: a server MUST send the SP before an empty reason; CRLF ends the line"),
    ("version", r"unsupported HTTP version|invalid HTTP version",
     "RFC 9112 §2.3: HTTP/1.0 and HTTP/1.1 only"),
    ("TE list", r"invalid transfer coding|chunked applied more than once",
     "RFC 9112 §6.1: codings are tokens; chunked at most once"),
]
_STRICTER_RESPONSE = [(name, re.compile(pattern), why)
                      for name, pattern, why in STRICTER_RESPONSE]


def classify_stricter_response(error: ParseError) -> str | None:
    for name, pattern, _ in _STRICTER_RESPONSE:
        if pattern.search(error.message):
            return name
    return classify_stricter(error)


# h11's refusals of responses we accept, and why accepting them is right.
LENIENT_RESPONSE = [
    ("a coding other than chunked", r"Only Transfer-Encoding: chunked is supported",
     "RFC 9112 §6.3 item 4: a response whose last coding is not chunked runs to EOF"),
]
_LENIENT_RESPONSE = [(name, re.compile(pattern), why) for name, pattern, why in LENIENT_RESPONSE]


def compare_h11_response(data: bytes, method: str = "GET", eof: bool = True) -> str:
    """Compare our first final response with h11's; the outcome class, or Finding.

    Outcomes as :func:`compare_h11`'s. Bodies are compared as received; a tunnel or
    an upgrade compares its head only.
    """
    ours = first_response_ours(data, method, eof)
    theirs = first_response_h11(data, method, eof)
    if isinstance(ours, ParsedResponse) and isinstance(theirs, ParsedResponse):
        mine = (ours.interim, ours.status, ours.reason, ours.version,
                [(n, _normal(n, v)) for n, v in ours.headers], ours.body)
        other = (theirs.interim, theirs.status, theirs.reason, theirs.version,
                 [(n, _normal(n, v)) for n, v in theirs.headers], theirs.body)
        if mine != other:
            raise Finding(f"h11 disagrees on {data!r} ({method}):\n ours: {mine!r}\n"
                          f" h11:  {other!r}")
        if ours.trailers != [(n, _strip(v)) for n, v in theirs.trailers]:
            raise Finding(f"h11 disagrees on trailers of {data!r}: {ours.trailers!r} vs "
                          f"{theirs.trailers!r}")
        return "agree"
    if isinstance(theirs, ParsedResponse) and isinstance(ours, ParseError):
        name = classify_stricter_response(ours)
        if name is None:
            raise Finding(f"h11 accepts {data!r} ({method}), we refuse it: {ours!r}")
        return f"stricter:{name}"
    if isinstance(ours, ParsedResponse) and isinstance(theirs, Exception):
        text = str(theirs)
        for name, pattern, _ in _LENIENT_RESPONSE:
            if pattern.search(text):
                return f"lenient:{name}"
        raise Finding(f"we accept what h11 refuses ({text}): {ours!r}")
    if isinstance(theirs, ParsedResponse) and ours is None:
        raise Finding(f"h11 completes {data!r} ({method}), we wait for more: {theirs!r}")
    if ours is None or theirs is None:
        return "incomplete"
    return "both-reject"
