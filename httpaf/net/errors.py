"""The client's errors: what a request can fail with, by kind.

The classes follow the ones httpx users know (its transports map them one to one):
timeouts by phase, network errors by phase, protocol errors by side. A malformed or
untrustworthy response is a :class:`RemoteProtocolError` whose ``__cause__`` is the
parser's :class:`~httpaf.ParseError`.
"""

from __future__ import annotations

from httpaf.model import ConnectionClosed, HttpafError, ParseError

__all__ = [
    "ClientError",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "InvalidURL",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "StreamClosed",
    "TimeoutException",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "client_error",
    "read_failure",
    "retryable",
    "write_failure",
]


class ClientError(HttpafError):
    """Base class of the client's errors."""


class InvalidURL(ClientError, ValueError):
    """A URL the client cannot use (no host, a bad port, bytes a URL cannot hold)."""


class StreamClosed(ClientError):
    """The response body was closed (or already read) and cannot be read again."""

    @classmethod
    def partly_read(cls) -> StreamClosed:
        """What ``read()`` raises once part of the body went out piece by piece: it
        would give only the rest."""
        return cls("part of the body was taken already (piece by piece): "
                   "read() gives it whole only before that")


class TransportError(ClientError):
    """The request failed on its way to or from the server."""


class UnsupportedProtocol(TransportError):
    """A scheme other than ``http`` and ``https`` (or a refused protocol)."""


class ProxyError(TransportError):
    """The proxy refused to open a tunnel or to forward the request."""


class TimeoutException(TransportError):
    """A timeout ran out (the subclasses say which)."""


class ConnectTimeout(TimeoutException):
    """Opening the connection (TCP, TLS, proxy tunnel) took too long."""


class ReadTimeout(TimeoutException):
    """No byte of the response came for the read timeout."""


class WriteTimeout(TimeoutException):
    """The request could not be written within the write timeout."""


class PoolTimeout(TimeoutException):
    """No connection of the pool became free within the pool timeout."""


class NetworkError(TransportError):
    """The network failed (the subclasses say in which phase)."""


class ConnectError(NetworkError):
    """The connection could not be opened (refused, unreachable, TLS failed)."""


class ReadError(NetworkError):
    """Reading the response failed (a reset, for example)."""


class WriteError(NetworkError):
    """Writing the request failed."""


class CloseError(NetworkError):
    """Closing the connection failed."""


class ProtocolError(TransportError):
    """A breach of HTTP/1.1 (the subclasses say by whom)."""


class RemoteProtocolError(ProtocolError):
    """The server broke the protocol: a malformed or faulty response, bytes nobody
    asked for, or a close before the response was complete."""


class LocalProtocolError(ProtocolError):
    """The request cannot be sent as given (contradicting framing fields, say)."""


def client_error(error: BaseException) -> BaseException:
    """What the connection layer reported, as the client's error class.

    A :class:`~httpaf.ParseError` or an early :class:`~httpaf.ConnectionClosed` is a
    :class:`RemoteProtocolError` (with it as ``__cause__``), a ``ValueError`` about the
    request a :class:`LocalProtocolError`, an ``OSError`` a :class:`ReadError`.
    """
    if isinstance(error, TransportError):
        return error
    if isinstance(error, ParseError):
        mapped: BaseException = RemoteProtocolError(error.message)
    elif isinstance(error, ConnectionClosed):
        if error.response_started:
            mapped = RemoteProtocolError(f"incomplete response: {error}")
        else:
            mapped = RemoteProtocolError("server disconnected without sending a response")
    elif isinstance(error, ValueError):
        mapped = LocalProtocolError(str(error))
    elif isinstance(error, OSError):
        mapped = ReadError(str(error) or type(error).__name__)
    else:
        return error
    mapped.__cause__ = error
    return mapped


def read_failure(error: BaseException, awaiting_head: bool) -> ReadError:
    """What a runtime tells the connection layer of a failed read: a
    :class:`ReadError` caused by ``error``; a reset (``ConnectionError``) while a
    request awaits its response head is the connection closing under it, so its cause
    is :func:`_closed_under` ``error`` (no response came: :func:`retryable`)."""
    failure = ReadError(str(error) or type(error).__name__)
    failure.__cause__ = (_closed_under(error) if awaiting_head
                         and isinstance(error, ConnectionError) else error)
    return failure


def write_failure(error: BaseException) -> WriteError:
    """A write that failed before any of the response came: a :class:`WriteError`
    caused by :func:`_closed_under` ``error`` (:func:`retryable`)."""
    failure = WriteError(str(error) or type(error).__name__)
    failure.__cause__ = _closed_under(error)
    return failure


def _closed_under(error: BaseException) -> ConnectionClosed:
    """The connection closed under a request that was sent, before any response byte;
    caused by ``error``."""
    closed = ConnectionClosed(str(error) or type(error).__name__, True, False)
    closed.__cause__ = error
    return closed


def retryable(error: BaseException) -> bool:
    """Whether ``error`` left the request unanswered: not one byte of a response came
    (the connection closed, or failed a write, under it)."""
    cause = (error.__cause__ if isinstance(error, (RemoteProtocolError, ReadError, WriteError))
             else error)
    return isinstance(cause, ConnectionClosed) and not cause.response_started
