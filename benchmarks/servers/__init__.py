"""Servers for the side-by-side benchmark: the same three routes on every engine.

``/`` answers ``Hello, world!\\n`` (14 bytes), ``/alice`` http/af's 2053-byte benchmark
body, ``/upload`` echoes the request body back; all as ``text/plain`` with
Content-Length, keep-alive.
"""
