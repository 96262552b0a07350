"""Run servers as subprocesses for the integration tests: start, wait, stop, always."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

APPS = Path(__file__).resolve().parent


class ServerProcess:
    """A server started as a subprocess; its output is collected by a thread.

    ``url`` is found by ``pattern`` (one group: the URL) in the merged output.
    """

    def __init__(
        self,
        args: Sequence[str],
        pattern: str = r"serving on (http://\S+)",
        *,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        full_env = dict(os.environ)
        full_env.pop("HTTPAF_TEST_PROBE", None)
        full_env["PYTHONUNBUFFERED"] = "1"
        if env:
            full_env.update(env)
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=full_env,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self.wait_for(pattern, timeout).group(1)

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything printed so far."""
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until a line matches ``pattern``; fail if the process ends first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"server exited ({self.process.returncode}) before {pattern!r}:\n"
                        + "".join(self.lines)
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r} in:\n" + "".join(self.lines))
                self._changed.wait(min(left, 0.2))

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the server (its main process)."""
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the server to exit; its status."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Stop the server (``sig``, then SIGKILL to its group if it lingers)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with_group_kill(self.process.pid)
                self.process.wait(10)
        self._reader.join(5)
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self.process.poll() is None:  # pragma: no cover
            with_group_kill(self.process.pid)


def with_group_kill(pid: int) -> None:
    """SIGKILL the process group that ``pid`` leads (a server and its workers)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def httpaf_command(*args: str, script: bool = False) -> list[str]:
    """The ``httpaf`` console script (if installed and ``script``) or ``python -m httpaf``."""
    if script:
        candidate = Path(sys.executable).with_name("httpaf")
        if candidate.exists():
            return [str(candidate), *args]
    return [sys.executable, "-m", "httpaf", *args]


def children_of(pid: int) -> set[int]:
    """The child processes of ``pid`` (Linux ``/proc``)."""
    found: set[int] = set()
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.iterdir():
        try:
            text = (task / "children").read_text()
        except OSError:
            continue
        found.update(int(x) for x in text.split())
    return found


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is true (``False`` if it never is in ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def slow_requests_during_shutdown(
    server: ServerProcess, tmp_path: Path, count: int = 4, sig: int = signal.SIGTERM
) -> list[httpx.Response | BaseException]:
    """Start ``count`` slow requests, signal the server once all are in, collect them."""
    results: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * count
    marks = [tmp_path / f"in-flight-{i}" for i in range(count)]

    def call(i: int) -> None:
        try:
            results[i] = httpx.get(
                f"{server.url}/slow",
                params={"delay": "1", "mark": str(marks[i])},
                timeout=30,
            )
        except BaseException as error:  # noqa: BLE001 - reported by the test
            results[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: all(mark.exists() for mark in marks)), server.output
    server.send_signal(sig)
    for thread in threads:
        thread.join(30)
    return results
