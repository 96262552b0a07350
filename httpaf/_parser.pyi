"""Types of the Cython parser extension (``_parser.pyx``).

Same API as the pure-Python twin, :mod:`httpaf._parser_pure`: see its docstring for
the ``parse`` contract.
"""

from typing_extensions import Self, disjoint_base

from httpaf.model import Config

__all__ = [
    "RequestParser",
    "ResponseParser",
    "FORBIDDEN_TRAILERS",
    "borrow_request_parser",
    "lend_request_parser",
]

#: Fields a sender must not put in a trailer section (RFC 9110 §6.5.1).
FORBIDDEN_TRAILERS: frozenset[str]

@disjoint_base
class _Parser:
    """What request and response parsers share: fields, bodies, chunks, trailers."""

    #: Bytes at ``start`` that the last :meth:`parse` call used up.
    consumed: int
    #: After a head: its body length (bytes), ``CHUNKED`` or ``CLOSE_DELIMITED``.
    body_length: int
    #: After a head: whether it lets the connection persist.
    keep_alive: bool
    #: After a request head: ``Expect: 100-continue`` on HTTP/1.1.
    expect_continue: bool
    #: After a head: an upgrade (``Connection: upgrade`` + ``Upgrade``) or CONNECT.
    upgrade: bool
    def __new__(cls, config: Config | None = None) -> Self: ...
    @property
    def config(self) -> Config: ...
    @property
    def is_idle(self) -> bool: ...
    def at_message_boundary(self) -> bool: ...
    @property
    def is_failed(self) -> bool: ...
    def parse(
        self,
        buf: bytes | bytearray,
        start: int = 0,
        end: int | None = None,
        eof: bool = False,
    ) -> object:
        """Parse ``buf[start:end]``; return one event: ``None`` (need more), a
        ``Request``/``Response`` head, a ``memoryview`` of body bytes, or an
        ``EndOfMessage``. Raises ``ParseError``."""

@disjoint_base
class RequestParser(_Parser):
    """Parses the requests a server receives."""

@disjoint_base
class ResponseParser(_Parser):
    """Parses the responses a client receives."""

    #: The method of the request being answered (HEAD and CONNECT change framing).
    request_method: str

def borrow_request_parser(config: Config) -> RequestParser:
    """A request parser for ``config``: one an idle connection lent, or a new one."""

def lend_request_parser(parser: RequestParser) -> None:
    """Give back a parser at a message boundary (``is_idle``) for others to borrow."""
