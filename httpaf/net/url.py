"""URLs as a client uses them: where to connect, what to put in the request line.

:class:`URL` splits an absolute ``http`` or ``https`` URL once: scheme, host, port,
the request target (path and query, percent-encoded where a URL must be), the ``Host``
field's value and any user information. :func:`URL.parse` keeps the last URLs seen
(parsing the same URL for every request of a loop would cost more than sending it).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

from .errors import InvalidURL, UnsupportedProtocol

__all__ = ["URL", "Origin", "DEFAULT_PORTS"]

#: The port of each scheme when a URL names none.
DEFAULT_PORTS = {"http": 80, "https": 443}

#: Where a connection goes: (scheme, host, port). Connections are pooled per origin.
Origin = tuple[str, str, int]

# Bytes a request target may hold as they are (RFC 3986 §3.3, §3.4: pchar, "/", "?",
# and "%" of an escape already made); anything else is percent-encoded.
_TARGET_SAFE = "/?:@!$&'()*+,;=-._~%"
_CACHE_LIMIT = 1024


class URL:
    """An absolute ``http`` or ``https`` URL, split for sending."""

    __slots__ = ("raw", "scheme", "host", "port", "target", "authority", "userinfo", "origin")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        scheme, sep, rest = raw.partition("://")
        if not sep:
            raise InvalidURL(f"not an absolute URL: {raw[:100]!r}")
        scheme = scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise UnsupportedProtocol(f"unsupported URL scheme {scheme[:20]!r}")
        self.scheme = scheme
        end = len(rest)
        for mark in "/?#":
            at = rest.find(mark)
            if 0 <= at < end:
                end = at
        authority, tail = rest[:end], rest[end:]
        userinfo, sign, hostport = authority.rpartition("@")
        self.userinfo = userinfo if sign else ""
        host, port = _split_host_port(hostport, raw)
        self.host = host
        self.port = DEFAULT_PORTS[scheme] if port is None else port
        self.origin: Origin = (scheme, host, self.port)
        shown = f"[{host}]" if ":" in host else host
        default = DEFAULT_PORTS[scheme]
        self.authority = shown if port is None or port == default else f"{shown}:{port}"
        tail = tail.partition("#")[0]
        if not tail.startswith("/"):
            tail = "/" + tail
        self.target = tail if tail.isascii() and _plain(tail) else quote(tail, safe=_TARGET_SAFE)

    @classmethod
    def from_parts(cls, scheme: str, host: str, port: int | None, target: str,
                   raw: str | None = None) -> URL:
        """A URL from parts already split and checked (another library's URL object)."""
        if scheme not in DEFAULT_PORTS:
            raise UnsupportedProtocol(f"unsupported URL scheme {scheme[:20]!r}")
        if not host:
            raise InvalidURL("no host in the URL")
        url = cls.__new__(cls)
        default = DEFAULT_PORTS[scheme]
        url.scheme = scheme
        url.host = host.lower()
        url.port = default if port is None else port
        url.origin = (scheme, url.host, url.port)
        shown = f"[{url.host}]" if ":" in url.host else url.host
        url.authority = shown if url.port == default else f"{shown}:{url.port}"
        url.target = target or "/"
        url.userinfo = ""
        url.raw = raw if raw is not None else f"{scheme}://{url.authority}{url.target}"
        return url

    # A few URLs are requested again and again: parse each once.
    _cache: dict[str, URL] = {}

    @classmethod
    def parse(cls, raw: str) -> URL:
        """``URL(raw)``, from a cache of the URLs parsed last."""
        url = cls._cache.get(raw)
        if url is None:
            url = cls(raw)
            cache = cls._cache
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[raw] = url
        return url

    @property
    def absolute(self) -> str:
        """The absolute-form target (for a forward proxy): scheme, authority, target."""
        return f"{self.scheme}://{self.authority}{self.target}"

    def join(self, other: str) -> URL:
        """``other`` resolved against this URL (a path, or an absolute URL)."""
        if "://" in other:
            return URL.parse(other)
        if other.startswith("/"):
            return URL.parse(f"{self.scheme}://{self.authority}{other}")
        base = self.target.partition("?")[0]
        base = base.rsplit("/", 1)[0] if not base.endswith("/") else base.rstrip("/")
        return URL.parse(f"{self.scheme}://{self.authority}{base}/{other}")

    def __repr__(self) -> str:
        return f"URL({self.raw!r})"

    def __str__(self) -> str:
        return self.raw


def _plain(target: str) -> bool:
    """Whether ``target`` needs no percent-encoding (the usual case, checked fast)."""
    return not any(c in target for c in ' "<>\\^`{|}') and target.isprintable()


def _split_host_port(hostport: str, raw: str) -> tuple[str, int | None]:
    """The host (IDNA-encoded, brackets removed) and the port, if given."""
    port_text = ""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise InvalidURL(f"unclosed '[' in {raw[:100]!r}")
        host = hostport[1:close]
        after = hostport[close + 1 :]
        if after:
            if not after.startswith(":"):
                raise InvalidURL(f"invalid authority in {raw[:100]!r}")
            port_text = after[1:]
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            raise InvalidURL(f"invalid IPv6 address in {raw[:100]!r}") from None
    else:
        host, _, port_text = hostport.partition(":")  # an empty port is the default
    if not host:
        raise InvalidURL(f"no host in {raw[:100]!r}")
    port: int | None = None
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
            raise InvalidURL(f"invalid port {port_text[:20]!r} in {raw[:100]!r}")
        port = int(port_text)
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURL(f"invalid host name in {raw[:100]!r}") from None
    host = host.lower()
    if any(c in host for c in " \t\r\n/\\@?#"):
        raise InvalidURL(f"invalid host in {raw[:100]!r}")
    return host, port
