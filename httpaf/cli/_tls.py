"""The server's TLS context from the ``--ssl-*`` options (or ``ssl_context_factory``)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._options import Options

__all__ = ["make_ssl_context"]


def _from_files(options: Options) -> ssl.SSLContext:
    if not options.ssl_certfile:
        raise ValueError("a TLS context needs --ssl-certfile")
    context = ssl.SSLContext(options.ssl_version)
    password = options.ssl_keyfile_password
    context.load_cert_chain(
        options.ssl_certfile, options.ssl_keyfile, (lambda: password) if password else None
    )
    # CERT_OPTIONAL asks for a client certificate, CERT_REQUIRED refuses a client
    # without one; either way it must chain to --ssl-ca-certs.
    context.verify_mode = ssl.VerifyMode(options.ssl_cert_reqs)
    if options.ssl_ca_certs:
        context.load_verify_locations(options.ssl_ca_certs)
    if options.ssl_ciphers:
        context.set_ciphers(options.ssl_ciphers)
    return context


def make_ssl_context(options: Options) -> ssl.SSLContext | None:
    """The context of ``--ssl-certfile`` and the other ``--ssl-*`` options, or the one
    ``ssl_context_factory(options, default)`` returns; ``None`` without either."""
    factory = options.ssl_context_factory
    if factory is not None:
        context = factory(options, lambda: _from_files(options))
        if not isinstance(context, ssl.SSLContext):
            raise TypeError(
                f"ssl_context_factory must return an ssl.SSLContext, not {type(context).__name__}"
            )
        return context
    if options.ssl_certfile or options.ssl_keyfile:
        return _from_files(options)
    return None
