"""Proxies: which one a request goes through, and what it needs to say to it.

An ``http`` URL goes through an HTTP proxy by forwarding (the request, in absolute
form, goes to the proxy); an ``https`` URL through a tunnel (``CONNECT`` host:port,
then TLS with the origin inside it). With ``trust_env``, ``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` (in either case) choose, as curl and
httpx read them.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from urllib.parse import unquote

from .errors import InvalidURL, UnsupportedProtocol
from .url import URL

__all__ = ["Proxy", "Proxies", "proxy_for", "env_proxies"]


class Proxy:
    """A proxy: its URL (``http://`` or ``https://``), credentials and extra fields.

    Credentials come from ``auth`` or from the URL's user information; they go out as
    ``Proxy-Authorization: Basic ...`` (RFC 9110 §11.7.1).
    """

    __slots__ = ("url", "headers")

    def __init__(
        self,
        url: str | URL,
        auth: tuple[str, str] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.url = url if isinstance(url, URL) else URL.parse(url)
        if self.url.scheme not in ("http", "https"):
            raise UnsupportedProtocol(f"unsupported proxy scheme {self.url.scheme!r}")
        fields = list(headers or [])
        if auth is None and self.url.userinfo:
            user, _, password = self.url.userinfo.partition(":")
            auth = (unquote(user), unquote(password))
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            fields.append(("Proxy-Authorization", f"Basic {token}"))
        self.headers = fields

    def __repr__(self) -> str:
        return f"Proxy({self.url.scheme}://{self.url.authority})"


def env_proxies() -> dict[str, str]:
    """``{"http": url, "https": url, "all": url, "no": hosts}`` from the environment."""
    found: dict[str, str] = {}
    for name in ("http", "https", "all", "no"):
        value = os.environ.get(f"{name}_proxy") or os.environ.get(f"{name.upper()}_PROXY")
        if value:
            found[name] = value.strip()
    return found


def _no_proxy(host: str, port: int, entries: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated hosts, domains, IP networks) covers ``host``."""
    for entry in (e.strip().lower() for e in entries.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "://" in entry:
            entry = entry.split("://", 1)[1]
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port.isdigit() and int(entry_port) != port:
            continue
        name = name.lstrip(".").lstrip("*.") if name.startswith(("*", ".")) else name
        if host == name or host.endswith("." + name):
            return True
        try:
            if "/" in name and ipaddress.ip_address(host) in ipaddress.ip_network(name, False):
                return True
        except ValueError:
            continue
    return False


class Proxies:
    """The proxy choice of a client, read once: a given proxy, or the environment's."""

    __slots__ = ("_proxy", "_env")

    def __init__(self, proxy: Proxy | str | None = None, trust_env: bool = True) -> None:
        self._proxy = Proxy(proxy) if isinstance(proxy, str) else proxy
        self._env = env_proxies() if trust_env and self._proxy is None else {}

    def __bool__(self) -> bool:
        return self._proxy is not None or bool(self._env.keys() - {"no"})

    def for_url(self, url: URL) -> Proxy | None:
        """The proxy ``url`` goes through, or ``None``."""
        if self._proxy is not None:
            return self._proxy
        found = self._env
        if not found:
            return None
        chosen = found.get(url.scheme) or found.get("all")
        if not chosen or _no_proxy(url.host, url.port, found.get("no", "")):
            return None
        if "://" not in chosen:
            chosen = "http://" + chosen
        try:
            return Proxy(chosen)
        except (InvalidURL, UnsupportedProtocol):
            return None


def proxy_for(url: URL, proxy: Proxy | None, trust_env: bool) -> Proxy | None:
    """The proxy for ``url``: the one given, else (with ``trust_env``) the environment's."""
    return Proxies(proxy, trust_env).for_url(url)
