"""httpaf.asgi's per-request shortcuts keep their results exact: scopes completed from
a per-connection template, request fields converted once per connection while they
repeat, and response heads shared between identical start messages."""

from __future__ import annotations

import asyncio
from typing import Any

import httpaf
from httpaf import asgi

from helpers import raw, with_server


def heads_and_bodies(data: bytes) -> list[tuple[bytes, bytes]]:
    """Consecutive Content-Length responses as (head, body)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        out.append((head, rest[:length]))
        data = rest[length:]
    return out


def test_scopes_of_one_connection_are_independent(loop_kind: str) -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        scope["headers"].append((b"x-added", b"by the app"))  # the app's own copy
        scope["state"]["seen"] = True
        scope["path"] = "/changed"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario(port: int) -> bytes:
        one = b"GET /one?a=1 HTTP/1.1\r\nHost: h\r\nX-Same: 1\r\n\r\n"
        two = b"GET /two HTTP/1.1\r\nHost: h\r\nX-Same: 1\r\n\r\n"  # the same fields
        three = b"POST /three HTTP/1.1\r\nHost: h\r\nX-Other: 2\r\nContent-Length: 0\r\n\r\n"
        four = b"GET /four HTTP/1.1\r\nHost: h\r\nX-Same: 1\r\nConnection: close\r\n\r\n"
        return await raw(port, one + two + three + four)

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert len(heads_and_bodies(data)) == 4
    assert [s["method"] for s in scopes] == ["GET", "GET", "POST", "GET"]
    assert [s["raw_path"] for s in scopes] == [b"/one", b"/two", b"/three", b"/four"]
    assert [s["query_string"] for s in scopes] == [b"a=1", b"", b"", b""]
    assert [s["headers"] for s in scopes] == [
        [(b"host", b"h"), (b"x-same", b"1"), (b"x-added", b"by the app")],
        [(b"host", b"h"), (b"x-same", b"1"), (b"x-added", b"by the app")],
        [(b"host", b"h"), (b"x-other", b"2"), (b"content-length", b"0"), (b"x-added", b"by the app")],
        [(b"host", b"h"), (b"x-same", b"1"), (b"connection", b"close"), (b"x-added", b"by the app")],
    ]
    assert len({id(s["headers"]) for s in scopes}) == 4
    assert len({id(s["state"]) for s in scopes}) == 4
    assert all(s["http_version"] == "1.1" and s["type"] == "http" for s in scopes)


def test_http10_and_forwarded_fields_change_only_their_request(loop_kind: str) -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario(port: int) -> None:
        await raw(
            port,
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.1.2.3\r\n"
            b"X-Forwarded-Proto: https\r\n\r\n"
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
        await raw(port, b"GET / HTTP/1.0\r\n\r\n")

    with_server(loop_kind, app, scenario, lifespan="off", forwarded_allow_ips="127.0.0.1")
    forwarded, plain, old = scopes
    assert forwarded["client"] == ("10.1.2.3", 0) and forwarded["scheme"] == "https"
    assert plain["client"][0] == "127.0.0.1" and plain["scheme"] == "http"
    assert old["http_version"] == "1.0" and plain["http_version"] == "1.1"


def test_shared_heads_follow_their_start_messages(loop_kind: str) -> None:
    constant = [(b"content-type", b"text/plain"), (b"x-kind", b"constant")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/constant":
            headers: Any = constant
        elif path == "/fresh":
            headers = [(b"x-kind", b"fresh-" + scope["query_string"])]
        elif path == "/iterator":
            headers = iter([(b"x-kind", b"iterator")])
        elif path == "/lists":
            headers = [[b"x-kind", b"lists"]]
        else:
            headers = ()
        status = 404 if path == "/missing" else 200
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": path.encode()})

    async def scenario(port: int) -> bytes:
        paths = [
            b"/constant", b"/fresh?a", b"/constant", b"/fresh?b", b"/iterator",
            b"/iterator", b"/lists", b"/lists", b"/missing", b"/constant",
        ]
        requests = b"".join(b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % p for p in paths)
        return await raw(port, requests + b"HEAD /constant HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")

    data = with_server(loop_kind, app, scenario, lifespan="off")
    heads, _, head_response = data.rpartition(b"HTTP/1.1 200 OK")
    responses = heads_and_bodies(heads)
    kinds = [
        next(line for line in head.split(b"\r\n") if line.startswith(b"x-kind"))
        if b"x-kind" in head else b""
        for head, _ in responses
    ]
    assert kinds == [
        b"x-kind: constant", b"x-kind: fresh-a", b"x-kind: constant", b"x-kind: fresh-b",
        b"x-kind: iterator", b"x-kind: iterator", b"x-kind: lists", b"x-kind: lists",
        b"", b"x-kind: constant",
    ]
    assert [body for _, body in responses][:2] == [b"/constant", b"/fresh"]
    assert responses[8][0].startswith(b"HTTP/1.1 404 Not Found")
    assert all(b"server: httpaf" in head and b"\r\nDate: " in head for head, _ in responses)
    # The last request ends the connection: its head is its own, with Connection:
    # close; a HEAD gets the length of the body it does not get.
    assert b"content-length: 9" in head_response.lower()
    assert head_response.endswith(b"\r\n\r\n")
    assert b"connection: close" in head_response.lower()


def test_a_new_date_makes_new_heads(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario(port: int) -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        dates: list[bytes] = []
        for _ in range(40):  # the clock refreshes Date on each second
            writer.write(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(2)
            dates.append(next(line for line in head.split(b"\r\n") if line.startswith(b"Date:")))
            if dates[-1] != dates[0]:
                break
            await asyncio.sleep(0.1)
        writer.close()
        return [dates[0], dates[-1]]

    first, second = with_server(loop_kind, app, scenario, lifespan="off")
    assert first != second


def test_shared_response_keys() -> None:
    settings = asgi.Settings(None, httpaf.Config())  # type: ignore[arg-type]
    fields = [(b"a", b"1")]
    one = settings.shared_response(200, fields)
    assert one is not None and one is settings.shared_response(200, [(b"a", b"1")])
    assert settings.shared_response(201, fields) is not one
    assert settings.shared_response(200, iter(fields)) is None  # read once only
    assert settings.shared_response(200, [[b"a", b"1"]]) is None  # unhashable pairs
    assert settings.shared_response(200.0, fields) is None  # type: ignore[arg-type]
    settings.refresh_default_fields()  # a new Date: new heads
    assert settings.shared_response(200, fields) is not one


# -- scopes from the last request line, fields from the last ones converted ----------


def expected_scope(line: bytes, fields: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """What a scope says of a request, worked out without the server's shortcuts."""
    method, target, version = line.decode().split(" ")
    raw_path, _, query = target.partition("?")
    return {
        "method": method,
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "http_version": version.split("/")[1],
        "headers": [(name.lower(), value) for name, value in fields],
    }


