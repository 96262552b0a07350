"""The practical Python limit: an asyncio protocol, httptools and uvloop, nothing else.

No framework, no ASGI, no validation beyond httptools': a lower bound on what any
Python server can cost per request.
"""

from __future__ import annotations

import argparse
import asyncio

import httptools
import uvloop

from benchmarks.servers.payloads import ALICE, HELLO

_HELLO = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
    len(HELLO),
    HELLO,
)
_ALICE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
    len(ALICE),
    ALICE,
)


class Protocol(asyncio.Protocol):
    """One connection: parse with httptools, answer on message completion."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        url = self.url
        if url == b"/upload":
            body = b"".join(self.body)
            self.body = []
            self.transport.write(  # type: ignore[attr-defined]
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                % len(body)
                + body
            )
        elif url == b"/alice":
            self.transport.write(_ALICE)  # type: ignore[attr-defined]
        else:
            self.transport.write(_HELLO)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    loop = uvloop.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(Protocol, "127.0.0.1", args.port, backlog=4096)
    )
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
