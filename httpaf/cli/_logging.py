"""The command's logging: uvicorn's look by default, ``--log-config``, and uvicorn's names.

httpaf logs on ``httpaf.error`` (server events, application errors), ``httpaf.access``
(one line per response) and ``httpaf.cli`` (the command, its workers and reloader),
all under ``httpaf``. By default they print as uvicorn's do: ``INFO:     message`` on
stderr, and the access line ``INFO:     127.0.0.1:50000 - "GET / HTTP/1.1" 200 OK`` on
stdout, level names colored on a terminal (:class:`DefaultFormatter`,
:class:`AccessFormatter`).

``--log-config`` takes a ``logging.config.dictConfig`` in JSON or YAML, or a
``logging.config.fileConfig`` ``.ini`` file. One written for uvicorn configures the
loggers ``uvicorn``, ``uvicorn.error`` and ``uvicorn.access``; when a configuration names
those and none of httpaf's, httpaf's records are handed to them (``httpaf.access`` to
``uvicorn.access``, the others to ``uvicorn.error``, under those names), so it keeps
working unchanged. Its ``uvicorn.logging`` formatters are used when uvicorn is installed,
httpaf's twins of them otherwise.
"""

from __future__ import annotations

import configparser
import copy
import http
import importlib.util
import json
import logging
import logging.config
import os
import sys
from typing import Any, Literal

__all__ = [
    "LOGGING_CONFIG",
    "LOG_LEVELS",
    "TRACE",
    "AccessFormatter",
    "DefaultFormatter",
    "configure_logging",
    "read_log_config",
]

#: The level below DEBUG that ``--log-level trace`` selects.
TRACE = 5

LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}

#: ANSI color codes of the level names (as uvicorn colors them).
_LEVEL_COLORS = {
    TRACE: 34,  # blue
    logging.DEBUG: 36,  # cyan
    logging.INFO: 32,  # green
    logging.WARNING: 33,  # yellow
    logging.ERROR: 31,  # red
    logging.CRITICAL: 91,  # bright red
}
#: ... and of the access line's status, by its first digit.
_STATUS_COLORS = {1: 97, 2: 32, 3: 33, 4: 31, 5: 91}


def _paint(text: str, color: int | None = None, bold: bool = False) -> str:
    start = (f"\033[{color}m" if color is not None else "") + ("\033[1m" if bold else "")
    return f"{start}{text}\033[0m"


class DefaultFormatter(logging.Formatter):
    """A formatter with ``%(levelprefix)s``: the level name and a colon, padded to nine
    characters, the name colored when ``use_colors`` (by default: when stderr is a
    terminal). A record's ``color_message`` extra replaces its message when coloring."""

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: Literal["%", "{", "$"] = "%",
        use_colors: bool | None = None,
    ) -> None:
        super().__init__(fmt=fmt, datefmt=datefmt, style=style)
        self.use_colors = self._terminal() if use_colors is None else bool(use_colors)

    def _terminal(self) -> bool:
        return sys.stderr.isatty()

    def formatMessage(self, record: logging.LogRecord) -> str:
        record = copy.copy(record)
        name = record.levelname
        padding = " " * max(0, 8 - len(name))
        if self.use_colors:
            name = _paint(name, _LEVEL_COLORS.get(record.levelno))
            colored = record.__dict__.get("color_message")
            if colored is not None:
                record.msg = colored
                record.message = record.getMessage()
        record.levelprefix = f"{name}:{padding}"
        return super().formatMessage(record)