def test_scopes_of_repeated_and_changed_request_lines(loop_kind: str) -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        keys = ("method", "path", "raw_path", "query_string", "http_version", "client")
        scopes.append({k: scope[k] for k in keys} | {"headers": list(scope["headers"])})
        # The app's changes stay in its own scope.
        scope.update(path="/x", raw_path=b"/x", query_string=b"x", method="PUT", http_version="9")
        scope["headers"].clear()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    lines = [
        b"GET /a?q=1 HTTP/1.1",
        b"GET /a?q=1 HTTP/1.1",  # the same line
        b"POST /a?q=1 HTTP/1.1",  # another method
        b"GET /a?q=1 HTTP/1.0",  # another version
        b"GET /a?q=1 HTTP/1.1",
        b"GET /a?q=2 HTTP/1.1",  # another target
        b"GET /a?q=2 HTTP/1.1",
    ]
    one = [(b"Host", b"h"), (b"X-Same", b"1")]
    two = [(b"Host", b"h"), (b"X-Same", b"2")]
    fields = [one, one, two, one, one, two, two]

    def all_fields(line: bytes, fields: list[tuple[bytes, bytes]], last: bool = False) -> Any:
        fields = list(fields)
        if line.startswith(b"POST"):
            fields.append((b"Content-Length", b"0"))
        if line.endswith(b"1.0"):
            fields.append((b"Connection", b"keep-alive"))
        if last:
            fields.append((b"Connection", b"close"))
        return fields

    def request(line: bytes, fields: list[tuple[bytes, bytes]]) -> bytes:
        return b"\r\n".join([line] + [b"%s: %s" % pair for pair in fields]) + b"\r\n\r\n"

    sent = [(line, all_fields(line, f)) for line, f in zip(lines, fields, strict=True)]
    sent.append((lines[-1], all_fields(lines[-1], two, last=True)))

    async def scenario(port: int) -> None:
        await raw(port, b"".join(request(line, f) for line, f in sent))
        await raw(port, request(*sent[-1]))  # another connection: its own addresses

    with_server(loop_kind, app, scenario, lifespan="off")
    expected = [expected_scope(line, f) for line, f in [*sent, sent[-1]]]
    assert [{k: s[k] for k in expected[0]} for s in scopes] == expected
    ports = {s["client"][1] for s in scopes}
    assert len(ports) == 2  # one per connection, each scope with its own


