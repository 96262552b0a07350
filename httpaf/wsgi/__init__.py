"""WSGI (PEP 3333) applications on the asyncio runtime, called from a bounded thread pool.

The event loop parses requests and writes responses; each request's application call
runs in a worker thread (at most ``threads`` at once, the rest wait in line):

- ``wsgi.input`` streams the request body: a read in the thread asks the loop for the
  next piece of the :class:`~httpaf.BodyReader` and waits for it, so the body is read
  only as fast as the application asks for it (the connection stops reading from the
  socket while unread bytes pile up), and ``100 Continue`` goes out on the first read;
- each chunk of the response iterable is handed to the loop and written through a
  :class:`~httpaf.BodyWriter`; the thread waits while more than ``WRITE_HIGH_WATER``
  bytes are not yet accepted by the transport, so a slow client slows the application
  down instead of filling memory;
- a response with ``Content-Length`` is sent as is (a longer body is cut at the
  declared length), one without is chunked for HTTP/1.1 and close-delimited for 1.0;
- ``wsgi.file_wrapper`` sends regular files with ``os.sendfile`` straight to the socket
  (plain TCP; TLS and other files are read in blocks);
- an exception before the response started is answered with a 500 and the connection
  goes on; after it started, the connection is cut so the client sees a truncated
  message; the iterable's ``close()`` is always called.

    from httpaf.wsgi import run
    run(app, "127.0.0.1", 8000, threads=16)

The parts: ``_types``, ``_pool`` (the worker threads), ``_input`` (``wsgi.input``),
``_files`` (``wsgi.file_wrapper``), ``_state`` (what a server's connections share),
``_exchange`` (one request's call), ``_protocol`` (a connection), ``_server``.
"""

from __future__ import annotations

from ._exchange import WRITE_HIGH_WATER
from ._files import FileWrapper
from ._input import InputStream
from ._server import WSGIServer, run, serve
from ._types import ClientDisconnected, WSGIApp

__all__ = [
    "ClientDisconnected",
    "FileWrapper",
    "InputStream",
    "WRITE_HIGH_WATER",
    "WSGIApp",
    "WSGIServer",
    "run",
    "serve",
]