class AccessFormatter(DefaultFormatter):
    """:class:`DefaultFormatter` for access records, adding ``%(client_addr)s``,
    ``%(request_line)s`` and ``%(status_code)s`` (with its reason phrase, colored by
    class) from their arguments ``(client, method, target, http_version, status)``;
    colored by default when stdout is a terminal."""

    def _terminal(self) -> bool:
        return sys.stdout.isatty()

    def formatMessage(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, target, version, status = args
            code = int(status)  # type: ignore[call-overload]
            try:
                phrase = http.HTTPStatus(code).phrase
            except ValueError:
                phrase = ""
            status_text = f"{code} {phrase}"
            request_line = f"{method} {target} HTTP/{version}"
            if self.use_colors:
                status_text = _paint(status_text, _STATUS_COLORS.get(code // 100))
                request_line = _paint(request_line, bold=True)
        else:  # a record of another shape on the access logger: its message as is
            client, request_line, status_text = "-", record.getMessage(), "-"
        record = copy.copy(record)
        record.client_addr = client
        record.request_line = request_line
        record.status_code = status_text
        return super().formatMessage(record)


#: The logging configuration used without ``--log-config`` (uvicorn's, on httpaf's names).
LOGGING_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {
            "()": "httpaf.cli.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        },
        "access": {
            "()": "httpaf.cli.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            "use_colors": None,
        },
    },
    "handlers": {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "httpaf": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "httpaf.error": {"level": "INFO"},
        "httpaf.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

#: uvicorn's formatters, and httpaf's twins used when uvicorn is not installed.
_TWINS = {
    "uvicorn.logging.DefaultFormatter": "httpaf.cli.DefaultFormatter",
    "uvicorn.logging.ColourizedFormatter": "httpaf.cli.DefaultFormatter",
    "uvicorn.logging.AccessFormatter": "httpaf.cli.AccessFormatter",
}

_COLORED = frozenset(_TWINS) | frozenset(_TWINS.values())

Prepared = dict[str, Any] | configparser.RawConfigParser | None


def read_log_config(spec: Any) -> Prepared:
    """``--log-config`` read: a dict for JSON, YAML or a dict given, a parser for
    ``.ini`` files, parsers and file objects; ``None`` for no configuration. The
    result can be pickled (a reloader hands it to its worker)."""
    if spec is None or isinstance(spec, (dict, configparser.RawConfigParser)):
        return copy.deepcopy(spec) if isinstance(spec, dict) else spec
    if hasattr(spec, "read"):  # a file object, as fileConfig takes
        parser = configparser.ConfigParser()
        parser.read_file(spec)
        return parser
    path = os.fspath(spec)
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as file:
            loaded = json.load(file)
    elif path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise RuntimeError(
                "--log-config with a YAML file needs PyYAML: pip install 'httpaf[yaml]'"
            ) from None
        with open(path, encoding="utf-8") as file:
            loaded = yaml.safe_load(file)
    else:
        parser = configparser.ConfigParser()
        with open(path, encoding="utf-8") as file:
            parser.read_file(file)
        return parser
    if not isinstance(loaded, dict):
        raise ValueError(f"--log-config {path}: not a dictConfig mapping")
    return loaded


def _logger_names(prepared: Prepared) -> set[str]:
    if isinstance(prepared, dict):
        return set(prepared.get("loggers") or {})
    if isinstance(prepared, configparser.RawConfigParser):
        keys = prepared.get("loggers", "keys", fallback="")
        names = set()
        for key in (k.strip() for k in keys.split(",")):
            section = f"logger_{key}"
            if key and key != "root" and prepared.has_section(section):
                names.add(prepared.get(section, "qualname", fallback=key))
        return names
    return set()


def _use_twins(prepared: Prepared) -> None:
    """Point uvicorn's formatters at httpaf's twins (when uvicorn is not installed)."""
    if isinstance(prepared, dict):
        for formatter in (prepared.get("formatters") or {}).values():
            for key in ("()", "class"):
                if isinstance(formatter, dict) and formatter.get(key) in _TWINS:
                    formatter[key] = _TWINS[formatter[key]]
    elif isinstance(prepared, configparser.RawConfigParser):
        for section in prepared.sections():
            if section.startswith("formatter_"):
                name = prepared.get(section, "class", fallback=None)
                if name in _TWINS:
                    prepared.set(section, "class", _TWINS[name])


class _ToUvicorn(logging.Handler):
    """Hands httpaf's records to uvicorn's loggers (``uvicorn.access``, ``uvicorn.error``)."""

    def emit(self, record: logging.LogRecord) -> None:
        access = record.name == "httpaf.access" or record.name.startswith("httpaf.access.")
        target = logging.getLogger("uvicorn.access" if access else "uvicorn.error")
        if target.isEnabledFor(record.levelno):
            moved = copy.copy(record)
            moved.name = target.name
            target.handle(moved)


def _bridge_to_uvicorn() -> None:
    root = logging.getLogger("httpaf")
    for handler in [h for h in root.handlers if isinstance(h, _ToUvicorn)]:
        root.removeHandler(handler)
    root.addHandler(_ToUvicorn())
    root.propagate = False
    # httpaf's loggers pass what uvicorn's would let through, and no more.
    root.setLevel(logging.getLogger("uvicorn.error").getEffectiveLevel())
    logging.getLogger("httpaf.error").setLevel(logging.NOTSET)
    logging.getLogger("httpaf.access").setLevel(
        logging.getLogger("uvicorn.access").getEffectiveLevel()
    )
    # A configuration that disabled the loggers it does not name disabled ours.
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if (name == "httpaf" or name.startswith("httpaf.")) and isinstance(logger, logging.Logger):
            logger.disabled = False


def configure_logging(
    prepared: Prepared, *, log_level: int | None = None, use_colors: bool | None = None
) -> None:
    """Apply a :func:`read_log_config` result, then ``log_level`` to the servers' loggers."""
    logging.addLevelName(TRACE, "TRACE")
    if isinstance(prepared, dict):
        prepared = copy.deepcopy(prepared)
        if use_colors is not None:
            for name in ("default", "access"):
                formatter = (prepared.get("formatters") or {}).get(name)
                # (only ours and uvicorn's formatters take the argument)
                if isinstance(formatter, dict) and formatter.get("()") in _COLORED:
                    formatter["use_colors"] = use_colors
    if importlib.util.find_spec("uvicorn") is None:
        _use_twins(prepared)
    if isinstance(prepared, dict):
        logging.config.dictConfig(prepared)
    elif isinstance(prepared, configparser.RawConfigParser):
        logging.config.fileConfig(prepared, disable_existing_loggers=False)
    names = _logger_names(prepared)
    ours = {n for n in names if n == "httpaf" or n.startswith("httpaf.")}
    theirs = {n for n in names if n == "uvicorn" or n.startswith("uvicorn.")}
    if log_level is not None:
        for name in ("httpaf", "httpaf.error", "httpaf.access"):
            logging.getLogger(name).setLevel(log_level)
        if theirs:
            for name in ("uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
                logging.getLogger(name).setLevel(log_level)
    if theirs and not ours:
        _bridge_to_uvicorn()
