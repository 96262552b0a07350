"""How httpaf.asgi starts application calls: each in a task of its own, with its own
copy of the connection's context, started eagerly (its first step inside the read that
parsed the request) where Python has eager tasks. Tasks, cancellation, errors,
contextvars, pipelining and shutdown behave as applications expect of a task."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import httpaf
from httpaf import asgi
from httpaf.asgi import serve
from httpaf.asgi._start import EAGER

from helpers import FakeTransport, raw, run_async, with_server

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
GET_CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"




async def answer(send: Any, body: bytes, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


def bodies(data: bytes) -> list[bytes]:
    """The bodies of consecutive Content-Length responses."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = _length(head)
        out.append(rest[:length])
        data = rest[length:]
    return out


async def one_by_one(port: int, paths: list[bytes]) -> list[bytes]:
    """Each request on one connection once the previous response is in: the loop
    turns between them (an idle host is waiting by then)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = []
    for path in paths:
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        head = await reader.readuntil(b"\r\n\r\n")
        out.append(await reader.readexactly(_length(head)))
    writer.close()
    return out


def _length(head: bytes) -> int:
    return next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )


# -- calls that answer at once --------------------------------------------------------


def test_each_call_runs_in_a_task_of_its_own(loop_kind: str) -> None:
    kept: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        task = asyncio.current_task()
        kept.append(task)
        if scope["path"] == "/wait":
            await asyncio.sleep(0.01)
            assert asyncio.current_task() is task  # the same task goes on with the call
        await answer(send, b"ok")

    async def scenario(port: int) -> bytes:
        one = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        wait = b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"
        return await raw(port, one + wait + one + wait + GET_CLOSE)

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert bodies(data) == [b"ok"] * 5
    assert len({id(task) for task in kept}) == 5
    assert all(task.done() for task in kept)


# -- calls that wait ------------------------------------------------------------------


def test_calls_that_wait_go_on_in_tasks(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/sleep0":
            await asyncio.sleep(0)
        elif path == "/sleep":
            await asyncio.sleep(0.01)
        elif path == "/future":
            future = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, future.set_result, b"!")
            path += (await future).decode()
        await answer(send, path.encode())

    async def scenario(port: int) -> bytes:
        paths = ["/sleep0", "/", "/sleep", "/future", "/", "/sleep0"]
        requests = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths)
        return await raw(port, requests + GET_CLOSE)  # pipelined

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert bodies(data) == [b"/sleep0", b"/", b"/sleep", b"/future!", b"/", b"/sleep0", b"/"]


def test_errors_before_and_after_waiting(loop_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/wait-then-raise":
            await asyncio.sleep(0)
        elif path == "/start-wait-raise":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await asyncio.sleep(0)
        elif path == "/ok":
            await answer(send, b"ok")
            return
        raise RuntimeError(path)

    async def scenario(port: int) -> list[bytes]:
        results = []
        for path in (b"/raise", b"/wait-then-raise", b"/start-wait-raise", b"/ok"):
            results.append(
                await raw(
                    port, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path, until_close=False, wait=1
                )
            )
        return results

    raised, waited, started, ok = with_server(loop_kind, app, scenario, lifespan="off")
    assert raised.startswith(b"HTTP/1.1 500 ") and waited.startswith(b"HTTP/1.1 500 ")
    assert started == b""  # the head never went out: the connection was cut
    assert ok.startswith(b"HTTP/1.1 200 OK") and ok.endswith(b"\r\n\r\nok")
    messages = [r.getMessage() for r in caplog.records if r.name == "httpaf.error"]
    assert messages.count("Exception in ASGI application\n") == 3


def test_a_waiting_call_hears_the_client_leave(loop_kind: str) -> None:
    events: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        events["started"].set()
        events["message"] = await receive()  # waits until the client is gone
        events["done"].set()

    async def scenario(port: int) -> None:
        events["started"], events["done"] = asyncio.Event(), asyncio.Event()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET)
        await events["started"].wait()
        writer.transport.abort()
        await events["done"].wait()

    with_server(loop_kind, app, scenario, lifespan="off")
    assert events["message"] == {"type": "http.disconnect"}


def test_shutdown_cancels_a_call_that_still_waits(loop_kind: str) -> None:
    events: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        events["started"].set()
        try:
            await asyncio.Event().wait()  # for ever
        except asyncio.CancelledError:
            events["cancelled"] = True
            raise

    async def main() -> bytes:
        events["started"] = asyncio.Event()
        server = await serve(app, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(GET)
        await events["started"].wait()
        await server.shutdown(0.2)
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return data

    assert run_async(loop_kind, main) == b""  # cut, no response
    assert events["cancelled"]


def test_a_call_that_cancels_its_own_task_in_its_first_step(loop_kind: str) -> None:
    outcomes: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/plain":
            await answer(send, b"ok")
            return
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            if scope["path"] == "/future":
                await asyncio.get_running_loop().create_future()
            else:
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            outcomes.append("cancelled")
            task.uncancel()
        else:
            outcomes.append("not cancelled")
        await answer(send, b"ok")

    async def scenario(port: int) -> list[bytes]:
        # Pipelined, and one by one (the loop turns between the calls).
        future = b"GET /future HTTP/1.1\r\nHost: x\r\n\r\n"
        pipelined = bodies(await raw(port, GET + future + GET_CLOSE))
        return pipelined + await one_by_one(port, [b"/plain", b"/", b"/plain", b"/future"])

    assert with_server(loop_kind, app, scenario, lifespan="off") == [b"ok"] * 7
    assert outcomes == ["cancelled"] * 5


def test_a_task_factory_that_wraps_coroutines(loop_kind: str) -> None:
    """Tracing tools install factories that wrap each task's coroutine in their own."""
    wrapped: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/wait":
            await asyncio.sleep(0.01)
        elif scope["path"] == "/keep":
            wrapped.append(asyncio.current_task())
            await asyncio.sleep(0)
        await answer(send, scope["path"].encode())

    async def scenario(port: int) -> bytes:
        def factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
            async def wrapper() -> Any:
                return await coro

            return asyncio.Task(wrapper(), loop=loop, **kwargs)

        asyncio.get_running_loop().set_task_factory(factory)
        paths = [b"/", b"/wait", b"/keep", b"/"]
        requests = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in paths)
        return await raw(port, requests + GET_CLOSE)

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert bodies(data) == [b"/", b"/wait", b"/keep", b"/", b"/"]
    assert wrapped[0].done()


