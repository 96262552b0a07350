"""What happens when the error handler itself fails, and when bodies go unread."""

from __future__ import annotations

from typing import Any

from httpaf import Response, ServerConnection

from helpers import Runtime, get, request_bytes


def failing_error_handler_before_start(request: Any, error: Any, start_response: Any) -> None:
    raise RuntimeError("the error handler broke")


def failing_error_handler_after_start(request: Any, error: Any, start_response: Any) -> None:
    writer = start_response([("Content-Length", "100")])
    writer.write(b"partial")
    writer.flush()
    raise RuntimeError("the error handler broke")


def raising_handler(reqd: Any) -> None:
    raise ValueError("boom")


def test_default_handler_answers_when_the_error_handler_fails_before_responding() -> None:
    rt = Runtime(ServerConnection(raising_handler, failing_error_handler_before_start))
    rt.read(get())
    assert rt.drain() == (
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 22\r\nConnection: close\r\n\r\nInternal Server Error\n"
    )
    rt.writer_closed(0)


def test_connection_is_cut_when_the_error_handler_fails_mid_response() -> None:
    rt = Runtime(ServerConnection(raising_handler, failing_error_handler_after_start))
    rt.read(get())
    # The half-sent response is dropped with the connection: no complete-looking lie.
    rt.poll_writer()
    assert rt.conn.is_closed


def test_connection_level_error_with_failing_handler_still_answers_400() -> None:
    rt = Runtime(ServerConnection(raising_handler, failing_error_handler_before_start))
    rt.read(b"NOT HTTP\r\n\r\n")
    assert rt.drain().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    rt.writer_closed(0)


def test_unread_body_is_discarded_after_the_answer_and_the_next_request_served() -> None:
    seen: list[str] = []

    def handler(reqd: Any) -> None:
        seen.append(reqd.request.target)
        reqd.respond_with_string(Response(200), b"ok")  # never reads the upload

    rt = Runtime(ServerConnection(handler))
    upload = request_bytes("POST", "/upload", [("Host", "x"), ("Content-Length", "100000")])
    rt.read(upload + b"x" * 50_000)
    rt.read(b"y" * 50_000 + get(target="/next"))
    assert seen == ["/upload", "/next"]
    assert rt.drain().count(b"HTTP/1.1 200 OK") == 2
