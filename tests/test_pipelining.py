"""Pipelined requests on a server connection (http/af #172/#190/#211; docs/state-machine.md).

Every complete request in a read is parsed, up to ``Config.max_pipelined_requests``
queued; handlers run one at a time, in order; responses go out strictly in order.
Beyond the limit the reader yields and leaves the bytes unconsumed.
"""

from __future__ import annotations

from httpaf import Config, Reqd, Response, ServerConnection

from helpers import (
    Recorder,
    Runtime,
    default_request_handler,
    get,
    ok,
    ok_closing,
    request_bytes,
)


def echo_target(reqd: Reqd) -> None:
    reqd.body.close()
    reqd.respond_with_string(Response(200), reqd.request.target)


def test_many_requests_in_one_read_answered_in_order() -> None:
    handler = Recorder(echo_target)
    rt = Runtime(ServerConnection(handler))
    data = b"".join(get(target=f"/{i}") for i in range(10))
    assert rt.read(data) == len(data)
    assert [r.request.target for r in handler.reqds] == [f"/{i}" for i in range(10)]
    assert rt.drain() == b"".join(ok(f"/{i}".encode()) for i in range(10))
    rt.reader_ready()
    rt.writer_yielded()


def test_async_handlers_run_one_at_a_time() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    data = get(target="/a") + get(target="/b") + get(target="/c")
    assert rt.read(data) == len(data)
    assert handler.count == 1  # only the head has its handler called
    for i, target in enumerate(["/a", "/b", "/c"]):
        reqd = handler.reqds[i]
        assert reqd.request.target == target
        rt.reader_yielded()
        reqd.respond_with_string(Response(200), target)
        rt.write(ok(target.encode()))
        assert handler.count == min(i + 2, 3)
    rt.reader_ready()


def test_streaming_head_holds_back_later_responses() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    rt.read(get(target="/slow") + get(target="/fast"))
    writer = handler.last.respond_with_streaming(
        Response(200, [("Transfer-Encoding", "chunked")])
    )
    writer.write(b"part")
    writer.flush()
    rt.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n")
    assert handler.count == 1  # /fast waits for /slow to finish
    writer.close()
    rt.write(b"0\r\n\r\n")
    assert handler.count == 2
    handler.last.respond_with_string(Response(200), b"fast")
    rt.write(ok(b"fast"))


def test_pipeline_limit_leaves_bytes_unconsumed() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(max_pipelined_requests=2)))
    reqs = [get(target=f"/{i}") for i in range(5)]
    data = b"".join(reqs)
    consumed = rt.read(data)
    assert consumed == len(reqs[0]) + len(reqs[1])
    assert rt.pending == b"".join(reqs[2:])
    rt.reader_yielded()
    assert rt.conn.read(rt.pending) == 0  # a runtime ignoring YIELD gets nothing parsed
    # Answering the head lets the reader go on: the kept bytes are presented again.
    for i in range(5):
        assert handler.reqds[i].request.target == f"/{i}"
        handler.reqds[i].respond_with_string(Response(200), b"")
        rt.write(ok())
    assert rt.pending == b""
    assert handler.count == 5
    rt.reader_ready()


def test_pipeline_limit_of_one_parses_no_request_ahead() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler, config=Config(max_pipelined_requests=1)))
    first, second = get(target="/1"), get(target="/2")
    assert rt.read(first + second) == len(first)
    rt.reader_yielded()
    handler.last.respond_with_string(Response(200), b"")
    assert handler.last.request.target == "/2"
    assert rt.pending == b""


def test_partial_request_after_complete_ones() -> None:
    handler = Recorder(default_request_handler)
    rt = Runtime(ServerConnection(handler))
    whole = get(target="/1")
    partial = get(target="/2")
    # The request line of the second request is consumed; its header block is not.
    consumed = rt.read(whole + partial[:20])
    assert consumed == len(whole) + len(b"GET /2 HTTP/1.1\r\n")
    assert handler.count == 1
    rt.read(partial[20:])
    assert handler.count == 2
    assert rt.drain() == ok() + ok()


def test_unread_body_of_pipelined_request_is_skipped() -> None:
    handler = Recorder(default_request_handler)  # closes the body unread
    rt = Runtime(ServerConnection(handler))
    post = request_bytes("POST", "/p", [("Host", "x"), ("Content-Length", "11")], b"GET /x HTTP")
    chunked = request_bytes(
        "POST", "/c", [("Host", "x"), ("Transfer-Encoding", "chunked")], b"3\r\nabc\r\n0\r\n\r\n"
    )
    data = post + chunked + get(target="/last")
    assert rt.read(data) == len(data)
    assert [r.request.target for r in handler.reqds] == ["/p", "/c", "/last"]
    assert rt.drain() == ok() * 3


def test_response_before_body_then_next_request() -> None:
    """A response may complete first; the next request waits for the body's end."""
    handler = Recorder(lambda reqd: reqd.respond_with_string(Response(200), b""))
    rt = Runtime(ServerConnection(handler))
    post = request_bytes("POST", "/p", [("Host", "x"), ("Content-Length", "4")])
    rt.read(post + b"ab")
    rt.write(ok())
    assert handler.count == 1
    rt.read(b"cd" + get(target="/next"))
    assert [r.request.target for r in handler.reqds] == ["/p", "/next"]
    rt.write(ok())


def test_http10_request_in_pipeline_ends_it() -> None:
    handler = Recorder(default_request_handler)
    rt = Runtime(ServerConnection(handler))
    data = get(target="/1") + request_bytes("GET", "/2", [], version="HTTP/1.0") + get(target="/3")
    consumed = rt.read(data)
    assert consumed == len(data) - len(get(target="/3"))
    assert [r.request.target for r in handler.reqds] == ["/1", "/2"]
    assert rt.drain() == ok() + ok_closing()  # the second ends the connection, and says so
    rt.is_shutdown()


def test_pipeline_then_eof() -> None:
    handler = Recorder()
    rt = Runtime(ServerConnection(handler))
    data = get(target="/1") + get(target="/2")
    assert rt.read_eof(data) == len(data)
    rt.reader_closed()
    handler.last.respond_with_string(Response(200), b"1")
    rt.write(ok(b"1"))
    handler.last.respond_with_string(Response(200), b"2")
    rt.write(ok(b"2"))
    rt.is_shutdown()