# -- what a first step may use -----------------------------------------------------


def test_first_step_libraries_that_need_a_task(loop_kind: str) -> None:
    anyio = pytest.importorskip("anyio")
    sniffio = pytest.importorskip("sniffio")
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(sniffio.current_async_library())
        async with asyncio.timeout(5):
            pass
        with anyio.move_on_after(5):
            pass
        with anyio.CancelScope() as scope_:
            scope_.cancel()
            await anyio.sleep(1)  # cancelled at once
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep, 0)
        seen.append(await anyio.to_thread.run_sync(lambda: "thread"))
        await answer(send, b"ok")

    async def scenario(port: int) -> bytes:
        return await raw(port, GET + GET_CLOSE)

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert bodies(data) == [b"ok", b"ok"]
    assert seen == ["asyncio", "thread"] * 2


VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR")


def test_contextvars_are_per_request(loop_kind: str) -> None:
    seen: list[tuple[str, str, str]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        before = VAR.get("unset")
        VAR.set(scope["path"])
        if scope["path"].startswith("/wait"):
            await asyncio.sleep(0.01)
        if scope["path"] == "/wait-keep":
            kept.append(asyncio.current_task())
        seen.append((scope["path"], before, VAR.get()))
        await answer(send, b"ok")

    kept: list[Any] = []

    async def scenario(port: int) -> bytes:
        VAR.set("server")
        paths = ["/a", "/wait", "/b", "/wait-keep", "/c"]
        requests = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths)
        first = await raw(port, requests + GET_CLOSE)
        second = await raw(port, GET_CLOSE)  # another connection
        return first + second

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert len(bodies(data)) == 7
    # Each call starts in a copy of the server's context and keeps its own changes.
    assert all(before == "unset" for _, before, _ in seen)
    assert all(path == value for path, _, value in seen)


