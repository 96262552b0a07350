"""Config: defaults and validation (docs/configuration.md; http/af has no test file).

Deliberate difference: http/af's Config holds four buffer sizes; ours also holds every
limit, each with the status it triggers (the limits are tested in test_parser.py).
"""

from __future__ import annotations

import dataclasses

import pytest

from httpaf.model.config import Config

DEFAULTS = {
    "read_buffer_size": 65536,
    "max_request_line": 8192,
    "max_field_size": 16384,
    "max_head_size": 65536,
    "max_headers": 1000,
    "max_body_size": None,
    "max_chunk_line": 4096,
    "max_trailer_size": 16384,
    "max_trailers": 100,
    "max_pipelined_requests": 32,
    "body_buffer_high_water": 65536,
    "max_interim_responses": 16,
    "response_buffer_size": 4096,
    "request_body_buffer_size": 4096,
    "require_host": True,
    "date_header": True,
    "keep_alive_timeout": 5.0,
    "head_timeout": 20.0,
    "body_timeout": 30.0,
    "busy_read": 0.0001,
}

INT_FIELDS = [name for name, value in DEFAULTS.items() if type(value) is int]
SECONDS_FIELDS = [name for name, value in DEFAULTS.items() if type(value) is float]


def test_config_defaults() -> None:
    config = Config()
    assert dataclasses.asdict(config) == DEFAULTS


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_headers = 5  # type: ignore[misc]
    assert dataclasses.replace(config, max_headers=5).max_headers == 5
    assert config.max_headers == 1000


def test_config_equality() -> None:
    assert Config() == Config()
    assert Config(max_headers=5) != Config()


@pytest.mark.parametrize("name", INT_FIELDS)
@pytest.mark.parametrize("value", [0, -1, 1.5, "10", None, True, False])
def test_config_int_fields_must_be_positive_ints(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"Config.{name} must be a positive int"):
        Config(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", INT_FIELDS)
def test_config_int_fields_accept_positive_ints(name: str) -> None:
    value = 1 if name != "max_head_size" else 8192
    config = Config(**{name: value})  # type: ignore[arg-type]
    assert getattr(config, name) == value


@pytest.mark.parametrize("name", SECONDS_FIELDS)
@pytest.mark.parametrize("value", [0, -1, 0.0, float("inf"), float("nan"), "1", True])
def test_config_seconds_fields_must_be_positive_numbers(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"Config.{name} must be a positive number of seconds"):
        Config(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SECONDS_FIELDS)
@pytest.mark.parametrize("value", [None, 1e-6, 1, 2.5])
def test_config_seconds_fields_accept_positive_numbers_and_none(name: str, value: object) -> None:
    assert getattr(Config(**{name: value}), name) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, 1, 10**12])
def test_config_max_body_size(value: int | None) -> None:
    assert Config(max_body_size=value).max_body_size == value


@pytest.mark.parametrize("value", [0, -1, "1", 1.0])
def test_config_max_body_size_invalid(value: object) -> None:
    with pytest.raises(ValueError, match="max_body_size"):
        Config(max_body_size=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, False])
def test_config_require_host(value: bool) -> None:
    assert Config(require_host=value).require_host is value


@pytest.mark.parametrize("value", [1, 0, None, "yes"])
def test_config_require_host_must_be_bool(value: object) -> None:
    with pytest.raises(ValueError, match="require_host must be a bool"):
        Config(require_host=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "head", "ok"),
    [(100, 100, True), (100, 99, False), (8192, 65536, True), (65537, 65536, False)],
)
def test_config_request_line_within_head(line: int, head: int, ok: bool) -> None:
    if ok:
        config = Config(max_request_line=line, max_head_size=head)
        assert (config.max_request_line, config.max_head_size) == (line, head)
    else:
        with pytest.raises(ValueError, match="max_request_line must not exceed max_head_size"):
            Config(max_request_line=line, max_head_size=head)
