"""What every connection of one WSGI server shares."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Iterable
from typing import Any

from ._pool import ThreadPool
from ._types import WSGIApp

__all__ = ["AppState", "parse_trusted"]


def parse_trusted(value: str | Iterable[str] | None) -> tuple[bool, frozenset[str], list[Any]]:
    """``(trust_all, hosts, networks)`` from a comma-separated list or a list."""
    if value is None:
        value = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    hosts: set[str] = set()
    networks: list[Any] = []
    trust_all = False
    for item in items:
        if not item:
            continue
        if item == "*":
            trust_all = True
        elif "/" in item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"forwarded_allow_ips: bad network {item!r}") from None
        else:
            hosts.add(item)
    return trust_all, frozenset(hosts), networks


class AppState:
    """What every connection of one server shares."""

    def __init__(
        self,
        app: WSGIApp,
        loop: asyncio.AbstractEventLoop,
        pool: ThreadPool,
        *,
        root_path: str,
        proxy_headers: bool,
        forwarded_allow_ips: str | Iterable[str] | None,
        access_log: bool,
        limit_concurrency: int | None,
        multiprocess: bool,
        header_underscores: str,
        server_header: bool,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if header_underscores not in ("refuse", "drop"):
            raise ValueError("header_underscores must be 'refuse' or 'drop'")
        if limit_concurrency is not None and (
            not isinstance(limit_concurrency, int) or limit_concurrency <= 0
        ):
            raise ValueError(f"limit_concurrency must be a positive int, not {limit_concurrency!r}")
        self.app = app
        self.loop = loop
        self.pool = pool
        self.root_path = root_path.rstrip("/")
        self.proxy_headers = proxy_headers
        self.trust_all, self.trusted_hosts, self.trusted_networks = parse_trusted(
            forwarded_allow_ips
        )
        self.access_log = access_log
        self.limit_concurrency = limit_concurrency
        self.multiprocess = multiprocess
        self.refuse_underscores = header_underscores == "refuse"
        self.server_header = server_header
        self.headers = [(str(name), str(value)) for name, value in headers]
        self.active = 0  # requests being answered (loop thread only)
        self.keys: dict[str, str | None] = {}  # header name -> environ key (None: refused)

    def is_trusted(self, host: str) -> bool:
        """Whether a peer may set ``X-Forwarded-For``/``-Proto``."""
        if self.trust_all or host in self.trusted_hosts:
            return True
        if self.trusted_networks:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return False
            return any(address in network for network in self.trusted_networks)
        return False

    def environ_key(self, name: str) -> str | None:
        """``HTTP_NAME`` for a field name; ``None`` for a name with an underscore."""
        key = self.keys.get(name)
        if key is None and name not in self.keys:
            key = None if "_" in name else "HTTP_" + name.upper().replace("-", "_")
            if len(self.keys) < 1024:
                self.keys[name] = key
        return key
