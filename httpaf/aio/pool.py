"""A pool of client connections, per route, within limits.

A route (an origin, or an origin through a proxy) has its idle connections, reused
newest first; the pool opens a new one while both the total and the per-host limits
allow, and otherwise queues the request until a connection is released (handed
straight to the first waiter for its route) or closed (a slot frees up). When the
total limit is reached while idle connections of other routes wait for reuse, the
oldest of those is closed to make room. Idle connections close after the keep-alive
expiry (their own timer) and beyond ``max_keepalive_connections``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from httpaf.net import Limits, PoolTimeout, TransportError

from .pooled import PooledProtocol

__all__ = ["Pool", "Opener"]

#: Opens a connection for a route: ``opener(route, connect_timeout, trace)``.
Opener = Callable[[Any, "float | None", Any], Awaitable[PooledProtocol]]


class _Route:
    """The connections of one route."""

    __slots__ = ("idle", "conns")

    def __init__(self) -> None:
        self.idle: deque[PooledProtocol] = deque()  # newest last
        self.conns: set[PooledProtocol] = set()  # open (or opening: counted in opening)


class _Waiter:
    __slots__ = ("key", "future")

    def __init__(self, key: Hashable, future: asyncio.Future[PooledProtocol | None]) -> None:
        self.key = key
        self.future = future


class Pool:
    """Connections per route, opened with ``opener``, within ``limits``."""

    def __init__(self, limits: Limits, opener: Opener) -> None:
        self.limits = limits
        self._opener = opener
        self._routes: dict[Hashable, _Route] = {}
        self._opening: dict[Hashable, int] = {}
        self._total = 0  # open and opening
        self._idle = 0
        self._waiters: deque[_Waiter] = deque()
        self._closed = False

    # -- what the session asks ---------------------------------------------------------

    @property
    def connections(self) -> int:
        """Connections open or being opened."""
        return self._total

    @property
    def idle_connections(self) -> int:
        """Connections waiting for reuse."""
        return self._idle

    def take_idle(self, key: Hashable, checked: bool = False) -> PooledProtocol | None:
        """An idle connection of ``key``'s route, newest first, or ``None`` (no wait).

        ``checked``: see :meth:`PooledProtocol.reusable` (a request that is not sent
        again when a connection turns out closed)."""
        route = self._routes.get(key)
        if route is None:
            return None
        idle = route.idle
        while idle:
            proto = idle.pop()
            self._idle -= 1
            if proto.reusable(checked):
                return proto
            proto.close()
        return None

    async def acquire(
        self,
        key: Hashable,
        route_info: Any,
        connect_timeout: float | None,
        pool_timeout: float | None,
        fresh: bool = False,
        trace: Any = None,
        checked: bool = False,
    ) -> PooledProtocol:
        """A connection for ``key``: an idle one (unless ``fresh``; ``checked`` as in
        :meth:`take_idle`), a new one, or the first one released, within
        ``pool_timeout`` (:class:`PoolTimeout`)."""
        if self._closed:
            raise TransportError("the client is closed")
        while True:
            if not fresh:
                proto = self.take_idle(key, checked)
                if proto is not None:
                    return proto
            if self._room(key):
                return await self._open(key, route_info, connect_timeout, trace)
            proto = await self._wait(key, pool_timeout)
            if proto is not None:
                # (Handed over as it went idle: checked as take_idle checks.)
                if proto.reusable(checked):
                    return proto
                proto.close()  # its slot is free now: try again

    def release(self, proto: PooledProtocol) -> None:
        """``proto`` finished an exchange and is idle: to a waiter, or kept."""
        key = proto.key
        route = self._routes.get(key)
        if route is None or proto not in route.conns or self._closed:
            proto.close()
            return
        for waiter in self._waiters:
            if waiter.key == key and not waiter.future.done():
                self._waiters.remove(waiter)
                waiter.future.set_result(proto)
                return
        keep = self.limits.max_keepalive_connections
        if keep is not None and self._idle >= keep:
            proto.close()
            return
        route.idle.append(proto)
        self._idle += 1
        if self._waiters and self._full():
            # Someone waits for a slot on another route: this one makes room.
            self._close_oldest_idle()

    def forget(self, proto: PooledProtocol) -> None:
        """``proto`` closed: its slot is free."""
        route = self._routes.get(proto.key)
        if route is None or proto not in route.conns:
            return
        route.conns.discard(proto)
        try:
            route.idle.remove(proto)
            self._idle -= 1
        except ValueError:
            pass
        self._total -= 1
        if not route.conns and not route.idle and not self._opening.get(proto.key):
            del self._routes[proto.key]
        self._wake_one()

    async def aclose(self) -> None:
        """Close every connection; requests waiting for one fail."""
        self._closed = True
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(TransportError("the client is closed"))
        self._waiters.clear()
        protos = [p for route in self._routes.values() for p in route.conns]
        for proto in protos:
            proto.close()
        await asyncio.gather(*(p.wait_closed() for p in protos), return_exceptions=True)

    # -- inside ----------------------------------------------------------------------

    def _full(self) -> bool:
        limit = self.limits.max_connections
        return limit is not None and self._total >= limit

    def _room(self, key: Hashable) -> bool:
        """Whether a new connection for ``key`` may be opened (making room if needed)."""
        per_host = self.limits.max_connections_per_host
        if per_host is not None:
            route = self._routes.get(key)
            count = (len(route.conns) if route is not None else 0) + self._opening.get(key, 0)
            if count >= per_host:
                return False
        if self._full():
            if not self._close_oldest_idle():
                return False
        return True

    def _close_oldest_idle(self) -> bool:
        oldest: PooledProtocol | None = None
        for route in self._routes.values():
            if route.idle:
                first = route.idle[0]
                if oldest is None or (first.idle_since or 0.0) < (oldest.idle_since or 0.0):
                    oldest = first
        if oldest is None:
            return False
        oldest.close()  # forget() frees its slot now
        return True

    async def _open(
        self, key: Hashable, route_info: Any, timeout: float | None, trace: Any
    ) -> PooledProtocol:
        self._total += 1
        self._opening[key] = self._opening.get(key, 0) + 1
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = _Route()
        opened = False
        try:
            proto = await self._opener(route_info, timeout, trace)
            opened = True
        finally:
            left = self._opening[key] - 1
            if left:
                self._opening[key] = left
            else:
                del self._opening[key]
            if not opened:
                self._total -= 1
                if not route.conns and not route.idle and not self._opening.get(key):
                    self._routes.pop(key, None)
                self._wake_one()
        if self._closed:
            proto.close()
            raise TransportError("the client is closed")
        proto.pool = self
        proto.key = key
        route.conns.add(proto)
        if self._routes.get(key) is not route:
            self._routes[key] = route
        return proto

    async def _wait(self, key: Hashable, timeout: float | None) -> PooledProtocol | None:
        future: asyncio.Future[PooledProtocol | None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(key, future)
        self._waiters.append(waiter)
        try:
            if timeout is None:
                return await future
            # (wait_for, not asyncio.timeout: Python 3.10 has no asyncio.timeout)
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise PoolTimeout(f"no connection became free within {timeout} seconds") from None
        except BaseException:
            # Cancelled: a connection handed over meanwhile goes back, a wakeup on.
            if future.done() and not future.cancelled() and future.exception() is None:
                proto = future.result()
                if proto is not None:
                    self.release(proto)
                else:
                    self._wake_one()
            raise
        finally:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass

    def _wake_one(self) -> None:
        """A slot freed up: the first waiter tries again."""
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_result(None)
                return
