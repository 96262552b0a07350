"""Loading the application: the import string, factories, and which interface it speaks."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "AppLoadError",
    "Loaded",
    "count_requests",
    "detect_interface",
    "load_app",
    "resolve_app",
]

logger = logging.getLogger("httpaf.cli")


class AppLoadError(Exception):
    """The application named on the command line cannot be loaded."""


def load_app(spec: str, *, factory: bool = False, app_dir: str | None = ".") -> Any:
    """Import ``"module:attribute"`` (the attribute may be dotted); call it if ``factory``.

    ``app_dir`` is put first on ``sys.path`` (the current directory by default, so
    that ``httpaf main:app`` finds ``./main.py`` from the installed console script;
    ``""`` is the current directory too).
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AppLoadError(f'the application must be given as "module:attribute", not {spec!r}')
    if app_dir is not None:
        path = os.path.abspath(app_dir or ".")
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name and not module_name.startswith(f"{error.name}."):
            raise  # something the module imports is missing: show the real error
        raise AppLoadError(f"could not import module {module_name!r}") from None
    app: Any = module
    try:
        for part in attr.split("."):
            app = getattr(app, part)
    except AttributeError:
        raise AppLoadError(f"attribute {attr!r} not found in module {module_name!r}") from None
    if factory:
        if not callable(app):
            raise AppLoadError(f"--factory: {spec} is not callable")
        app = app()
    if not callable(app):
        raise AppLoadError(f"{spec} is not callable (did it need --factory?)")
    return app


def detect_interface(app: Any) -> str:
    """``"asgi"`` when ``app`` (or its ``__call__``) is a coroutine function, else ``"wsgi"``."""
    if inspect.iscoroutinefunction(app):
        return "asgi"
    call = getattr(app, "__call__", None)  # noqa: B004 - instances with async __call__
    if call is not None and inspect.iscoroutinefunction(call):
        return "asgi"
    return "wsgi"


def _takes(function: Any, count: int) -> bool:
    """Whether ``function`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(function).bind(*range(count))
    except (TypeError, ValueError):
        return False
    return True


def _is_asgi2(app: Any) -> bool:
    """An ASGI 2 application: a class made with the scope alone (not ``__await__``)."""
    return inspect.isclass(app) and not hasattr(app, "__await__") and _takes(app, 1)


def _asgi2_to_3(app: Any) -> Any:
    """An ASGI 3 callable for the ASGI 2 ``app`` (``app(scope)``, then ``(receive, send)``)."""

    async def asgi3(scope: Any, receive: Any, send: Any) -> None:
        instance = app(scope)
        await instance(receive, send)

    return asgi3


class Loaded:
    """The application as it will be served: ``app``, ``interface`` (``"asgi"`` or
    ``"wsgi"``) and ``extra`` options for that interface's server."""

    def __init__(self, app: Any, interface: str, extra: dict[str, Any]) -> None:
        self.app = app
        self.interface = interface
        self.extra = extra


def resolve_app(
    app: Any, *, interface: str = "auto", factory: bool = False, app_dir: str | None = None
) -> Loaded:
    """Load ``app`` (an import string or the application) and pick its interface.

    As uvicorn does, an application that can be called without arguments is taken for
    a factory even without ``factory`` (with a warning). ``interface`` is ``"auto"``
    (ASGI 3 for a coroutine ``__call__``, ASGI 2 for a class made with the scope, WSGI
    otherwise), ``"asgi3"`` (or ``"asgi"``), ``"asgi2"`` or ``"wsgi"``.
    """
    if isinstance(app, str):
        app = load_app(app, factory=factory, app_dir=app_dir)
    elif factory:
        app = app()
    if not factory and _takes(app, 0) and not _is_asgi2(app):
        logger.warning(
            "application factory detected (callable without arguments): using what it "
            "returns; consider --factory"
        )
        app = app()
    if not callable(app):
        raise AppLoadError(f"the application {app!r} is not callable")
    if interface == "auto":
        interface = "asgi2" if _is_asgi2(app) else detect_interface(app)
    if interface == "asgi2":
        return Loaded(_asgi2_to_3(app), "asgi", {"asgi_version": "2.0"})
    if interface in ("asgi", "asgi3"):
        return Loaded(app, "asgi", {})
    if interface == "wsgi":
        return Loaded(app, "wsgi", {})
    raise AppLoadError(f"unknown interface {interface!r}")


def count_requests(app: Any, interface: str, on_request: Callable[[], None]) -> Any:
    """``app``, calling ``on_request()`` as each HTTP request starts.

    For WSGI ``on_request`` runs in the worker thread: it must be thread-safe (it
    may hand over to the loop with ``call_soon_threadsafe``).
    """
    if interface == "asgi":

        async def counted_asgi(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                on_request()
            await app(scope, receive, send)

        return counted_asgi

    def counted_wsgi(environ: Any, start_response: Any) -> Any:
        on_request()
        return app(environ, start_response)

    return counted_wsgi
