"""The listening socket: TCP, a Unix socket, or an inherited file descriptor."""

from __future__ import annotations

import contextlib
import os
import socket
import stat

__all__ = ["bind_socket", "describe"]


def bind_socket(
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    uds: str | None = None,
    fd: int | None = None,
    backlog: int = 2048,
    reuse_port: bool = False,
    listen: bool = True,
) -> socket.socket:
    """A listening, non-blocking socket: a Unix socket at ``uds``, the inherited file
    descriptor ``fd``, or TCP on ``host:port`` (``SO_REUSEPORT`` if ``reuse_port``)."""
    if fd is not None:
        sock = socket.socket(fileno=fd)
    elif uds is not None:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(uds).st_mode):
                os.unlink(uds)  # a stale socket from an earlier run
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(uds)
        os.chmod(uds, 0o666)
    else:
        family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError:
            sock.close()
            raise
    if listen:
        sock.listen(backlog)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def describe(sock: socket.socket, scheme: str) -> str:
    """Where ``sock`` listens, as a URL (``unix:/path`` for Unix sockets)."""
    if sock.family == socket.AF_UNIX:
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
