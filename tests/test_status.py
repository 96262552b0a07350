"""Status: codes, reason phrases and classes (http/af's lib/status.ml; it has no test file)."""

from __future__ import annotations

import pytest

from httpaf.model.status import Status, check_code, reason_phrase

# Every code http/af names, with its default reason phrase (lib/status.ml).
HTTP_AF_CODES = [
    (100, "Continue"),
    (101, "Switching Protocols"),
    (200, "OK"),
    (201, "Created"),
    (202, "Accepted"),
    (203, "Non-Authoritative Information"),
    (204, "No Content"),
    (205, "Reset Content"),
    (206, "Partial Content"),
    (300, "Multiple Choices"),
    (301, "Moved Permanently"),
    (302, "Found"),
    (303, "See Other"),
    (304, "Not Modified"),
    (305, "Use Proxy"),
    (307, "Temporary Redirect"),
    (400, "Bad Request"),
    (401, "Unauthorized"),
    (402, "Payment Required"),
    (403, "Forbidden"),
    (404, "Not Found"),
    (405, "Method Not Allowed"),
    (406, "Not Acceptable"),
    (407, "Proxy Authentication Required"),
    (408, "Request Timeout"),
    (409, "Conflict"),
    (410, "Gone"),
    (411, "Length Required"),
    (412, "Precondition Failed"),
    (413, "Payload Too Large"),
    (414, "URI Too Long"),
    (415, "Unsupported Media Type"),
    (416, "Range Not Satisfiable"),
    (417, "Expectation Failed"),
    (418, "I'm a teapot"),
    (420, "Enhance Your Calm"),
    (426, "Upgrade Required"),
    (500, "Internal Server Error"),
    (501, "Not Implemented"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
    (504, "Gateway Timeout"),
    (505, "HTTP Version Not Supported"),
]

# Codes we name beyond http/af (all the statuses the parser can answer with are named).
OUR_EXTRA_CODES = [
    (308, "Permanent Redirect"),
    (422, "Unprocessable Content"),
    (428, "Precondition Required"),
    (429, "Too Many Requests"),
    (431, "Request Header Fields Too Large"),
]


@pytest.mark.parametrize(("code", "phrase"), HTTP_AF_CODES + OUR_EXTRA_CODES)
def test_status_default_reason_phrase(code: int, phrase: str) -> None:
    status = check_code(code)
    assert isinstance(status, Status)
    assert status == code and int(status) == code
    assert status.phrase == phrase
    assert reason_phrase(code) == phrase
    assert Status(code) is status


def test_status_members_are_exactly_the_table() -> None:
    assert sorted((int(s), s.phrase) for s in Status) == sorted(HTTP_AF_CODES + OUR_EXTRA_CODES)


@pytest.mark.parametrize("code", [199, 299, 999, 600, 103, 226, 451])
def test_status_of_code_non_standard(code: int) -> None:
    if code in dict(HTTP_AF_CODES + OUR_EXTRA_CODES):
        pytest.fail("the table must list only non-standard codes")  # pragma: no cover
    result = check_code(code)
    assert type(result) is int and result == code
    assert reason_phrase(code) == "Non-standard status code"


@pytest.mark.parametrize("code", [0, 1, 42, 99, 1000, 10_000, -200])
def test_status_of_code_not_three_digits(code: int) -> None:
    with pytest.raises(ValueError, match="not a three-digit number"):
        check_code(code)


@pytest.mark.parametrize("code", ["200", 200.0, 250.5, None, b"200", True])
def test_status_of_code_not_an_int(code: object) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        check_code(code)  # type: ignore[arg-type]


# (code, informational, successful, redirection, client error, server error)
CLASSES = [
    (Status.CONTINUE, True, False, False, False, False),
    (Status.SWITCHING_PROTOCOLS, True, False, False, False, False),
    (Status.OK, False, True, False, False, False),
    (Status.PARTIAL_CONTENT, False, True, False, False, False),
    (Status.MULTIPLE_CHOICES, False, False, True, False, False),
    (Status.TEMPORARY_REDIRECT, False, False, True, False, False),
    (Status.BAD_REQUEST, False, False, False, True, False),
    (Status.UPGRADE_REQUIRED, False, False, False, True, False),
    (Status.INTERNAL_SERVER_ERROR, False, False, False, False, True),
    (Status.HTTP_VERSION_NOT_SUPPORTED, False, False, False, False, True),
]


@pytest.mark.parametrize(("status", "info", "ok", "redirect", "client", "server"), CLASSES)
def test_status_classes(
    status: Status, info: bool, ok: bool, redirect: bool, client: bool, server: bool
) -> None:
    assert status.is_informational is info
    assert status.is_successful is ok
    assert status.is_redirection is redirect
    assert status.is_client_error is client
    assert status.is_server_error is server
    assert status.is_error is (client or server)


@pytest.mark.parametrize("status", list(Status), ids=lambda s: str(int(s)))
def test_status_to_string_is_the_code(status: Status) -> None:
    # http/af's Status.to_string gives the digits, never the phrase.
    assert str(int(status)) == f"{status:d}" == str(status.value)
