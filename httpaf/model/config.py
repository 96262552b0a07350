"""Limits and buffer sizes of a connection."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Config"]


@dataclass(frozen=True, slots=True)
class Config:
    """Every limit and buffer size of a connection, with the status it triggers.

    A limit of ``None`` means unlimited. Limits on the request head apply to the bytes
    as received, CRLFs included.
    """

    #: Size of a read: the asyncio runtime reads into one buffer of this size shared
    #: by the connections of a loop; bytes a connection keeps between reads (an
    #: incomplete head, up to ``max_head_size``, http/af #18) go to its own buffer.
    read_buffer_size: int = 65536
    #: Longest request line (with its CRLF): 414 URI Too Long.
    max_request_line: int = 8192
    #: Longest single header field line: 431.
    max_field_size: int = 16384
    #: Largest whole head (request line, fields, blank line): 431.
    max_head_size: int = 65536
    #: Most header fields in one head: 431. Generous (real requests can carry a
    #: hundred fields and more); ``max_head_size`` bounds the bytes, this bounds the
    #: per-field work an abusive head can cause.
    max_headers: int = 1000
    #: Largest request body, when set: 413 Payload Too Large.
    max_body_size: int | None = None
    #: Longest chunk-size line, extensions and CRLF included: 400.
    max_chunk_line: int = 4096
    #: Largest trailer section (bytes): 431.
    max_trailer_size: int = 16384
    #: Most trailer fields: 431.
    max_trailers: int = 100
    #: Most requests parsed ahead of the one being answered; beyond it the reader
    #: yields (pipelining backpressure).
    max_pipelined_requests: int = 32
    #: Unread request-body bytes held for the handler before the reader yields (a
    #: client: unread response-body bytes).
    body_buffer_high_water: int = 65536
    #: Most interim (1xx) responses a client accepts before a request's final one;
    #: more fail the request and close the connection (a server flooding 1xx).
    max_interim_responses: int = 16
    #: Size of the copy buffer a connection's serializer borrows while it has output
    #: pending (an idle connection lends it back to a pool its loop's connections share).
    response_buffer_size: int = 4096
    #: Initial size of the client's request-body copy buffer.
    request_body_buffer_size: int = 4096
    #: Answer 400 to an HTTP/1.1 request without exactly one Host (RFC 9112 §3.2).
    require_host: bool = True
    #: Whether a runtime with a clock adds ``Date`` (RFC 9110 §6.6.1) to responses
    #: that have none; the state machine itself reads no clock.
    date_header: bool = True
    #: Seconds an idle connection stays open, before its first request and between
    #: requests, with nothing of a request received (``None``: forever). The
    #: runtime closes it silently. (The asyncio runtime checks these timeouts in slots
    #: of a sixteenth of the timeout, at most a second, so a connection goes up to
    #: that much later.)
    keep_alive_timeout: float | None = 5.0
    #: Seconds a request head may take to arrive, from its first byte (slowloris);
    #: then ``408 Request Timeout`` and the connection closes.
    head_timeout: float | None = 20.0
    #: Seconds without a byte of request body while the handler waits for one;
    #: then the connection closes (the handler sees the body end short).
    body_timeout: float | None = 30.0
    #: Seconds the blocking client runtime (``httpaf.sync``; Linux, plain sockets)
    #: keeps asking for response bytes before it sleeps until they come (``None``: it
    #: sleeps at once): a fast server's answer is taken without a sleep and a wake-up.
    #: Misses make the next reads sleep at once (``httpaf.sync.busy``). A read timeout
    #: shorter than this is kept exactly; a longer one may run this much over.
    busy_read: float | None = 0.0001

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _BOOL_FIELDS:
                if not isinstance(value, bool):
                    raise ValueError(f"Config.{f.name} must be a bool, not {value!r}")
                continue
            if value is None and f.name in _OPTIONAL_FIELDS:
                continue
            if f.name in _SECONDS_FIELDS:
                if (
                    not isinstance(value, (int, float))
                    or isinstance(value, bool)
                    or not 0 < value < float("inf")
                ):
                    raise ValueError(
                        f"Config.{f.name} must be a positive number of seconds or None, "
                        f"not {value!r}"
                    )
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Config.{f.name} must be a positive int, not {value!r}")
        if self.max_request_line > self.max_head_size:
            raise ValueError("Config.max_request_line must not exceed max_head_size")


_BOOL_FIELDS = frozenset({"require_host", "date_header"})
_SECONDS_FIELDS = frozenset({"keep_alive_timeout", "head_timeout", "body_timeout", "busy_read"})
_OPTIONAL_FIELDS = frozenset({"max_body_size"}) | _SECONDS_FIELDS
