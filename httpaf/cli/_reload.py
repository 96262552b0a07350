"""``--reload``: a supervisor that restarts the worker when a watched file changes.

The reloader binds the socket, watches directories with ``watchfiles`` and starts the
worker as a fresh interpreter (``multiprocessing``'s spawn: nothing the reloader's
process imported is reused, so every change is seen), handing it the socket. On a
change that the filters keep it stops the worker gracefully and starts another. A
worker that cannot start (a syntax error in the application, say) leaves the reloader
waiting for the next change.

What is watched follows uvicorn's ``--reload-dir``, ``--reload-include`` and
``--reload-exclude``: the directories given (the current one by default), plus the
include patterns that name directories, less the exclude patterns that do; a changed
file counts when its path matches an include pattern (``*.py`` unless excluded) and
no exclude pattern (``.*``, ``.py[cod]``, ``.sw.*``, ``~*`` unless included) nor
excluded directory. ``--reload-delay`` seconds pass between two looks at the changes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._logging import configure_logging
from ._options import Options
from ._worker import serve_in_process

__all__ = ["FileFilter", "Reloader", "require_watchfiles", "watched_directories"]

logger = logging.getLogger("httpaf.cli")

DEFAULT_INCLUDES = ["*.py"]
DEFAULT_EXCLUDES = [".*", ".py[cod]", ".sw.*", "~*"]


def _listed(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(dict.fromkeys(value))


def _is_dir(path: Path) -> bool:
    try:
        return path.resolve().is_dir()
    except OSError:
        return False


def _pattern_directories(patterns: Iterable[str]) -> list[Path]:
    """The directories that ``patterns`` name, or match in the current directory."""
    found: list[Path] = []
    cwd = Path.cwd()
    for pattern in patterns:
        if pattern == ".*":  # would be every hidden directory: never meant
            continue
        if _is_dir(Path(pattern)):
            found.append(Path(pattern))
            continue
        try:
            found.extend(match for match in cwd.glob(pattern) if _is_dir(match))
        except (ValueError, OSError):  # not a glob pathlib takes
            continue
    return found


def watched_directories(options: Options) -> list[Path]:
    """The directories to watch: the outermost of those given and those the include
    patterns name, less those under an excluded directory; the current one if none."""
    given = [Path(d) for d in _listed(options.reload_dirs)]
    named = _pattern_directories(_listed(options.reload_includes))
    candidates = {p.resolve() for p in given + named}
    excluded = {p.resolve() for p in _pattern_directories(_listed(options.reload_excludes))}
    kept = {
        d for d in candidates if _is_dir(d) and not any(d == e or e in d.parents for e in excluded)
    }
    outermost = sorted(d for d in kept if not any(p in kept for p in d.parents))
    if not outermost:
        if given:
            logger.warning(
                "the reload directories %s hold no directory to watch: watching the "
                "current directory",
                [str(d) for d in given],
            )
        outermost = [Path.cwd()]
    return outermost


class FileFilter:
    """Whether a changed path should restart the worker (see the module's docstring)."""

    def __init__(self, options: Options) -> None:
        includes = _listed(options.reload_includes)
        excludes = _listed(options.reload_excludes)
        self.includes = list(
            dict.fromkeys([p for p in DEFAULT_INCLUDES if p not in excludes] + includes)
        )
        self.excludes = [p for p in DEFAULT_EXCLUDES if p not in includes]
        self.exclude_dirs: list[Path] = []
        for pattern in excludes:
            if _is_dir(Path(pattern)):
                self.exclude_dirs.append(Path(pattern).resolve())
            elif pattern not in self.excludes:
                self.excludes.append(pattern)

    def __call__(self, path: Path) -> bool:
        for include in self.includes:
            if not path.match(include):
                continue
            if str(path).endswith(include):
                return True  # named exactly
            if any(d in path.parents for d in self.exclude_dirs):
                return False
            return not any(path.match(exclude) for exclude in self.excludes)
        return False


def require_watchfiles() -> Any:
    """The ``watchfiles`` module; ``RuntimeError`` saying how to install it if missing."""
    try:
        import watchfiles
    except ImportError:
        raise RuntimeError("--reload needs watchfiles: pip install 'httpaf[reload]'") from None
    return watchfiles


def _display(path: Path) -> str:
    try:
        return f"'{path.relative_to(Path.cwd())}'"
    except ValueError:
        return f"'{path}'"


def _worker_main(options: Options, sock: socket.socket) -> None:
    """The worker process (a fresh interpreter): logging as the reloader's, then serve."""
    configure_logging(
        options.log_config, log_level=options.log_level_number(), use_colors=options.use_colors
    )
    raise SystemExit(serve_in_process(options, sock, announce=None, multiprocess=False))


class Reloader:
    """Runs the worker on ``sock`` and restarts it on changes, until SIGINT or SIGTERM.

    ``options.log_config`` must already be read (:func:`read_log_config`): the worker
    gets a copy of ``options``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, options: Options, sock: socket.socket) -> None:
        self._watch = require_watchfiles().watch
        self.options = options
        self.sock = sock
        self.directories = watched_directories(options)
        self.filter = FileFilter(options)
        self.should_exit = threading.Event()
        self.process: Any = None
        self._context = multiprocessing.get_context("spawn")
        self._reported_exit = False
        self._previous: dict[int, Any] = {}

    def _signal(self, signum: int, frame: object) -> None:
        if self.should_exit.is_set() and self.process is not None and self.process.is_alive():
            self.process.kill()  # a second signal: now
        self.should_exit.set()

    def start(self) -> None:
        """Start a worker: a fresh interpreter, handed the socket."""
        self.process = self._context.Process(
            target=_worker_main, args=(self.options, self.sock), name="httpaf-worker"
        )
        self.process.start()
        self._reported_exit = False

    def stop_worker(self) -> None:
        """Stop the worker gracefully (SIGTERM) and wait for it."""
        process = self.process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
        process.join()
        self.process = None

    def _check_worker(self) -> None:
        process = self.process
        if process is not None and not process.is_alive() and not self._reported_exit:
            self._reported_exit = True
            logger.warning(
                "the worker exited (%s): waiting for changes to restart it", process.exitcode
            )

    def run(self) -> int:
        """Watch and restart until SIGINT or SIGTERM; the exit status."""
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._signal)
        try:
            logger.info(
                "Will watch for changes in these directories: %s",
                [str(d) for d in self.directories],
            )
            logger.info("Started reloader process [%d] using WatchFiles", os.getpid())
            self.start()
            watcher = self._watch(
                *self.directories,
                watch_filter=None,
                stop_event=self.should_exit,
                yield_on_timeout=True,
                rust_timeout=1000,
                ignore_permission_denied=True,
            )
            while not self.should_exit.wait(self.options.reload_delay):
                changes = next(watcher, None)
                if changes is None or self.should_exit.is_set():
                    break
                self._check_worker()
                paths = sorted({Path(p) for _, p in changes if self.filter(Path(p))})
                if paths:
                    logger.warning(
                        "WatchFiles detected changes in %s. Reloading...",
                        ", ".join(map(_display, paths)),
                    )
                    self.stop_worker()
                    self.start()
            self.stop_worker()
            logger.info("Stopping reloader process [%d]", os.getpid())
            return 0
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, signal.SIG_DFL if previous is None else previous)
