"""TLS for clients: one :class:`ssl.SSLContext` per setting, verification on by default."""

from __future__ import annotations

import os
import ssl

__all__ = ["client_ssl_context", "Verify", "Cert"]

#: ``True`` (the system's CAs), ``False`` (no verification: tests only), a CA file or
#: directory, or a ready context.
Verify = bool | str | ssl.SSLContext
#: A client certificate: a file holding it and its key, or ``(certfile, keyfile)``, or
#: ``(certfile, keyfile, password)``.
Cert = str | tuple[str, str] | tuple[str, str, str]

_cache: dict[tuple[object, ...], ssl.SSLContext] = {}


def client_ssl_context(
    verify: Verify = True, cert: Cert | None = None, trust_env: bool = True
) -> ssl.SSLContext:
    """A client context: certificates and host names verified, ALPN ``http/1.1``.

    A context given as ``verify`` is used as it is (its ALPN too). With ``trust_env``,
    ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` add CAs, as OpenSSL's tools do. Contexts are
    cached per setting: building one loads every CA of the system.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env else ()
    key = (verify, cert, env)
    context = _cache.get(key)
    if context is None:
        context = _cache[key] = _build(verify, cert, trust_env)
    return context


def _build(verify: bool | str, cert: Cert | None, trust_env: bool) -> ssl.SSLContext:
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        context = ssl.create_default_context()
        if trust_env:
            cafile = os.environ.get("SSL_CERT_FILE")
            capath = os.environ.get("SSL_CERT_DIR")
            if cafile and os.path.isfile(cafile):
                context.load_verify_locations(cafile=cafile)
            if capath and os.path.isdir(capath):
                context.load_verify_locations(capath=capath)
    elif isinstance(verify, str):
        if os.path.isdir(verify):
            context = ssl.create_default_context(capath=verify)
        else:
            context = ssl.create_default_context(cafile=verify)
    else:
        raise TypeError(f"verify must be a bool, a path or an SSLContext, not {verify!r}")
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if cert is not None:
        if isinstance(cert, str):
            context.load_cert_chain(cert)
        elif len(cert) == 2:
            context.load_cert_chain(cert[0], cert[1])
        else:
            context.load_cert_chain(cert[0], cert[1], cert[2])
    return context
