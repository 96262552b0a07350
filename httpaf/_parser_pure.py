"""Incremental HTTP/1.1 request and response parsers, in pure Python.

The twin of ``_parser.pyx``: same classes, same results, same errors. A parser is
driven by :meth:`parse` with a buffer and a ``[start, end)`` window. Each call returns
one event and sets ``consumed`` to the number of bytes at ``start`` that it used up.
Bytes not consumed must be presented again, followed by new data, on the next call
(http/af's "committed" rule):

- the request (status) line is consumed as soon as it is complete;
- the header block is consumed only when its blank line arrives;
- body bytes are consumed as they are returned;
- a chunk-size line is consumed with its CRLF; the CRLF that ends chunk data is
  consumed together with the next size line.

Events:

- ``None``: more input is needed (``consumed`` may still be positive);
- a :class:`~httpaf.message.Request` or :class:`~httpaf.message.Response`: a head,
  after which ``body_length``, ``keep_alive``, ``expect_continue`` and ``upgrade``
  describe it. A head whose ``body_length`` is 0 is a complete message: no
  :class:`~httpaf.message.EndOfMessage` follows it;
- a ``memoryview`` slice of the buffer: body bytes (valid until the buffer changes);
- an :class:`~httpaf.message.EndOfMessage`: the body ended, with trailers if any.

Errors raise :class:`~httpaf.errors.ParseError`; ``consumed`` then holds the bytes used
before the error. A failed parser stays failed: nothing after a framing error is parsed.
Errors are found in the order their bytes arrive (field lines are checked one by one as
they complete, and a limit as soon as it is passed), so however the input is split into
reads, the events and the error are the same. ``Config.max_head_size`` counts the
request (status) line too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from httpaf.model import (
    CHUNKED,
    CLOSE_DELIMITED,
    END_OF_MESSAGE,
    HTTP_1_0,
    HTTP_1_1,
    Config,
    EndOfMessage,
    Headers,
    Method,
    ParseError,
    Request,
    Response,
    Version,
    check_code,
    is_chunked,
    parse_content_length,
    response_framing,
)

__all__ = ["RequestParser", "ResponseParser", "borrow_request_parser", "lend_request_parser"]

Buffer = bytes | bytearray
Step = Callable[[Buffer, int, int, bool], object]

# Parser states.
_START = 0  # at a message boundary, expecting a start line
_HEADERS = 1  # start line consumed, expecting the header block
_FIXED = 2  # inside a body of known length
_CHUNK_SIZE = 3  # expecting the first chunk-size line
_CHUNK_NEXT = 4  # expecting CRLF after chunk data, then a chunk-size line
_CHUNK_DATA = 5  # inside chunk data
_TRAILERS = 6  # after the last chunk, expecting trailers and a blank line
_EOF_BODY = 7  # response body delimited by the end of the connection
_END = 8  # body complete; the next call returns EndOfMessage
_FAILED = 9

#: The longest method token read as one: registered methods are far shorter, so a
#: longer token is answered 501 (not implemented) at once, never 414 (RFC 9110 §9.1).
MAX_METHOD = 32

_TOKEN_CHARS = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(f"[{_TOKEN_CHARS}]+")
# A request line, all of it: method, target (visible ASCII), version.
_METHOD_TOKEN = rb"[" + _TOKEN_CHARS.encode() + rb"]{1,%d}" % MAX_METHOD
_REQUEST_LINE = re.compile(rb"(" + _METHOD_TOKEN + rb") ([\x21-\x7e]+) (HTTP/1\.[01])\r\n")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3}) ([\t\x20-\x7e\x80-\xff]*)\r\n")
_VERSION_LIKE = re.compile(rb"HTTP/[0-9]\.[0-9]")
# A whole request head in one match: request line, field lines whose values do not end
# in SP or HTAB, blank line. Groups: method, target, the version's minor digit.
_HEAD = re.compile(
    rb"(" + _METHOD_TOKEN + rb") ([\x21-\x7e]+) HTTP/1\.([01])\r\n"
    rb"(?:[" + _TOKEN_CHARS.encode() + rb"]+:[\t\x20-\x7e\x80-\xff]*(?<![ \t])\r\n)*\r\n"
)
# The fields of such a head (decoded), from the start of the first field line.
_HEAD_FIELDS = re.compile(f"(?m)^([{_TOKEN_CHARS}]+):[ \t]*([^\r]*)\r\n")
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTHORITY_FORM = re.compile(r"[^/?#@\s]+:[0-9]+")
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_EXT = (
    rf"(?:[ \t]*;[ \t]*[{_TOKEN_CHARS}]+(?:[ \t]*=[ \t]*(?:[{_TOKEN_CHARS}]+|{_QUOTED}))?)*"
)
_CHUNK_LINE = re.compile(f"([0-9A-Fa-f]{{1,16}})({_CHUNK_EXT})\r\n")

_METHODS: dict[str, str] = {m.value: m for m in Method}

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# A field line, all of it, valid: the check that sends a line to the fault finder.
_FIELD_LINE = re.compile(rb"[" + _TOKEN_CHARS.encode() + rb"]+:[\t\x20-\x7e\x80-\xff]*\r\n")

# Where a line check resumes (``_Parser._line_state``): the part of the line it is in.
_IN_METHOD, _IN_TARGET, _IN_VERSION = 0, 1, 2  # a request line
_LINE_START, _IN_NAME, _IN_VALUE = 0, 1, 2  # a field line
_NOT_THREE_PARTS = "request line is not 'method SP target SP version'"


def request_line_fault(
    buf: Buffer, pos: int, i: int, stop: int, part: int, mark: int
) -> tuple[ParseError | None, int, int, int]:
    """The first fault, in byte order, of the request line at ``buf[pos:]``, checking
    ``buf[i:stop]`` (what came before was checked): ``(error or None, i, part, mark)``
    to resume from, ``i`` the first byte not checked yet, ``mark`` where ``part``
    (``_IN_METHOD``, ``_IN_TARGET``, ``_IN_VERSION``) began.

    A byte no grammar allows is an error as soon as it is seen, before any length
    limit (RFC 9112 §3: ``method SP request-target SP HTTP-version CRLF``).
    """
    while i < stop:
        c = buf[i]
        if part == _IN_METHOD:
            if c in _TCHAR:
                if i - mark >= MAX_METHOD:
                    return ParseError("method too long", 501), i, part, mark
            elif c == 32:
                if i == mark:
                    return ParseError(_NOT_THREE_PARTS), i, part, mark
                part, mark = _IN_TARGET, i + 1
            else:
                return _line_end_fault(buf, i, stop, "invalid character in method"), i, part, mark
        elif part == _IN_TARGET:
            if c == 32:
                if i == mark:
                    return ParseError(_NOT_THREE_PARTS), i, part, mark
                part, mark = _IN_VERSION, i + 1
            elif not 0x21 <= c <= 0x7E:
                fault = _line_end_fault(buf, i, stop, "invalid character in request target")
                return fault, i, part, mark
        else:
            k = i - mark  # "HTTP/" DIGIT "." DIGIT CR LF
            if k < 5:
                ok = c == b"HTTP/"[k]
            elif k == 5 or k == 7:
                ok = 48 <= c <= 57
            elif k == 6:
                ok = c == 46
            elif k == 8:
                if c == 13:
                    i += 1
                    continue
                if c == 32:
                    return ParseError(_NOT_THREE_PARTS), i, part, mark
                return _line_end_fault(buf, i, stop, "invalid HTTP version"), i, part, mark
            else:  # k == 9: the LF after CR
                if c != 10:
                    return ParseError("bare CR in request line"), i, part, mark
                version = bytes(buf[mark : mark + 8])
                if version != b"HTTP/1.1" and version != b"HTTP/1.0":
                    fault = ParseError(f"unsupported HTTP version {version.decode()}", 505)
                    return fault, i, part, mark
                return None, i + 1, part, mark
            if not ok:
                return ParseError("invalid HTTP version"), i, part, mark
        i += 1
    return None, i, part, mark


def _line_end_fault(buf: Buffer, i: int, stop: int, message: str) -> ParseError | None:
    """A request line's unexpected byte at ``i``: CR or LF end it early, anything else
    is ``message``; ``None`` for a CR whose next byte has not arrived."""
    c = buf[i]
    if c == 10:
        return ParseError("bare LF in request line")
    if c == 13:
        if i + 1 == stop:
            return None
        return ParseError(_NOT_THREE_PARTS if buf[i + 1] == 10 else "bare CR in request line")
    return ParseError(message)


_HOST_NAME = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+;="
)  # a reg-name's characters (RFC 3986 §3.2.2), but for the comma: no list of hosts
_HEX = frozenset("0123456789abcdefABCDEF")
_PORT = re.compile("[0-9]*")
_IPV_FUTURE = re.compile(r"v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")


def host_fault(value: str) -> str | None:
    """What is wrong with a ``Host`` value, or ``None`` (RFC 9112 §3.2, RFC 3986
    §3.2.2-3.2.3): ``uri-host [ ":" port ]``, a reg-name (no comma), an IPv4 address or
    a bracketed IP-literal, then digits only. The first fault in character order."""
    if value[:1] == "[":
        close = value.find("]")
        if close < 0:
            return "unclosed bracket"
        literal = value[1:close]
        if _IPV_FUTURE.fullmatch(literal) is None:
            try:
                ipaddress.IPv6Address(literal)
            except ValueError:
                return "malformed IP literal"
            if "%" in literal:  # (a zone identifier)
                return "malformed IP literal"
        i = close + 1
    else:
        i, n = 0, len(value)
        while i < n:
            c = value[i]
            if c in _HOST_NAME:
                i += 1
            elif c == "%" and value[i + 1 : i + 2] in _HEX and value[i + 2 : i + 3] in _HEX:
                i += 3
            else:
                break
    if i == len(value):
        return None
    c = value[i]
    if c == ":":
        return None if _PORT.fullmatch(value, i + 1) else "malformed port"
    if c in " \t":
        return "whitespace"
    if c == ",":
        return "a list of hosts"
    if c == "@":
        return "userinfo"
    if c in "/?#":
        return "a path, query or fragment"
    if c > "\x7f":
        return "a character outside ASCII"
    return f"invalid character {c!r}"


def field_line_fault(
    buf: Buffer, i: int, stop: int, state: int, what: str
) -> tuple[str | None, int, int]:
    """The first fault, in byte order, of the field line whose bytes ``buf[i:stop]``
    follow those already checked: ``(message or None, i, state)`` to resume from,
    ``i`` the first byte not checked yet, ``state`` ``_LINE_START``, ``_IN_NAME`` or
    ``_IN_VALUE`` (RFC 9112 §5: ``field-name ":" OWS field-value OWS CRLF``; a byte no
    grammar allows is an error as soon as it is seen, before any length limit)."""
    while i < stop:
        c = buf[i]
        if state != _IN_VALUE:
            if c in _TCHAR:
                state = _IN_NAME
            elif c == 58:  # ":"
                if state == _LINE_START:
                    return f"empty {what} field name", i, state
                state = _IN_VALUE
            elif c == 32 or c == 9:
                if state == _LINE_START:
                    return f"obsolete line folding in {what} section", i, state
                return f"whitespace between {what} field name and colon", i, state
            elif c == 13:
                if i + 1 == stop:
                    return None, i, state
                if buf[i + 1] != 10:
                    return f"bare CR in {what} section", i, state
                return f"{what} field without a colon", i, state
            elif c == 10:
                return f"bare LF in {what} section", i, state
            else:
                return f"invalid character in {what} field name", i, state
        elif c == 13:
            if i + 1 == stop:
                return None, i, state
            if buf[i + 1] != 10:
                return f"bare CR in {what} section", i, state
            return None, i + 2, _LINE_START  # the line is complete, and valid
        elif c == 10:
            return f"bare LF in {what} section", i, state
        elif (c < 32 and c != 9) or c == 127:
            return f"invalid character {chr(c)!r} in {what} section", i, state
        i += 1
    return None, i, state


#: Fields a sender must not put in a trailer section (RFC 9110 §6.5.1).
FORBIDDEN_TRAILERS = frozenset(
    {
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-range",
        "content-type",
        "cookie",
        "expect",
        "host",
        "keep-alive",
        "max-forwards",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "range",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "www-authenticate",
    }
)


def _latin1(buf: Buffer, start: int, end: int) -> str:
    return buf[start:end].decode("latin-1")


class _Parser:
    """What request and response parsers share: fields, bodies, chunks, trailers."""

    __slots__ = (
        "config",
        "consumed",
        "body_length",
        "keep_alive",
        "expect_continue",
        "upgrade",
        "_state",
        "_remaining",
        "_body_seen",
        "_scanned",
        "_checked",
        "_line_state",
        "_mark",
        "_lent",
        "_fields",
        "_head_limit",
        "_error",
    )

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else Config()
        self.consumed = 0
        #: After a head: its body length (bytes), CHUNKED or CLOSE_DELIMITED.
        self.body_length = 0
        #: After a head: whether it lets the connection persist.
        self.keep_alive = True
        #: After a request head: ``Expect: 100-continue`` on HTTP/1.1.
        self.expect_continue = False
        #: After a head: an upgrade (``Connection: upgrade`` + ``Upgrade``) or CONNECT.
        self.upgrade = False
        self._state = _START
        self._remaining = 0  # bytes left in a fixed body or the current chunk
        self._body_seen = 0  # chunked body bytes so far, for max_body_size
        self._scanned = 0  # bytes of an incomplete field block already validated
        # How far the check of a line still arriving got (from the line's start), the
        # part of the line it is in, and where that part began (request lines).
        self._checked = 0
        self._line_state = 0
        self._mark = 0
        self._lent = False  # in the pool of lent parsers (lend_request_parser)
        self._fields: list[tuple[str, str]] = []  # the fields of those bytes
        self._head_limit = self.config.max_head_size  # what the start line left of it
        self._error: ParseError | None = None

    @property
    def is_idle(self) -> bool:
        """Whether the parser is at a message boundary with nothing pending."""
        return self._state == _START

    def at_message_boundary(self) -> bool:
        """:attr:`is_idle` as a method, which the compiled connection layer calls in C."""
        return self._state == _START

    @property
    def is_failed(self) -> bool:
        """Whether a parse error stopped the parser for good."""
        return self._state == _FAILED

    def _fail(self, message: str, status: int, consumed: int) -> ParseError:
        error = ParseError(message, status)
        self._state = _FAILED
        self._error = error
        self.consumed = consumed
        return error

    # -- the driver ------------------------------------------------------------------

    def parse(
        self, buf: Buffer, start: int = 0, end: int | None = None, eof: bool = False
    ) -> object:
        """Parse ``buf[start:end]``; return one event (see the module docstring).

        ``eof`` says that no bytes will follow ``end``.
        """
        if end is None:
            end = len(buf)
        self.consumed = 0
        state = self._state
        if state == _START:
            return self._parse_start(buf, start, end, eof)
        if state == _HEADERS:
            return self._parse_headers(buf, start, end, eof)
        if state == _FIXED:
            return self._parse_fixed(buf, start, end, eof)
        if state == _END:
            self._state = _START
            return END_OF_MESSAGE
        if state == _CHUNK_DATA:
            return self._parse_chunk_data(buf, start, end, eof)
        if state == _CHUNK_SIZE or state == _CHUNK_NEXT:
            return self._parse_chunk_size(buf, start, end, eof)
        if state == _TRAILERS:
            return self._parse_trailers(buf, start, end, eof)
        if state == _EOF_BODY:
            return self._parse_eof_body(buf, start, end, eof)
        error = self._error
        raise ParseError(
            error.message if error else "parser failed", error.status if error else 400
        )

    def _then(
        self, offset: int, step: Step, buf: Buffer, start: int, end: int, eof: bool
    ) -> object:
        """Run ``step`` at ``start``, adding ``offset`` bytes to what it consumes."""
        self.consumed = 0
        try:
            return step(buf, start, end, eof)
        finally:
            self.consumed += offset

    def _parse_start(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        raise NotImplementedError

    def _parse_headers(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        raise NotImplementedError

    # -- blocks of fields ------------------------------------------------------------

    def _scan_block(
        self,
        buf: Buffer,
        start: int,
        end: int,
        eof: bool,
        limit: int,
        max_count: int,
        what: str,
        status: int,
    ) -> int:
        """Check a field block's lines as they arrive; the index past its blank line, or -1.

        Each complete line is validated once, in order, and its field kept in
        ``_fields``; ``_scanned`` remembers where the next line starts (relative to
        ``start``, which the caller presents again, unconsumed), so a block dribbled in
        one byte at a time costs linear time. Errors are found in the order their bytes
        arrive, so every way of splitting the input into reads gives the same error.
        ``limit`` bounds the whole block, blank line included.
        """
        pos = start + self._scanned
        stop = min(end, start + limit)
        max_field = self.config.max_field_size
        while True:
            line_stop = min(stop, pos + max_field)
            lf = buf.find(b"\n", pos, line_stop)
            if lf < 0:
                break
            if lf == pos + 1 and buf[pos] == 13:
                self._scanned = self._checked = self._line_state = 0
                return lf + 1
            self._field_line(buf, pos, lf, max_count, what)
            self._checked = self._line_state = 0
            pos = lf + 1
        self._scanned = pos - start
        # The line at ``pos`` is not all here: a byte no grammar allows is an error
        # now, before any limit (the check resumes where the last call's stopped).
        fault, i, self._line_state = field_line_fault(
            buf, pos + self._checked, line_stop, self._line_state, what
        )
        if fault is not None:
            raise self._fail(fault, 400, 0)
        self._checked = i - pos
        if line_stop - pos >= max_field:
            raise self._fail(f"{what} field too large", 431, 0)
        if end - start >= limit:
            raise self._fail(f"{what} section too large", status, 0)
        if eof:
            raise self._fail(f"unexpected end of input in {what} section", 400, 0)
        return -1

    def _field_line(self, buf: Buffer, pos: int, lf: int, max_count: int, what: str) -> None:
        """Validate the field line ``buf[pos:lf + 1]`` and keep its field."""
        if _FIELD_LINE.fullmatch(buf, pos, lf + 1) is None:
            fault = field_line_fault(buf, pos, lf + 1, _LINE_START, what)[0]
            raise self._fail(fault or f"invalid {what} field line", 400, 0)
        name, _, value = _latin1(buf, pos, lf - 1).partition(":")
        fields = self._fields
        if len(fields) >= max_count:
            raise self._fail(f"too many {what} fields", 431, 0)
        fields.append((name, value.strip(" \t")))

    def _take_fields(self) -> list[tuple[str, str]]:
        fields = self._fields
        self._fields = []
        return fields

    # -- bodies ----------------------------------------------------------------------

    def _start_body(self, length: int) -> None:
        if length == 0:
            self._state = _START
        elif length == CHUNKED:
            self._state = _CHUNK_SIZE
            self._body_seen = 0
        elif length == CLOSE_DELIMITED:
            self._state = _EOF_BODY
        else:
            self._state = _FIXED
            self._remaining = length

    def _parse_fixed(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        return self._take(buf, start, end, eof, _END, "unexpected end of input in body")

    def _take(
        self, buf: Buffer, start: int, end: int, eof: bool, done: int, truncated: str
    ) -> object:
        """Body bytes of a known remaining length; ``done`` is the state after them."""
        n = min(self._remaining, end - start)
        if n == 0:
            if eof:
                raise self._fail(truncated, 400, 0)
            return None
        self._remaining -= n
        if self._remaining == 0:
            self._state = done
        self.consumed = n
        return memoryview(buf)[start : start + n]

    def _parse_eof_body(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        if start < end:
            self.consumed = end - start
            return memoryview(buf)[start:end]
        if eof:
            self._state = _START
            return END_OF_MESSAGE
        return None

    def _parse_chunk_data(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        return self._take(buf, start, end, eof, _CHUNK_NEXT, "unexpected end of input in chunk")

    def _parse_chunk_size(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        pos = start
        if self._state == _CHUNK_NEXT:
            if end - start < 2:
                if eof or (end > start and buf[start] != 13):
                    raise self._fail("missing CRLF after chunk data", 400, 0)
                return None
            if buf[start] != 13 or buf[start + 1] != 10:
                raise self._fail("missing CRLF after chunk data", 400, 0)
            pos += 2
        limit = self.config.max_chunk_line
        lf = buf.find(b"\n", pos, min(end, pos + limit))
        if lf < 0:
            if end - pos >= limit:
                raise self._fail("chunk-size line too long", 400, 0)
            if eof:
                raise self._fail("unexpected end of input in chunk-size line", 400, 0)
            return None
        match = _CHUNK_LINE.fullmatch(_latin1(buf, pos, lf + 1))
        if match is None:
            raise self._fail("invalid chunk-size line", 400, 0)
        size = int(match.group(1), 16)
        self.consumed = lf + 1 - start
        if size == 0:
            self._state = _TRAILERS
            return self._then(self.consumed, self._parse_trailers, buf, lf + 1, end, eof)
        self._body_seen += size
        limit_body = self.config.max_body_size
        if limit_body is not None and self._body_seen > limit_body and self._checks_body_size:
            raise self._fail("body too large", 413, self.consumed)
        self._remaining = size
        self._state = _CHUNK_DATA
        return self._then(self.consumed, self._parse_chunk_data, buf, lf + 1, end, eof)

    def _parse_trailers(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        config = self.config
        block_end = self._scan_block(
            buf, start, end, eof, config.max_trailer_size, config.max_trailers, "trailer", 431
        )
        if block_end < 0:
            return None
        fields = self._take_fields()
        self.consumed = block_end - start
        self._state = _START
        if not fields:
            return END_OF_MESSAGE
        for name, _ in fields:
            if name.lower() in FORBIDDEN_TRAILERS:
                raise self._fail(f"forbidden trailer field: {name}", 400, 0)
        return EndOfMessage(Headers._of_list(fields))

    _checks_body_size = False


class RequestParser(_Parser):
    """Parses the requests a server receives."""

    __slots__ = ("_line",)  # method, target, version: set with the state _HEADERS
    _line: tuple[str, str, Version]

    _checks_body_size = True

    def _parse_start(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        """A head in one regular expression when it is all there, else line by line."""
        head = _HEAD.match(buf, start, end)
        if head is not None:
            # A complete head of valid lines: within the limits, it is decided here as
            # the line-by-line path below would decide it, in one pass.
            (_, head_end), (_, method_end), (target_start, target_end), (minor, _) = head.regs
            line_end = minor + 3
            config = self.config
            if (
                line_end - start <= config.max_request_line
                and head_end - start <= config.max_head_size
                and head_end - line_end <= config.max_field_size
            ):
                text = buf[start:head_end].decode("latin-1")
                fields = _HEAD_FIELDS.findall(text, line_end - start)
                if len(fields) <= config.max_headers:
                    method = text[: method_end - start]
                    method = _METHODS.get(method, method)
                    target = text[target_start - start : target_end - start]
                    if target[0] != "/" or method == "CONNECT":
                        _check_target_form(method, target, self)
                    request = _Request_new(Request)
                    request.method = method
                    request.target = target
                    request.version = HTTP_1_1 if buf[minor] == 49 else HTTP_1_0
                    headers = _Headers_new(Headers)
                    headers._fields = fields
                    request.headers = headers
                    try:
                        self._describe(request, fields)
                    except ParseError:
                        self.consumed = line_end - start  # the request line was used
                        raise
                    self.consumed = head_end - start
                    self._checked = self._line_state = self._mark = 0
                    if self.body_length:
                        self._start_body(self.body_length)
                    return request
        return self._parse_lines(buf, start, end, eof)

    def _parse_lines(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        """The request line, then the fields line by line (any split, any error)."""
        pos = start
        # RFC 9112 §2.2: ignore empty lines before the request line.
        while end - pos >= 2 and buf[pos] == 13 and buf[pos + 1] == 10:
            pos += 2
        self.consumed = pos - start
        if pos == end:
            return None
        if buf[pos] == 13 and end - pos >= 2:  # not CRLF, or the loop took it
            raise self._fail("bare CR before request line", 400, self.consumed)
        limit = self.config.max_request_line
        stop = min(end, pos + limit)
        lf = buf.find(b"\n", pos, stop)
        if lf < 0:
            # Not all here: a byte no grammar allows is an error now, before the limit
            # (the check resumes where the last call's stopped).
            fault, i, part, mark = request_line_fault(
                buf, pos, pos + self._checked, stop, self._line_state, pos + self._mark
            )
            if fault is not None:
                raise self._fail(fault.message, fault.status, self.consumed)
            self._checked, self._line_state, self._mark = i - pos, part, mark - pos
            if end - pos >= limit:
                raise self._fail("request line too long", 414, self.consumed)
            if eof:
                raise self._fail("unexpected end of input in request line", 400, self.consumed)
            return None
        self._checked = self._line_state = self._mark = 0
        match = _REQUEST_LINE.fullmatch(buf, pos, lf + 1)
        if match is None:
            fault = request_line_fault(buf, pos, pos, lf + 1, _IN_METHOD, pos)[0]
            if fault is None:  # (cannot be: the line has its LF)
                fault = ParseError("invalid request line")
            raise self._fail(fault.message, fault.status, self.consumed)
        method_b, target_b, version_b = match.groups()
        method = method_b.decode("ascii")
        method = _METHODS.get(method, method)
        target = target_b.decode("ascii")
        _check_target_form(method, target, self)
        self._line = (method, target, HTTP_1_1 if version_b[7] == 49 else HTTP_1_0)
        self._head_limit = self.config.max_head_size - (lf + 1 - pos)
        self._state = _HEADERS
        offset = lf + 1 - start
        self.consumed = 0
        try:
            return self._parse_headers(buf, lf + 1, end, eof)
        finally:
            self.consumed += offset

    def _parse_headers(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        config = self.config
        block_end = self._scan_block(
            buf, start, end, eof, self._head_limit, config.max_headers, "header", 431
        )
        if block_end < 0:
            return None
        fields = self._fields
        self._fields = []
        method, target, version = self._line
        request = _new_request(method, target, version, Headers._of_list(fields))
        self._describe(request, fields)
        self.consumed = block_end - start
        self._start_body(self.body_length)
        return request

    def _describe(self, request: Request, headers: list[tuple[str, str]]) -> None:
        """Set body_length, keep_alive, expect_continue, upgrade, or fail."""
        te: list[str] | None = None
        cl: list[str] | None = None
        hosts = 0
        host = ""
        close = keep_alive = conn_upgrade = expect = upgrade = False
        for name, value in headers:
            kind = _kind_of(name)
            if kind is None:  # not a common spelling: go by the lower-case name
                if len(name) not in _NOTED_LENGTHS:
                    continue
                kind = _NOTED_KINDS.get(name.lower(), _OTHER)
            if kind is _OTHER:
                continue
            if kind is _HOST:
                hosts += 1
                host = value
            elif kind is _CONNECTION:
                for token in value.split(","):
                    token = token.strip(" \t").lower()
                    if token == "close":
                        close = True
                    elif token == "keep-alive":
                        keep_alive = True
                    elif token == "upgrade":
                        conn_upgrade = True
            elif kind is _CONTENT_LENGTH:
                if cl is None:
                    cl = [value]
                else:
                    cl.append(value)
            elif kind is _TRANSFER_ENCODING:
                if te is None:
                    te = [value]
                else:
                    te.append(value)
            elif kind is _EXPECT:
                expect = expect or value.lower() == "100-continue"
            else:
                upgrade = True
        version = request.version
        if hosts != 1:
            if hosts > 1:
                raise self._fail("multiple Host fields", 400, 0)
            if version is HTTP_1_1 and self.config.require_host:
                raise self._fail("missing Host field", 400, 0)
        else:
            fault = host_fault(host)
            if fault is not None:
                raise self._fail(f"invalid Host: {fault}", 400, 0)
        if te is None and cl is None:
            length = 0
        else:
            length = _request_length(version, te or [], cl or [], self)
            max_body = self.config.max_body_size
            if max_body is not None and length > max_body:
                raise self._fail("body too large", 413, 0)
        self.body_length = length
        if close:
            self.keep_alive = False
        elif version is HTTP_1_0:
            self.keep_alive = keep_alive
        else:
            self.keep_alive = True
        self.expect_continue = expect and version is HTTP_1_1
        self.upgrade = (upgrade and conn_upgrade) or request.method == "CONNECT"


# What ``_describe`` looks at: the framing fields, by lower-case name (the kinds are
# these str objects, compared by identity), ...
_OTHER, _HOST, _CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION, _EXPECT, _UPGRADE = (
    "other",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "upgrade",
)
_NOTED_KINDS = {
    kind: kind
    for kind in (_HOST, _CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION, _EXPECT, _UPGRADE)
}
# ... and the lengths of those names: other names are skipped unlowered.
_NOTED_LENGTHS = frozenset(map(len, _NOTED_KINDS))
# The kinds of the field names sent most, in the cases they are sent in, found with one
# dictionary lookup (other spellings go by their length and lower-case form).
_COMMON_NAMES = (
    "Host",
    "User-Agent",
    "Accept",
    "Accept-Language",
    "Accept-Encoding",
    "Accept-Charset",
    "Connection",
    "Keep-Alive",
    "Cookie",
    "Content-Length",
    "Content-Type",
    "Content-Encoding",
    "Transfer-Encoding",
    "Upgrade",
    "Expect",
    "Referer",
    "Origin",
    "Cache-Control",
    "Pragma",
    "Authorization",
    "If-None-Match",
    "If-Modified-Since",
    "Range",
    "TE",
    "Trailer",
    "Via",
    "Date",
    "Forwarded",
    "Priority",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol",
    "Sec-Fetch-Mode",
    "Sec-Fetch-Site",
    "Sec-Fetch-Dest",
    "Sec-Fetch-User",
    "Upgrade-Insecure-Requests",
    "DNT",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Real-IP",
    "X-Request-Id",
    "X-Requested-With",
)
_kind_of = {
    spelling: _NOTED_KINDS.get(name.lower(), _OTHER)
    for name in _COMMON_NAMES
    for spelling in (name, name.lower())
}.get


_Request_new = Request.__new__
_Headers_new = Headers.__new__


def _new_request(method: str, target: str, version: Version, headers: Headers) -> Request:
    """A Request without running ``__init__`` (the parser has checked everything)."""
    request = _Request_new(Request)
    request.method = method
    request.target = target
    request.version = version
    request.headers = headers
    return request


def _request_length(version: object, te: list[str], cl: list[str], parser: _Parser) -> int:
    """RFC 9112 §6.3 for requests, strict; see :func:`httpaf.message.is_chunked`."""
    try:
        if te:
            if cl:
                raise ParseError("both Transfer-Encoding and Content-Length")
            if version is HTTP_1_0:
                raise ParseError("Transfer-Encoding in an HTTP/1.0 request")
            is_chunked(te, strict=True)
            return CHUNKED
        if cl:
            return parse_content_length(cl)
        return 0
    except ParseError as error:
        raise parser._fail(error.message, error.status, 0) from None


def _check_target_form(method: str, target: str, parser: _Parser) -> None:
    """RFC 9112 §3.2: the four request-target forms, each with its method."""
    first = target[0]
    if method == "CONNECT":
        if _AUTHORITY_FORM.fullmatch(target) is None:
            raise parser._fail("CONNECT needs an authority-form target", 400, parser.consumed)
    elif first == "/":
        return
    elif target == "*":
        if method != "OPTIONS":
            raise parser._fail("asterisk-form target is only for OPTIONS", 400, parser.consumed)
    elif _ABSOLUTE_FORM.match(target) is None:
        raise parser._fail("invalid request target", 400, parser.consumed)


# Parsers that idle connections lent: a parser at a message boundary holds nothing of
# its connection (it consumes no partial start line), so thousands of idle keep-alive
# connections can share a few. One pool, for the config seen last (one config serves
# every connection as a rule).
_lent: list[RequestParser] = []
_lent_config: Config | None = None
_LENT_LIMIT = 64


def borrow_request_parser(config: Config) -> RequestParser:
    """A request parser for ``config``: one an idle connection lent, or a new one."""
    if _lent and config is _lent_config:
        parser = _lent.pop()
        parser._lent = False
        if parser.config is config:  # (another thread may have switched the pool)
            return parser
    return RequestParser(config)


def lend_request_parser(parser: RequestParser) -> None:
    """Give back a parser at a message boundary (``is_idle``) for others to borrow."""
    global _lent, _lent_config
    if not parser.is_idle:
        raise ValueError("only an idle parser can be lent")
    if parser._lent:
        raise ValueError("this parser is lent already")
    if parser.config is not _lent_config:
        for old in _lent:
            old._lent = False
        _lent, _lent_config = [], parser.config
    if len(_lent) < _LENT_LIMIT:
        parser._lent = True
        _lent.append(parser)


class ResponseParser(_Parser):
    """Parses the responses a client receives.

    Set :attr:`request_method` before each response: HEAD and CONNECT change how its
    body is delimited.
    """

    __slots__ = ("request_method", "_response")

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.request_method: str = Method.GET
        self._response: Response | None = None

    def _parse_start(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        limit = self.config.max_request_line
        lf = buf.find(b"\n", start, min(end, start + limit))
        if lf < 0:
            if end - start >= limit:
                raise self._fail("status line too long", 400, 0)
            if eof:
                if start == end:
                    return None
                raise self._fail("unexpected end of input in status line", 400, 0)
            return None
        match = _STATUS_LINE.fullmatch(buf, start, lf + 1)
        if match is None:
            raise self._fail(_status_line_error(bytes(buf[start : lf + 1])), 400, 0)
        minor, code, reason = match.groups()
        if code[0] == 48:  # "0xx": not a status code (RFC 9110 §15)
            raise self._fail(f"invalid status-code: {code.decode()}", 400, 0)
        self._response = _new_response(
            check_code(int(code)), reason.decode("latin-1"), HTTP_1_1 if minor == b"1" else HTTP_1_0
        )
        self._head_limit = self.config.max_head_size - (lf + 1 - start)
        self._state = _HEADERS
        return self._then(lf + 1 - start, self._parse_headers, buf, lf + 1, end, eof)

    def _parse_headers(self, buf: Buffer, start: int, end: int, eof: bool) -> object:
        config = self.config
        block_end = self._scan_block(
            buf, start, end, eof, self._head_limit, config.max_headers, "header", 400
        )
        if block_end < 0:
            return None
        fields = self._take_fields()
        response = self._response
        if response is None:  # unreachable: _HEADERS follows a status line
            raise self._fail("no status line", 400, 0)
        self._response = None
        response.headers = Headers._of_list(fields)
        self._describe(response, fields)
        self.consumed = block_end - start
        self._start_body(self.body_length)
        return response

    def _describe(self, response: Response, fields: list[tuple[str, str]]) -> None:
        """Set body_length, keep_alive, upgrade from the framing fields, or fail."""
        te: list[str] | None = None
        cl: list[str] | None = None
        close = keep_alive = False
        for name, value in fields:  # one pass, as the request side's _describe
            kind = _kind_of(name)
            if kind is None:
                if len(name) not in _NOTED_LENGTHS:
                    continue
                kind = _NOTED_KINDS.get(name.lower(), _OTHER)
            if kind is _CONTENT_LENGTH:
                cl = [value] if cl is None else [*cl, value]
            elif kind is _TRANSFER_ENCODING:
                te = [value] if te is None else [*te, value]
            elif kind is _CONNECTION:
                for token in value.split(","):
                    token = token.strip(" \t").lower()
                    if token == "close":
                        close = True
                    elif token == "keep-alive":
                        keep_alive = True
        status = response.status
        version = response.version
        method = self.request_method
        try:
            self.body_length = response_framing(status, method, version, te, cl)
        except ParseError as error:
            raise self._fail(f"invalid response body length: {error.message}", 400, 0) from None
        # is_keep_alive (RFC 9112 §9.3), from the tokens gathered above.
        persistent = not close and (keep_alive if version is HTTP_1_0 else True)
        self.keep_alive = persistent and self.body_length != CLOSE_DELIMITED
        self.expect_continue = False
        self.upgrade = status == 101 or (method == "CONNECT" and 200 <= status < 300)


_Response_new = Response.__new__


def _new_response(status: int, reason: str, version: Version) -> Response:
    """A Response without running ``__init__`` (the parser has checked everything)."""
    response = _Response_new(Response)
    response.status = status
    response.reason = reason
    response.version = version
    return response


def _status_line_error(line: bytes) -> str:
    if not line.endswith(b"\r\n"):
        return "status line not terminated by CRLF"
    body = line[:-2]
    if not body.startswith(b"HTTP/"):
        return "invalid HTTP version in status line"
    parts = body.split(b" ", 2)
    if len(parts) < 2 or not parts[1]:
        return "status-code empty"
    if not parts[1].isdigit() or len(parts[1]) != 3:
        return f"invalid status-code: {parts[1][:32]!r}"
    if len(parts) == 2:
        return "missing space after status-code"
    if parts[0] not in (b"HTTP/1.0", b"HTTP/1.1") and _VERSION_LIKE.fullmatch(parts[0]):
        return f"unsupported HTTP version {parts[0].decode()}"
    return "invalid character in status line"
