"""Response status codes and reason phrases (RFC 9110 §15).

The codes http/af names are members of :class:`Status` (an ``IntEnum``); any other
three-digit code is an ordinary ``int`` wherever a status is expected.
"""

from __future__ import annotations

import enum

__all__ = ["Status", "reason_phrase", "check_code"]


class Status(enum.IntEnum):
    """Standard status codes; ``phrase`` is the default reason phrase."""

    phrase: str

    def __new__(cls, code: int, phrase: str) -> Status:
        member = int.__new__(cls, code)
        member._value_ = code
        member.phrase = phrase
        return member

    CONTINUE = 100, "Continue"
    SWITCHING_PROTOCOLS = 101, "Switching Protocols"
    OK = 200, "OK"
    CREATED = 201, "Created"
    ACCEPTED = 202, "Accepted"
    NON_AUTHORITATIVE_INFORMATION = 203, "Non-Authoritative Information"
    NO_CONTENT = 204, "No Content"
    RESET_CONTENT = 205, "Reset Content"
    PARTIAL_CONTENT = 206, "Partial Content"
    MULTIPLE_CHOICES = 300, "Multiple Choices"
    MOVED_PERMANENTLY = 301, "Moved Permanently"
    FOUND = 302, "Found"
    SEE_OTHER = 303, "See Other"
    NOT_MODIFIED = 304, "Not Modified"
    USE_PROXY = 305, "Use Proxy"
    TEMPORARY_REDIRECT = 307, "Temporary Redirect"
    PERMANENT_REDIRECT = 308, "Permanent Redirect"
    BAD_REQUEST = 400, "Bad Request"
    UNAUTHORIZED = 401, "Unauthorized"
    PAYMENT_REQUIRED = 402, "Payment Required"
    FORBIDDEN = 403, "Forbidden"
    NOT_FOUND = 404, "Not Found"
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed"
    NOT_ACCEPTABLE = 406, "Not Acceptable"
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required"
    REQUEST_TIMEOUT = 408, "Request Timeout"
    CONFLICT = 409, "Conflict"
    GONE = 410, "Gone"
    LENGTH_REQUIRED = 411, "Length Required"
    PRECONDITION_FAILED = 412, "Precondition Failed"
    PAYLOAD_TOO_LARGE = 413, "Payload Too Large"
    URI_TOO_LONG = 414, "URI Too Long"
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type"
    RANGE_NOT_SATISFIABLE = 416, "Range Not Satisfiable"
    EXPECTATION_FAILED = 417, "Expectation Failed"
    IM_A_TEAPOT = 418, "I'm a teapot"
    ENHANCE_YOUR_CALM = 420, "Enhance Your Calm"
    UNPROCESSABLE_CONTENT = 422, "Unprocessable Content"
    UPGRADE_REQUIRED = 426, "Upgrade Required"
    PRECONDITION_REQUIRED = 428, "Precondition Required"
    TOO_MANY_REQUESTS = 429, "Too Many Requests"
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large"
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error"
    NOT_IMPLEMENTED = 501, "Not Implemented"
    BAD_GATEWAY = 502, "Bad Gateway"
    SERVICE_UNAVAILABLE = 503, "Service Unavailable"
    GATEWAY_TIMEOUT = 504, "Gateway Timeout"
    HTTP_VERSION_NOT_SUPPORTED = 505, "HTTP Version Not Supported"

    @property
    def is_informational(self) -> bool:
        """1xx."""
        return 100 <= self < 200

    @property
    def is_successful(self) -> bool:
        """2xx."""
        return 200 <= self < 300

    @property
    def is_redirection(self) -> bool:
        """3xx."""
        return 300 <= self < 400

    @property
    def is_client_error(self) -> bool:
        """4xx."""
        return 400 <= self < 500

    @property
    def is_server_error(self) -> bool:
        """5xx."""
        return 500 <= self < 600

    @property
    def is_error(self) -> bool:
        """4xx or 5xx."""
        return 400 <= self < 600


_BY_CODE: dict[int, Status] = {int(s): s for s in Status}


def check_code(code: int) -> int:
    """Return ``code`` as a :class:`Status` when it is a standard one, else as an int.

    Raises ``ValueError`` unless ``code`` is a three-digit number (100-999).
    """
    if not isinstance(code, int) or isinstance(code, bool):
        raise TypeError(f"status code must be an int, not {type(code).__name__}")
    status = _BY_CODE.get(code)
    if status is not None:
        return status
    if not 100 <= code <= 999:
        raise ValueError(f"status code {code} is not a three-digit number")
    return int(code)


def reason_phrase(code: int) -> str:
    """The default reason phrase of ``code``, or ``"Non-standard status code"``."""
    status = _BY_CODE.get(code)
    return status.phrase if status is not None else "Non-standard status code"