def test_forwarded_fields_of_repeated_fields(loop_kind: str) -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    forwarded = b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: https\r\n\r\n"
    plain = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    close = b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.9.9.9\r\nConnection: close\r\n\r\n"

    async def scenario(port: int) -> None:
        await raw(port, forwarded + forwarded + plain + plain + forwarded + close)

    with_server(loop_kind, app, scenario, lifespan="off", forwarded_allow_ips="127.0.0.1")
    clients = [(s["client"][0], s["scheme"]) for s in scopes]
    local = ("127.0.0.1", "http")
    https = ("10.1.2.3", "https")
    assert clients == [https, https, local, local, https, ("10.9.9.9", "http")]


# -- the head of the last start message, shared -----------------------------------------


def test_repeated_start_messages_follow_their_content(loop_kind: str) -> None:
    kept = [(b"content-type", b"text/plain"), (b"x-kind", b"kept")]
    starts: list[tuple[int, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        step = scope["query_string"].decode()
        status = 200
        headers: Any = kept
        if step == "mutated":
            kept[1] = (b"x-kind", b"mutated")  # the same list, changed
        elif step == "copy":
            headers = list(kept)  # another list, the same fields
        elif step == "tuple":
            headers = tuple(kept)
        elif step == "status":
            status = 203
        elif step == "lists":
            headers = [list(pair) for pair in kept]  # unhashable pairs
        elif step == "bytearray":
            headers = [(bytearray(name), value) for name, value in kept]
        elif step == "more":
            headers = [*kept, (b"x-more", b"1")]
        starts.append((status, [tuple(bytes(b) for b in pair) for pair in headers]))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": step.encode()})

    steps = ["same", "same", "mutated", "same", "copy", "tuple", "status", "same", "lists",
             "same", "bytearray", "same", "more", "same"]  # fmt: skip

    async def scenario(port: int) -> bytes:
        requests = b"".join(b"GET /?%s HTTP/1.1\r\nHost: h\r\n\r\n" % s.encode() for s in steps)
        return await raw(port, requests + b"GET /?same HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")

    data = with_server(loop_kind, app, scenario, lifespan="off")
    responses = heads_and_bodies(data)
    assert [body for _, body in responses] == [s.encode() for s in [*steps, "same"]]
    for (head, _), (status, fields) in zip(responses, starts, strict=True):
        lines = head.split(b"\r\n")
        assert lines[0].startswith(b"HTTP/1.1 %d " % status)
        sent = [tuple(line.split(b": ", 1)) for line in lines[1:]]
        # Server, then the start message's fields in order (then the length the
        # engine adds, Connection: close on the last, and the Date).
        assert sent[0][0] == b"server"
        added = (b"content-length", b"connection", b"date")
        assert [pair for pair in sent[1:] if pair[0].lower() not in added] == fields


def test_the_last_shared_head_is_forgotten_with_the_default_fields() -> None:
    settings = asgi.Settings(None, httpaf.Config())  # type: ignore[arg-type]
    fields = [(b"a", b"1")]
    one = settings.shared_response(200, fields)
    assert settings._last_response is one and settings._last_start == fields
    assert settings._last_start is not fields  # a copy: the app may change its list
    settings.refresh_default_fields()
    assert settings._last_status is None
    assert settings.shared_response(200, [[b"a", b"1"]]) is None
    assert settings._last_status is None  # (only hashable fields are remembered)
