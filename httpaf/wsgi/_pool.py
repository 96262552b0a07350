"""The bounded pool of threads that WSGI application calls run in."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from httpaf._logs import error_logger as logger

__all__ = ["ThreadPool"]


class ThreadPool:
    """At most ``size`` daemon threads, started on demand, fed from one queue.

    Daemon threads, unlike ``concurrent.futures``' workers, never hold the interpreter
    open at exit if an application blocks forever.
    """

    def __init__(self, size: int, name: str = "httpaf-wsgi") -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ValueError(f"threads must be a positive int, not {size!r}")
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in a worker thread (later, if all are busy)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the thread pool is shut down")
            # _idle: idle threads minus tasks waiting for one.
            if self._idle <= 0 and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1
        self._queue.put(fn)

    def _work(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None:
                return
            try:
                fn()
            except BaseException:  # pragma: no cover - Exchange.run catches everything
                logger.exception("uncaught error in a WSGI worker thread")
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: float | None = None) -> None:
        """Let the threads finish their work and exit; wait up to ``wait`` seconds."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            deadline = time.monotonic() + wait
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))


# -- wsgi.file_wrapper -----------------------------------------------------------------
