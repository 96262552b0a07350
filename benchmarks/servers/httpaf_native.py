"""httpaf's native API: the handler answers from shared, zero-copy bodies.

python -m benchmarks.servers.httpaf_native --port 8080   (HTTPAF_NO_EXTENSIONS=1 for pure)
"""

from __future__ import annotations

import argparse

from benchmarks.servers.payloads import ALICE, HELLO
from httpaf import Reqd, Response
from httpaf.asyncio import run

_HELLO = Response(200, [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))])
_ALICE = Response(200, [("Content-Type", "text/plain"), ("Content-Length", str(len(ALICE)))])


class _Echo:
    """Collects a request body and answers with it.

    A class rather than closures that schedule themselves: a closure that refers to
    itself is a reference cycle, which would keep each request's body alive until
    the garbage collector runs.
    """

    __slots__ = ("reqd", "chunks")

    def __init__(self, reqd: Reqd) -> None:
        self.reqd = reqd
        self.chunks: list[bytes] = []
        reqd.body.schedule_read(self.on_read, self.on_eof)

    def on_read(self, data: memoryview) -> None:
        self.chunks.append(bytes(data))
        self.reqd.body.schedule_read(self.on_read, self.on_eof)

    def on_eof(self) -> None:
        body = b"".join(self.chunks)
        self.chunks.clear()
        self.reqd.respond_with_bytes(Response(200, [("Content-Type", "text/plain")]), body)


def handler(reqd: Reqd) -> None:
    """Hello on /, the 2053-byte text on /alice, an echo on /upload."""
    target = reqd.request.target
    if target == "/upload":
        _Echo(reqd)
        return
    reqd.body.close()
    if target == "/alice":
        reqd.respond_with_bytes(_ALICE, ALICE)
    else:
        reqd.respond_with_bytes(_HELLO, HELLO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    run(handler, args.host, args.port, backlog=4096)


if __name__ == "__main__":
    main()
