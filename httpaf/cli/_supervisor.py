"""The parent of ``--workers N``: forks the workers, checks their health, replaces them.

The parent binds the socket and never imports the application; each worker does,
after the fork. A worker that exits is replaced (one that could not start stops them
all: it would fail the same way again); one that leaves a health check unanswered for
``--timeout-worker-healthcheck`` seconds is killed, then replaced. SIGINT and SIGTERM
stop the workers gracefully (a second one kills them); SIGHUP replaces them one by one,
each old worker retired once its replacement listens; SIGTTIN and SIGTTOU add and
remove one. Signals are recorded by tiny handlers and noticed through
``signal.set_wakeup_fd`` (portable to every Unix, unlike ``sigtimedwait``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import time
from typing import Any

from ._options import Options
from ._sockets import bind_socket
from ._worker import BOOT_ERROR, serve_in_process

__all__ = ["Supervisor"]

logger = logging.getLogger("httpaf.cli")

#: Seconds between two health checks of a worker.
PING_INTERVAL = 1.0


class _Worker:
    """A forked worker as the parent sees it."""

    def __init__(self, pid: int, conn: socket.socket) -> None:
        self.pid = pid
        self.conn = conn  # the parent's end of its health-check socket
        self.born = time.monotonic()
        self.ready = False  # it answered that it listens
        self.ping_sent: float | None = None  # a check waiting for its answer
        self.last_ping = 0.0
        self.retiring = False  # told to stop: not replaced when it exits
        self.replaces: _Worker | None = None  # the old worker it takes over from


class Supervisor:
    """Runs ``options.worker_count()`` workers serving on ``sock`` until stopped."""

    SIGNALS = tuple(
        getattr(signal, name)
        for name in ("SIGINT", "SIGTERM", "SIGCHLD", "SIGHUP", "SIGTTIN", "SIGTTOU")
        if hasattr(signal, name)
    )

    def __init__(self, options: Options, sock: socket.socket) -> None:
        self.options = options
        self.sock = sock
        self.target = options.worker_count()
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self.exit_code = 0
        self.received: list[int] = []
        self.restart_queue: list[_Worker] = []  # old workers SIGHUP replaces, in turn
        self._pipe: tuple[int, int] | None = None
        self._previous: dict[int, Any] = {}

    # -- processes -------------------------------------------------------------------

    def spawn(self) -> _Worker:
        """Fork a worker."""
        parent_end, child_end = socket.socketpair()
        # Until the child has its own handlers, the parent's would only record a signal
        # meant for it (a SIGTERM right after the fork would be lost): block them.
        signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
            raise
        if pid == 0:  # the child
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                for sig in self.SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
                if self._pipe is not None:
                    for fd in self._pipe:
                        os.close(fd)
                parent_end.close()
                for other in self.workers.values():
                    other.conn.close()
                sock = self.sock
                if self.options.reuse_port:
                    host, port = sock.getsockname()[:2]
                    sock = bind_socket(host, port, backlog=self.options.backlog, reuse_port=True)
                code = serve_in_process(
                    self.options, sock, announce=None, multiprocess=True, health=child_end
                )
            except BaseException:
                logger.exception("worker failed")
            finally:
                logging.shutdown()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
        child_end.close()
        parent_end.setblocking(False)
        worker = self.workers[pid] = _Worker(pid, parent_end)
        return worker

    def signal_worker(self, worker: _Worker, sig: int) -> None:
        """Send ``sig`` to ``worker`` if it is still ours."""
        if worker.pid in self.workers:  # (a reaped pid may belong to another process)
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, sig)

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every worker."""
        for worker in list(self.workers.values()):
            self.signal_worker(worker, sig)

    def serving(self) -> list[_Worker]:
        """The workers that count towards the target (not retiring, not replacements)."""
        return [w for w in self.workers.values() if not w.retiring and w.replaces is None]

    # -- the loop --------------------------------------------------------------------

    def _record(self, signum: int, frame: object) -> None:
        self.received.append(signum)

    def run(self) -> int:
        """Start the workers and supervise them until they have all stopped."""
        read_fd, write_fd = self._pipe = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd)
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._record)
        try:
            for _ in range(self.target):
                self.spawn()
            return self._supervise(read_fd)
        finally:
            signal.set_wakeup_fd(-1)
            for sig, previous in self._previous.items():
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            os.close(read_fd)
            os.close(write_fd)
            for worker in self.workers.values():
                worker.conn.close()

    def _supervise(self, read_fd: int) -> int:
        deadline: float | None = None
        while self.workers:
            conns = {w.conn.fileno(): w for w in self.workers.values() if w.conn.fileno() >= 0}
            readable, _, _ = select.select([read_fd, *conns], [], [], 0.25)
            with contextlib.suppress(BlockingIOError):
                while os.read(read_fd, 512):
                    pass
            for fd in readable:
                if fd in conns:
                    self._answer(conns[fd])
            received, self.received = self.received, []
            for signum in received:
                self._handle(signum)
            self.reap()
            if not self.stopping:
                self._check_health()
                self._continue_restart()
            if self.stopping and deadline is None:
                grace = self.options.timeout_graceful_shutdown
                deadline = float("inf") if grace is None else time.monotonic() + grace + 5
            if deadline is not None and time.monotonic() >= deadline and self.workers:
                logger.warning("workers did not stop in time: killing them")
                self.kill_all(signal.SIGKILL)
                deadline = time.monotonic() + 5
        return self.exit_code

    def _handle(self, signum: int) -> None:
        if signum in (signal.SIGINT, signal.SIGTERM):
            if self.stopping:
                self.kill_all(signal.SIGKILL)  # a second signal: now
            else:
                logger.info("stopping the workers")
                self.stop()
        elif self.stopping:
            return
        elif signum == signal.SIGHUP:
            logger.info("SIGHUP: replacing the workers one by one")
            self.restart_queue = list(self.serving())
        elif signum == getattr(signal, "SIGTTIN", None):
            self.target += 1
            logger.info("SIGTTIN: %d workers", self.target)
            self.spawn()
        elif signum == getattr(signal, "SIGTTOU", None):
            if self.target <= 1:
                logger.info("SIGTTOU: already one worker")
                return
            self.target -= 1
            logger.info("SIGTTOU: %d workers", self.target)
            newest = max(self.serving(), key=lambda w: w.born, default=None)
            if newest is not None:
                newest.retiring = True
                self.signal_worker(newest, signal.SIGTERM)

    def stop(self) -> None:
        """Stop every worker gracefully (SIGTERM); none is replaced any more."""
        self.stopping = True
        self.restart_queue = []
        for worker in self.workers.values():
            worker.retiring = True
        self.kill_all(signal.SIGTERM)

    # -- health checks and rolling restarts ------------------------------------------

    def _answer(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # it is exiting: reap() will see it
            worker.conn.close()
            return
        worker.ping_sent = None
        if data.endswith(b"1") and not worker.ready:
            worker.ready = True
            old = worker.replaces
            if old is not None:  # a replacement listens: retire the old worker
                worker.replaces = None
                old.retiring = True
                self.signal_worker(old, signal.SIGTERM)

    def _check_health(self) -> None:
        now = time.monotonic()
        timeout = self.options.timeout_worker_healthcheck
        for worker in list(self.workers.values()):
            if worker.conn.fileno() < 0 or worker.retiring:
                continue
            if worker.ping_sent is not None:
                if now - worker.ping_sent > timeout:
                    logger.error(
                        "worker %d did not answer a health check within %ss: killing it",
                        worker.pid,
                        timeout,
                    )
                    worker.ping_sent = None
                    self.signal_worker(worker, signal.SIGKILL)
            elif now - worker.last_ping >= PING_INTERVAL:
                with contextlib.suppress(OSError):
                    worker.conn.send(b"?")
                    worker.ping_sent = worker.last_ping = now

    def _continue_restart(self) -> None:
        pending = [w for w in self.workers.values() if w.replaces is not None]
        if pending:
            new = pending[0]
            if time.monotonic() - new.born > self.options.timeout_worker_healthcheck:
                logger.error(
                    "new worker %d was not ready in time: keeping worker %d, restart aborted",
                    new.pid,
                    new.replaces.pid if new.replaces else 0,
                )
                new.replaces = None
                new.retiring = True
                self.restart_queue = []
                self.signal_worker(new, signal.SIGKILL)
            return
        while self.restart_queue:
            old = self.restart_queue.pop(0)
            if old.pid in self.workers and not old.retiring:
                self.spawn().replaces = old
                return

    def reap(self) -> None:
        """Collect the workers that exited; replace those that should be."""
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            worker.conn.close()
            code = os.waitstatus_to_exitcode(status)
            if worker.replaces is not None:  # a replacement that died before listening
                logger.error("new worker %d exited (%s): restart aborted", pid, code)
                self.restart_queue = []
                continue
            if self.stopping or worker.retiring:
                continue
            if code == BOOT_ERROR:
                logger.error("worker %d could not start: stopping", pid)
                self.exit_code = BOOT_ERROR
                self.stop()
                continue
            if code == 0:
                logger.info("worker %d exited: starting another", pid)
            else:
                logger.warning("worker %d exited (%s): starting another", pid, code)
                if time.monotonic() - worker.born < 1.0:
                    time.sleep(0.5)  # do not spin on a worker that dies at once
            if len(self.serving()) < self.target:
                self.spawn()
