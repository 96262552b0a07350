"""The ``httpaf`` command: serve an ASGI or WSGI application, with uvicorn's options.

    httpaf module:app --host 0.0.0.0 --port 8000 --workers 4

Every option of uvicorn's command is accepted with the same name, meaning and default
(``docs/cli.md`` lists them, with the few differences), so ``uvicorn main:app ...``
becomes ``httpaf main:app ...``; :func:`run` is ``uvicorn.run``'s twin (and
:func:`httpaf.run`). The parent binds the listening socket (TCP, ``--uds`` or an
inherited ``--fd``). With one worker it serves in-process; with ``--workers N`` it forks
N children that share the socket (or, with ``--reuse-port``, each bind their own with
``SO_REUSEPORT``) and supervises them; with ``--reload`` it restarts a fresh worker
when a watched file changes. The application is imported in each worker, never in a
parent. ``--interface auto`` serves an application whose ``__call__`` is a coroutine
function as ASGI, any other as WSGI. Every field of :class:`httpaf.Config` is an option
(``--max-request-line`` ...).

The parts: ``_options`` (:class:`Options`, the one place the settings live),
``_parser`` (the command line), ``_app`` (loading the application), ``_sockets``,
``_tls``, ``_envfile``, ``_logging`` (uvicorn's look, ``--log-config``, uvicorn's logger
names), ``_worker`` (one serving process), ``_supervisor`` (``--workers``), ``_reload``
(``--reload``) and ``_main`` (:func:`main`, :func:`run`).
"""

from __future__ import annotations

from ._app import AppLoadError, count_requests, detect_interface, load_app, resolve_app
from ._logging import LOGGING_CONFIG, AccessFormatter, DefaultFormatter
from ._main import main, make_config, run, serve
from ._options import Options
from ._parser import build_parser, options_from_namespace
from ._sockets import bind_socket, describe
from ._tls import make_ssl_context
from ._worker import BOOT_ERROR, start_server

__all__ = [
    "BOOT_ERROR",
    "LOGGING_CONFIG",
    "AccessFormatter",
    "AppLoadError",
    "DefaultFormatter",
    "Options",
    "bind_socket",
    "build_parser",
    "count_requests",
    "describe",
    "detect_interface",
    "load_app",
    "main",
    "make_config",
    "make_ssl_context",
    "options_from_namespace",
    "resolve_app",
    "run",
    "serve",
    "start_server",
]
