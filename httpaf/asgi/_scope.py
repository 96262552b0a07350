"""From a request to an ASGI ``http`` scope: addresses, target, header names, trusted
proxies."""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Iterable
from typing import Any

__all__ = [
    "HEADER_NAMES",
    "Trust",
    "address",
    "decode_fields",
    "forwarded",
    "has_forwarded",
    "scope_headers",
    "server_address",
    "split_target",
]


def address(info: Any) -> tuple[str, int] | None:
    """A ``(host, port)`` pair from a transport's ``peername`` or ``sockname``."""
    if isinstance(info, (tuple, list)) and len(info) >= 2:
        return (str(info[0]), int(info[1]))
    return None


def server_address(info: Any) -> tuple[str, int | None] | None:
    """The server's address from a transport's ``sockname`` (a Unix socket's path too)."""
    if isinstance(info, str) and info:
        return (info, None)  # a Unix socket's path
    return address(info)


HEADER_NAMES: dict[str, bytes] = {}  # field names as scope header names (lower-case bytes)
#: The scope header names that ``proxy_headers`` reads.
FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto"})
_first = operator.itemgetter(0)


def has_forwarded(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether scope ``headers`` hold ``X-Forwarded-For`` or ``X-Forwarded-Proto``."""
    return not FORWARDED.isdisjoint(map(_first, headers))


def scope_headers(fields: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """The scope's ``headers`` of request fields, names lower-cased (and cached)."""
    names = HEADER_NAMES
    if len(names) > 2048:
        names.clear()
    for name, _ in fields:
        if name not in names:
            names[name] = name.lower().encode("latin-1")
    return [(names[n], v.encode("latin-1")) for n, v in fields]


def split_target(target: str, root_path: str) -> tuple[str, bytes, bytes]:
    """``(path, raw_path, query_string)`` of a request target, under ``root_path``."""
    if not target.startswith("/"):
        if "://" in target:  # absolute-form: keep the path and query
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            mark = rest.find("?")
            if slash < 0 or 0 <= mark < slash:
                target = "/" + (rest[mark:] if mark >= 0 else "")
            else:
                target = rest[slash:]
    raw, _, query = target.partition("?")
    raw = raw.partition("#")[0]
    if "%" in raw:
        from urllib.parse import unquote

        path = unquote(raw)
    else:
        path = raw
    return root_path + path, (root_path + raw).encode("latin-1"), query.encode("latin-1")


class Trust:
    """Which peers may set ``X-Forwarded-For`` and ``X-Forwarded-Proto``."""

    def __init__(self, allowed: str | Iterable[str]) -> None:
        items = allowed.split(",") if isinstance(allowed, str) else list(allowed)
        self.everyone = False
        self.networks: list[Any] = []
        self.literals: set[str] = set()
        for item in (i.strip() for i in items):
            if not item:
                continue
            if item == "*":
                self.everyone = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.literals.add(item)  # e.g. "unix:" or a name

    def __contains__(self, host: str | None) -> bool:
        if self.everyone:
            return True
        if host is None:
            return "unix:" in self.literals
        if host in self.literals:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def forwarded(
    headers: list[tuple[bytes, bytes]], client: Any, scheme: str, trust: Trust
) -> tuple[Any, str]:
    """Client and scheme after a trusted proxy's ``X-Forwarded-For``/``-Proto``."""
    hosts: list[str] | None = None
    for name, value in headers:
        if name not in FORWARDED:
            continue
        if name == b"x-forwarded-proto":
            proto = value.decode("latin-1").strip().lower()
            if proto in _SCHEMES:
                scheme = proto
        elif name == b"x-forwarded-for":
            found = [h.strip() for h in value.decode("latin-1").split(",")]
            hosts = found if hosts is None else hosts + found
    if hosts is None:
        return client, scheme
    hosts = [h for h in hosts if h]
    if hosts:
        # The right-most host that is not one of our proxies is the client.
        for host in reversed(hosts):
            if host not in trust:
                return (host, 0), scheme
        return (hosts[0], 0), scheme
    return client, scheme


_PAIRS: dict[Any, tuple[str, str]] = {}  # ASGI header pairs already decoded


def decode_pair(pair: Any) -> tuple[str, str]:
    name, value = pair
    field = (name.decode("latin-1"), value.decode("latin-1"))
    if type(pair) is tuple and len(value) <= 64:  # hashable, and likely to come again
        if len(_PAIRS) >= 1024:
            _PAIRS.clear()
        _PAIRS[pair] = field
    return field


def decode_fields(fields: Iterable[Any]) -> list[tuple[str, str]]:
    """ASGI header pairs (bytes) as engine fields (latin-1 str)."""
    get = _PAIRS.get
    return [(type(pair) is tuple and get(pair)) or decode_pair(pair) for pair in fields]
