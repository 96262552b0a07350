"""A thread-safe pool of blocking client connections, per route, within limits.

The same policy as :mod:`httpaf.aio.pool` (newest idle connection first, limits in
total and per host, keep-alive expiry, ``max_keepalive_connections``), with a lock and
a condition instead of futures. An idle connection is checked before reuse: one the
server closed meanwhile (or wrote to) is readable, and is dropped.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Any

from httpaf.model import Config
from httpaf.net import (
    ConnectError,
    ConnectTimeout,
    Limits,
    PoolTimeout,
    ProxyError,
    Route,
    TraceStream,
    TransportError,
    Tunnel,
)

from .connection import SyncConnection

__all__ = ["SyncPool", "open_connection"]

#: Seconds a thread waits for a free connection before it looks again.
_WAIT_SLICE = 0.1


def open_connection(route: Route, timeout: float | None, config: Config,
                    expiry: float | None, trace: Any = None) -> SyncConnection:
    """A blocking connection on ``route`` within ``timeout`` (:class:`ConnectTimeout`).

    ``trace(event, info)`` hears of the steps by the names of httpx's ``trace``
    extension (``connection.connect_tcp.started``...).
    """
    if trace is None:
        return _open(route, timeout, config, expiry)
    step = "connection.connect_unix_socket" if route.uds else "connection.connect_tcp"
    trace(f"{step}.started", {"host": route.host, "port": route.port,
                              "local_address": route.local_address, "timeout": timeout,
                              "socket_options": route.socket_options})
    try:
        conn = _open(route, timeout, config, expiry)
    except BaseException as error:
        trace(f"{step}.failed", {"exception": error})
        raise
    stream = TraceStream(conn.sock)
    trace(f"{step}.complete", {"return_value": stream})
    if route.ssl is not None or route.tunnel_ssl is not None:
        trace("connection.start_tls.started", {"ssl_context": route.ssl or route.tunnel_ssl,
                                               "server_hostname": route.host,
                                               "timeout": timeout})
        trace("connection.start_tls.complete", {"return_value": stream})
    return conn


def _open(route: Route, timeout: float | None, config: Config,
          expiry: float | None) -> SyncConnection:
    try:
        sock = _connect(route, timeout)
        try:
            if route.ssl is not None:
                sock = route.ssl.wrap_socket(
                    sock, server_hostname=route.server_hostname or route.host
                )
            if route.tunnel is not None:
                sock = _tunnel(sock, route)
        except BaseException:
            sock.close()
            raise
    except TimeoutError:
        raise ConnectTimeout(
            f"connecting to {route.host}:{route.port} took over {timeout} s"
        ) from None
    except (OSError, ssl.SSLError, ssl.CertificateError) as error:
        raise ConnectError(f"cannot connect to {route.host}:{route.port}: {error}") from error
    conn = SyncConnection(sock, config, route.key, expiry)
    if route.forward:
        conn.forward = True
        conn.proxy_headers = route.proxy_headers
    return conn


def _connect(route: Route, timeout: float | None) -> socket.socket:
    if route.uds is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(route.uds)
        except BaseException:
            sock.close()
            raise
        return sock
    local = (route.local_address, 0) if route.local_address else None
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(
        route.host, route.port, type=socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in route.socket_options or ():
                sock.setsockopt(*option)
            if local is not None:
                sock.bind(local)
            sock.connect(address)
            return sock
        except TimeoutError:
            sock.close()
            raise
        except OSError as failure:
            sock.close()
            error = failure
    raise error if error is not None else OSError(f"cannot resolve {route.host}")


def _tunnel(sock: socket.socket, route: Route) -> socket.socket:
    """``CONNECT`` through the proxy on ``sock``, then TLS with the origin inside."""
    tunnel = Tunnel(route)
    sock.sendall(tunnel.request)
    while True:
        data = sock.recv(65536)
        if not data:
            raise tunnel.closed()
        if tunnel.feed(data) is not None:
            break
    if route.tunnel_ssl is None:
        return sock
    if isinstance(sock, ssl.SSLSocket):
        raise ProxyError("TLS inside a TLS tunnel is not supported here")
    return route.tunnel_ssl.wrap_socket(sock, server_hostname=tunnel.origin_hostname)


class _Route:
    __slots__ = ("idle", "count")

    def __init__(self) -> None:
        self.idle: deque[SyncConnection] = deque()
        self.count = 0  # open or opening


class SyncPool:
    """Blocking connections per route (see the module docstring)."""

    def __init__(self, limits: Limits, config: Config) -> None:
        self.limits = limits
        self.config = config
        self._routes: dict[Hashable, _Route] = {}
        self._total = 0
        self._idle = 0
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._waiting = 0  # threads in _freed.wait (none: a release wakes nobody)
        self._closed = False
        # Connections of responses dropped while the lock was taken (give_up).
        self._given_up: deque[SyncConnection] = deque()

    @property
    def connections(self) -> int:
        """Connections open or being opened."""
        return self._total

    @property
    def idle_connections(self) -> int:
        """Connections waiting for reuse."""
        return self._idle

    def acquire(self, route: Route, connect_timeout: float | None,
                pool_timeout: float | None, fresh: bool = False,
                trace: Any = None) -> SyncConnection:
        """An idle connection (unless ``fresh``), a new one, or one freed in time."""
        deadline = None if pool_timeout is None else time.monotonic() + pool_timeout
        key = route.key
        with self._lock:
            while True:
                if self._closed:
                    raise TransportError("the client is closed")
                self._drop_given_up()
                entry = self._routes.get(key)
                if entry is None:
                    entry = self._routes[key] = _Route()
                if not fresh:
                    conn = self._take_idle(entry)
                    if conn is not None:
                        return conn
                if self._room(entry):
                    entry.count += 1
                    self._total += 1
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PoolTimeout(f"no connection became free within {pool_timeout} seconds")
                self._waiting += 1
                try:
                    # (In slices: a connection given up while the lock was taken frees
                    # its slot without a wakeup; the next slice sees it.)
                    self._freed.wait(_WAIT_SLICE if left is None else min(left, _WAIT_SLICE))
                finally:
                    self._waiting -= 1
        try:
            return open_connection(route, connect_timeout, self.config,
                                   self.limits.keepalive_expiry, trace)
        except BaseException:
            with self._lock:
                entry.count -= 1
                self._total -= 1
                self._wake()
            raise

    def release(self, conn: SyncConnection) -> None:
        """``conn`` is idle again: kept for reuse, or closed."""
        with self._lock:
            self._drop_given_up()
            entry = self._routes.get(conn.key)
            keep = self.limits.max_keepalive_connections
            if (
                entry is None
                or self._closed
                or conn.closed
                or not conn.conn.is_idle
                or (keep is not None and self._idle >= keep)
            ):
                self._drop(conn, entry)
                return
            conn.idle_since = time.monotonic()
            entry.idle.append(conn)
            self._idle += 1
            self._wake()

    def discard(self, conn: SyncConnection) -> None:
        """``conn`` cannot be reused: closed, its slot freed."""
        with self._lock:
            self._drop_given_up()
            self._drop(conn, self._routes.get(conn.key))

    def give_up(self, conn: SyncConnection) -> None:
        """:meth:`discard` from a finalizer (a response dropped unclosed): now if the
        lock is free, else by the next call that takes it (the finalizer may run in
        the middle of one, on this thread)."""
        if self._lock.acquire(blocking=False):
            try:
                self._drop(conn, self._routes.get(conn.key))
            finally:
                self._lock.release()
        else:
            self._given_up.append(conn)

    def close(self) -> None:
        """Close the idle connections; connections in use close when released."""
        with self._lock:
            self._closed = True
            self._drop_given_up()
            for entry in self._routes.values():
                while entry.idle:
                    conn = entry.idle.pop()
                    self._idle -= 1
                    self._drop(conn, entry)
            self._freed.notify_all()

    # -- inside (the lock held) ------------------------------------------------------

    def _drop(self, conn: SyncConnection, entry: _Route | None) -> None:
        conn.close()
        if entry is not None and conn.counted:
            conn.counted = False
            entry.count -= 1
            self._total -= 1
        self._wake()

    def _drop_given_up(self) -> None:
        given_up = self._given_up
        while given_up:
            conn = given_up.popleft()
            self._drop(conn, self._routes.get(conn.key))

    def _wake(self) -> None:
        # One waiting thread, if any, may take the freed slot or connection.
        if self._waiting:
            self._freed.notify()

    def _take_idle(self, entry: _Route) -> SyncConnection | None:
        idle = entry.idle
        expiry = self.limits.keepalive_expiry
        now = time.monotonic() if expiry is not None and idle else 0.0
        while idle:
            conn = idle.pop()
            self._idle -= 1
            since = conn.idle_since
            if (expiry is None or since is None or now - since < expiry) and conn.usable():
                return conn
            self._drop(conn, entry)
        return None

    def _room(self, entry: _Route) -> bool:
        per_host = self.limits.max_connections_per_host
        if per_host is not None and entry.count >= per_host:
            return False
        limit = self.limits.max_connections
        if limit is not None and self._total >= limit:
            # Make room by closing the oldest idle connection of any route.
            oldest: tuple[float, SyncConnection, _Route] | None = None
            for other in self._routes.values():
                if other.idle:
                    first = other.idle[0]
                    since = first.idle_since or 0.0
                    if oldest is None or since < oldest[0]:
                        oldest = (since, first, other)
            if oldest is None:
                return False
            _, conn, other = oldest
            other.idle.remove(conn)
            self._idle -= 1
            self._drop(conn, other)
        return True