def test_reset_contextvars_starts_each_call_in_an_empty_context(loop_kind: str) -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(VAR.get("unset"))
        VAR.set("changed")
        await answer(send, b"ok")

    async def scenario(port: int) -> bytes:
        VAR.set("server")
        return await raw(port, GET + GET_CLOSE)

    with_server(loop_kind, app, scenario, lifespan="off", reset_contextvars=True)
    assert seen == ["unset", "unset"]


# -- ends ------------------------------------------------------------------------


def test_no_task_is_left_once_connections_are_gone(loop_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await answer(send, b"ok")

    async def main() -> tuple[int, int]:
        baseline = len(asyncio.all_tasks())
        server = await serve(app, "127.0.0.1", 0, lifespan="off")
        await raw(server.port, GET + GET_CLOSE)
        for _ in range(5):
            await asyncio.sleep(0)
        left_while_serving = len(asyncio.all_tasks()) - baseline
        await server.shutdown()
        for _ in range(5):
            await asyncio.sleep(0)
        return left_while_serving, len(asyncio.all_tasks()) - baseline

    assert run_async(loop_kind, main) == (0, 0)


SYSTEM_EXIT = """
import asyncio, sys
import httpaf
from httpaf import asgi

async def app(scope, receive, send):
    if sys.argv[1] == "after":
        await asyncio.sleep(0)
    raise SystemExit(3)

class Transport(asyncio.Transport):
    def write(self, data): pass
    def is_closing(self): return False
    def close(self): pass
    def pause_reading(self): pass
    def resume_reading(self): pass
    def get_extra_info(self, name, default=None): return default

loop = asyncio.new_event_loop()
protocol = asgi.ASGIProtocol(asgi.Settings(app, httpaf.Config(), access_log=False), loop)
protocol.connection_made(Transport())
loop.call_soon(protocol.data_received, b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
try:
    loop.run_until_complete(asyncio.sleep(1))
except SystemExit as exc:
    print("left the loop", exc.code)
"""


@pytest.mark.parametrize("when", ["first", "after"])
def test_system_exit_still_leaves_the_loop(when: str) -> None:
    # In a child process: on CPython 3.11, a SystemExit out of the loop upsets the
    # interpreter's recursion bookkeeping (ast.parse fails afterwards), eager or not.
    out = subprocess.run(
        [sys.executable, "-c", SYSTEM_EXIT, when], capture_output=True, text=True, timeout=60
    )
    assert out.stdout == "left the loop 3\n", out.stderr


@contextlib.contextmanager
def in_process(app: Any) -> Iterator[tuple[Any, Any, Any, FakeTransport]]:
    """A new loop, and an ASGI connection to ``app`` over a fake transport on it."""
    loop = asyncio.new_event_loop()
    try:
        settings = asgi.Settings(app, httpaf.Config(), access_log=False)
        protocol = asgi.ASGIProtocol(settings, loop)
        transport = FakeTransport()
        protocol.connection_made(transport)
        yield loop, settings, protocol, transport
    finally:
        loop.close()


def test_a_pipelined_request_started_from_a_task_still_runs() -> None:
    """The next pipelined request starts inside the previous call's send (a task)."""
    order: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/first":
            await asyncio.sleep(0)
        order.append(scope["path"])
        await answer(send, scope["path"].encode())

    with in_process(app) as (loop, settings, protocol, transport):
        data = b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n"
        loop.call_soon(protocol.data_received, data)
        loop.run_until_complete(asyncio.sleep(0.05))
        assert order == ["/first", "/second"]
        assert bodies(bytes(transport.data)) == [b"/first", b"/second"]
        protocol.connection_lost(None)
        loop.run_until_complete(asyncio.sleep(0))
        assert not settings.tasks


class _Awaitable:
    """An awaitable that is not a coroutine (what some ASGI 3 callables return)."""

    def __init__(self, coro: Any) -> None:
        self.coro = coro

    def __await__(self) -> Any:
        return self.coro.__await__()


def test_an_application_that_returns_another_awaitable(loop_kind: str) -> None:
    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/wait":
            await asyncio.sleep(0.01)
        await answer(send, scope["path"].encode())

    def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return _Awaitable(inner(scope, receive, send))

    async def scenario(port: int) -> bytes:
        return await raw(port, b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n" + GET + GET_CLOSE)

    assert bodies(with_server(loop_kind, app, scenario, lifespan="off")) == [b"/wait", b"/", b"/"]


def test_an_application_that_returns_no_awaitable(
    loop_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    async def scenario(port: int) -> bytes:
        return await raw(port, GET_CLOSE)

    data = with_server(loop_kind, app, scenario, lifespan="off")
    assert data.startswith(b"HTTP/1.1 500 ")
    errors = [r for r in caplog.records if r.name == "httpaf.error"]
    assert [r.getMessage() for r in errors] == ["Exception in ASGI application\n"]
    assert isinstance(errors[0].exc_info[1], TypeError)  # type: ignore[index]


def test_a_call_that_keeps_its_send_or_receive_keeps_its_exchange(loop_kind: str) -> None:
    # The previous call's receive and send, kept and used after its response ended.
    kept: list[Any] = []
    outcomes: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if kept:
            old_receive, old_send = kept.pop()
            try:
                await old_send({"type": "http.response.body", "body": b"late"})
            except RuntimeError as error:
                outcomes.append(str(error))
            outcomes.append(await old_receive())
        if path == "/keep":
            kept.append((receive, send))
        elif path == "/keep-bound":
            kept.append((receive.__self__.receive, send.__self__.send))
        await answer(send, path.encode())
        outcomes.append(scope["path"])

    async def scenario(port: int) -> list[bytes]:
        return await one_by_one(port, [b"/", b"/keep", b"/", b"/", b"/keep-bound", b"/"])

    assert with_server(loop_kind, app, scenario, lifespan="off") == [
        b"/", b"/keep", b"/", b"/", b"/keep-bound", b"/",
    ]  # fmt: skip
    late = "Unexpected ASGI message 'http.response.body' sent, after response already completed."
    disconnect = {"type": "http.disconnect"}
    assert outcomes == [
        "/", "/keep", late, disconnect, "/", "/", "/keep-bound", late, disconnect, "/",
    ]  # fmt: skip


# -- eager start --------------------------------------------------------------------


def test_a_call_that_answers_at_once_is_written_in_the_read_pass() -> None:
    """Where Python starts tasks eagerly, the response of a call that does not wait
    goes out before the loop turns; elsewhere, on the loop's next turn."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await answer(send, b"now")

    with in_process(app) as (loop, settings, protocol, transport):
        written_at_once: list[bytes] = []

        def read() -> None:  # (a read callback, inside the running loop)
            protocol.data_received(GET)
            written_at_once.append(bytes(transport.data))

        loop.call_soon(read)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert bodies(bytes(transport.data)) == [b"now"]
        assert written_at_once == [bytes(transport.data) if EAGER else b""]
        assert not settings.tasks  # nothing left to wait for at shutdown
        protocol.connection_lost(None)


def test_an_idle_connection_keeps_no_finished_task() -> None:
    """Once a call has ended, its task (and all it holds) is not kept alive by the
    connection waiting for its next request."""
    tasks: list[weakref.ref[asyncio.Task[Any]]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0)  # (a task of its own on every Python)
        tasks.append(weakref.ref(asyncio.current_task()))  # type: ignore[arg-type]
        await answer(send, b"done")

    with in_process(app) as (loop, settings, protocol, transport):
        loop.call_soon(protocol.data_received, GET)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert bodies(bytes(transport.data)) == [b"done"]
        gc.collect()
        assert len(tasks) == 1 and tasks[0]() is None
        protocol.connection_lost(None)


def test_a_loop_task_factory_makes_the_tasks() -> None:
    """A task factory installed on the loop (tracing tools do) makes every call's
    task, eager start or not."""
    made: list[Any] = []
    current: list[Any] = []

    def factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        if getattr(coro, "__qualname__", "") == "Cycle.run":
            made.append(task)
        return task

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        current.append(asyncio.current_task())
        await answer(send, b"ok")

    with in_process(app) as (loop, settings, protocol, transport):
        loop.set_task_factory(factory)
        protocol.data_received(GET)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert bodies(bytes(transport.data)) == [b"ok"]
        assert made == current and len(made) == 1
        protocol.connection_lost(None)
