"""Every setting of the command, under uvicorn's names and with its defaults: :class:`Options`.

The command line (:mod:`._parser`) and :func:`httpaf.run` both end as one
:class:`Options`; the rest of the command reads only that. A field named like one of
``uvicorn.run``'s keyword arguments means what it means there (``docs/cli.md`` lists the
differences); ``reuse_port``, ``threads`` and ``limits`` (the :class:`httpaf.Config`
fields) are httpaf's own.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import random
import ssl
from collections.abc import Callable
from typing import Any

from httpaf.model import Config
from httpaf.wire import check_field

from ._logging import LOG_LEVELS, LOGGING_CONFIG

__all__ = ["CONFIG_FIELDS", "LOOPS", "Options", "WS_DEFAULTS", "log_notices"]

#: The fields of :class:`httpaf.Config`, each an option too.
CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(Config))

#: ``--loop`` values with a meaning of their own (any other is ``module:factory``).
LOOPS = ("auto", "asyncio", "uvloop", "zuvloop", "none")

#: The WebSocket options and their defaults (uvicorn's, and :func:`httpaf.asgi.serve`'s).
WS_DEFAULTS: dict[str, Any] = {
    "ws": "auto",
    "ws_max_size": 16 * 1024 * 1024,
    "ws_max_queue": 32,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
    "ws_per_message_deflate": True,
}

_INTERFACES = ("auto", "asgi3", "asgi2", "asgi", "wsgi")
_LIFESPANS = ("auto", "on", "off")
_UVICORN_HTTP = ("h11", "httptools", "zttp")
#: ``--ws`` values naming uvicorn's WebSocket implementations (httpaf's serves them all).
_UVICORN_WS = ("auto", "none", "websockets", "websockets-sansio", "wsproto")


def _default_log_config() -> dict[str, Any]:
    return copy.deepcopy(LOGGING_CONFIG)


@dataclasses.dataclass
class Options:
    """What to serve and how: ``uvicorn.run``'s keyword arguments, and httpaf's own.

    ``app`` is an import string (``"module:attribute"``) or the application itself
    (an object cannot be served with ``reload`` or more than one worker: each process
    imports the string). ``limits`` holds :class:`httpaf.Config` fields by name.
    """

    app: Any
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    fd: int | None = None
    loop: str = "auto"
    http: Any = "auto"
    http2: bool = False
    ws: Any = "auto"
    ws_max_size: int = 16 * 1024 * 1024
    ws_max_queue: int = 32
    ws_ping_interval: float | None = 20.0
    ws_ping_timeout: float | None = 20.0
    ws_per_message_deflate: bool = True
    lifespan: str = "auto"
    interface: str = "auto"
    reload: bool = False
    reload_dirs: list[str] | str | None = None
    reload_includes: list[str] | str | None = None
    reload_excludes: list[str] | str | None = None
    reload_delay: float = 0.25
    workers: int | None = None
    env_file: str | os.PathLike[str] | None = None
    log_config: Any = dataclasses.field(default_factory=_default_log_config)
    log_level: str | int | None = None
    access_log: bool = True
    use_colors: bool | None = None
    proxy_headers: bool = True
    server_header: bool = True
    date_header: bool = True
    forwarded_allow_ips: list[str] | str | None = None
    root_path: str = ""
    limit_concurrency: int | None = None
    backlog: int = 2048
    limit_max_requests: int | None = None
    limit_max_requests_jitter: int = 0
    timeout_keep_alive: float | None = 5
    timeout_graceful_shutdown: float | None = None
    timeout_worker_healthcheck: float = 5
    ssl_keyfile: str | os.PathLike[str] | None = None
    ssl_certfile: str | os.PathLike[str] | None = None
    ssl_keyfile_password: str | None = None
    ssl_version: int = int(ssl.PROTOCOL_TLS_SERVER)
    ssl_cert_reqs: int = int(ssl.CERT_NONE)
    ssl_ca_certs: str | os.PathLike[str] | None = None
    ssl_ciphers: str | None = None
    ssl_context_factory: Callable[[Any, Callable[[], ssl.SSLContext]], ssl.SSLContext] | None = None
    headers: list[tuple[str, str]] | None = None
    factory: bool = False
    app_dir: str | None = None
    h11_max_incomplete_event_size: int | None = None
    reset_contextvars: bool = False
    # httpaf's own
    reuse_port: bool = False
    threads: int = 10
    limits: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_keywords(cls, app: Any, keywords: dict[str, Any]) -> Options:
        """The options of ``httpaf.run(app, **keywords)``: uvicorn's keyword arguments,
        httpaf's own, and any :class:`httpaf.Config` field (``max_body_size=...``)."""
        keywords = dict(keywords)
        limits = {k: keywords.pop(k) for k in list(keywords) if k in CONFIG_FIELDS}
        if "keep_alive_timeout" in limits:  # Config's name for uvicorn's timeout_keep_alive
            if "timeout_keep_alive" in keywords:
                raise TypeError("give timeout_keep_alive or keep_alive_timeout, not both")
            keywords["timeout_keep_alive"] = limits.pop("keep_alive_timeout")
        names = {f.name for f in dataclasses.fields(cls)} - {"app", "limits"}
        unknown = sorted(set(keywords) - names)
        if unknown:
            raise TypeError(f"httpaf.run() got unexpected keyword arguments: {', '.join(unknown)}")
        return cls(app=app, limits=limits, **keywords)

    # -- checks ---------------------------------------------------------------------

    def check(self) -> None:
        """Raise ``ValueError`` naming the first option that cannot be served."""
        if self.http2:
            raise ValueError(
                "--http2: httpaf serves HTTP/1.1 only, HTTP/2 is not served "
                "(use uvicorn --http2 --http zttp, or a proxy that speaks HTTP/2 in front)"
            )
        if self.interface not in _INTERFACES:
            raise ValueError(f"--interface must be one of {', '.join(_INTERFACES)}")
        if self.lifespan not in _LIFESPANS:
            raise ValueError(f"--lifespan must be one of {', '.join(_LIFESPANS)}")
        if isinstance(self.ws, str) and self.ws not in _UVICORN_WS and ":" not in self.ws:
            raise ValueError(f"--ws must be one of {', '.join(_UVICORN_WS)} or module:Class")
        if not isinstance(self.loop, str) or (self.loop not in LOOPS and ":" not in self.loop):
            raise ValueError(f"--loop must be one of {', '.join(LOOPS)} or module:factory")
        if isinstance(self.log_level, str) and self.log_level.lower() not in LOG_LEVELS:
            raise ValueError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
        for name in ("workers", "threads", "limit_concurrency", "limit_max_requests"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("limit_max_requests_jitter", "reload_delay", "timeout_worker_healthcheck"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must not be negative")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("--ssl-keyfile needs --ssl-certfile")
        for name, value in self.header_pairs():
            check_field(name, value)
        self.make_config()

    def header_pairs(self) -> list[tuple[str, str]]:
        """``headers`` as ``(name, value)`` pairs (``"Name:Value"`` strings are split)."""
        pairs: list[tuple[str, str]] = []
        for header in self.headers or ():
            if isinstance(header, str):
                name, sep, value = header.partition(":")
                if not sep:
                    raise ValueError(f"--header must be Name:Value, not {header!r}")
            else:
                name, value = header
            pairs.append((str(name).strip(), str(value).strip()))
        return pairs

    # -- what follows from them -----------------------------------------------------

    def make_config(self) -> Config:
        """The :class:`httpaf.Config` of ``limits`` and ``timeout_keep_alive``."""
        return Config(**self.limits, keep_alive_timeout=self.timeout_keep_alive)

    def worker_count(self) -> int:
        """``workers``, else ``$WEB_CONCURRENCY``, else 1 (one process)."""
        if self.workers is not None:
            return self.workers
        text = os.environ.get("WEB_CONCURRENCY")
        if text:
            try:
                return max(1, int(text))
            except ValueError:
                raise ValueError(f"WEB_CONCURRENCY is not a number: {text!r}") from None
        return 1

    def trusted_proxies(self) -> list[str] | str:
        """``forwarded_allow_ips``, else ``$FORWARDED_ALLOW_IPS``, else the loopbacks."""
        if self.forwarded_allow_ips is not None:
            return self.forwarded_allow_ips
        return os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

    def request_limit(self) -> int | None:
        """This process's request limit: ``limit_max_requests`` plus a random jitter."""
        if self.limit_max_requests is None:
            return None
        return self.limit_max_requests + random.randint(0, self.limit_max_requests_jitter)

    def ws_options(self) -> dict[str, Any]:
        """The WebSocket options not at their defaults (for the ASGI server).

        ``ws`` goes only as ``"none"`` (no WebSocket): any other value names an
        implementation of uvicorn's, and httpaf's own serves WebSocket instead (a notice
        says so).
        """
        options = {k: getattr(self, k) for k, v in WS_DEFAULTS.items() if getattr(self, k) != v}
        if options.pop("ws", None) == "none":
            options["ws"] = "none"
        return options

    def log_level_number(self) -> int | None:
        """``log_level`` as a number, or ``None`` when not given."""
        if self.log_level is None or isinstance(self.log_level, int):
            return self.log_level
        return LOG_LEVELS[self.log_level.lower()]

    def notices(self) -> list[str]:
        """What httpaf does instead of the uvicorn machinery these options name."""
        out: list[str] = []
        if self.http != "auto":
            name = self.http if isinstance(self.http, str) else getattr(self.http, "__name__", "")
            which = "uvicorn's " + name if name in _UVICORN_HTTP else repr(name)
            out.append(
                f"--http {name}: httpaf parses HTTP/1.1 itself; {which} protocol is not used"
            )
        if self.ws not in ("auto", "none"):
            name = self.ws if isinstance(self.ws, str) else getattr(self.ws, "__name__", "")
            which = "uvicorn's " + name if name in _UVICORN_WS else repr(name)
            out.append(
                f"--ws {name}: httpaf serves WebSocket itself; {which} protocol is not used"
            )
        if self.loop == "zuvloop":
            out.append("--loop zuvloop: not supported by httpaf; uvloop (when installed) is used")
        if self.h11_max_incomplete_event_size is not None:
            config = self.make_config()
            out.append(
                "--h11-max-incomplete-event-size: h11 is not used; httpaf bounds a request "
                f"head with --max-head-size ({config.max_head_size}) and --max-field-size "
                f"({config.max_field_size})"
            )
        return out


def log_notices(options: Options, logger: logging.Logger) -> None:
    """Say once, at startup, what the uvicorn-only options turned into."""
    for notice in options.notices():
        logger.info("%s", notice)
