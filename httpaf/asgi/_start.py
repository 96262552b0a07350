"""Starting an application call: eagerly where Python has eager tasks, else as a task.

A call starts from inside the read pass that parsed its request. Where asyncio can
start a task eagerly (Python 3.12+: ``asyncio.Task``'s ``eager_start``), its first step
runs at once: a response given without waiting goes out in the same read-and-write
pass, and a call that ends in that step is never scheduled. Elsewhere (3.11, or a loop
that is not an asyncio event loop, such as a test double) it is an ordinary task,
which runs on the loop's next turn. Either way the application runs in a task of its
own, with its own copy of the connection's context, and only public asyncio APIs are
used.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["EAGER", "next_turn", "start_task"]

#: Whether this Python starts tasks eagerly (``asyncio.Task(..., eager_start=True)``).
EAGER = sys.version_info >= (3, 12)

Starter = Callable[[Any, Coroutine[Any, Any, None], contextvars.Context], Any]


def _eager_task(loop: Any, coro: Coroutine[Any, Any, None], context: contextvars.Context) -> Any:
    if loop.get_task_factory() is not None:
        # A factory of the application's (tracing tools install one) makes the task.
        task = loop.create_task(coro, context=context)
    else:  # (what asyncio.eager_task_factory does, without its extra call)
        task = asyncio.Task(coro, loop=loop, context=context, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    return None if task.done() else task


def _task(loop: Any, coro: Coroutine[Any, Any, None], context: contextvars.Context) -> Any:
    if sys.version_info >= (3, 11):
        return loop.create_task(coro, context=context)
    return context.run(loop.create_task, coro)  # pragma: no cover - 3.10


def _task_of_double(
    loop: Any, coro: Coroutine[Any, Any, None], context: contextvars.Context
) -> Any:
    return loop.create_task(coro)  # (a loop double's create_task takes no context)


def start_task(loop: Any) -> Starter:
    """How calls start on ``loop``: ``starter(loop, coro, context)`` returns the task,
    or ``None`` when the call ended in its first step (started eagerly)."""
    if not isinstance(loop, asyncio.AbstractEventLoop):
        return _task_of_double
    return _eager_task if EAGER else _task


@types.coroutine
def next_turn() -> Generator[None, None, None]:
    """Let the loop turn once (a bare yield, as ``asyncio.sleep(0)`` does)."""
    yield
