"""Reads that ask before they sleep: a fast server's answer taken without a wake-up.

A blocking read that finds nothing puts the thread to sleep; the answer then wakes it.
Against a server that answers within tens of microseconds (on loopback, a sidecar, a
fast service next door) the sleep and the wake-up cost more CPU time than the wait
itself, and add to it, most of all in a virtual machine. :class:`BusyReads` first asks
the socket without sleeping (``MSG_DONTWAIT``) for up to a short window
(``Config.busy_read``), and only then lets the caller sleep in a blocking read.

It learns from misses: after a window that found nothing, the next read sleeps at
once; after another miss in a row, the next two; then four, up to 64. One that finds
bytes starts over. A slow server so costs one window in 65 reads at most.
"""

from __future__ import annotations

import socket
import time

__all__ = ["BusyReads"]

#: Most reads that sleep at once after windows that found nothing.
BACKOFF_LIMIT = 64

_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_clock = time.perf_counter


class BusyReads:
    """The busy-read policy of one blocking socket (see the module docstring).

    ``window``: seconds to keep asking. The socket must be blocking without a Python
    timeout (its timeouts kept by the kernel), where a flagged read never waits.
    """

    __slots__ = ("window", "_sleeps_left", "_backoff")

    #: Whether the platform has non-blocking reads by flag (else :meth:`read` is never
    #: worth calling).
    available = bool(_DONTWAIT)

    def __init__(self, window: float) -> None:
        self.window = window
        self._sleeps_left = 0  # reads left that go to sleep at once
        self._backoff = 1  # how many the next miss leaves

    def read(self, sock: socket.socket, view: memoryview) -> int:
        """Bytes read into ``view`` without sleeping within the window (0: the end of
        the stream), or -1: the caller sleeps in a blocking read. Errors other than
        finding nothing are raised."""
        if self._sleeps_left:
            self._sleeps_left -= 1
            return -1
        recv_into = sock.recv_into
        deadline = _clock() + self.window
        while True:
            try:
                n = recv_into(view, 0, _DONTWAIT)
            except BlockingIOError:
                if _clock() >= deadline:
                    break
                continue
            self._backoff = 1
            return n
        self._sleeps_left = self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_LIMIT)
        return -1
