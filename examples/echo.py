"""Echo: answer every request with a JSON description of it.

``{"method", "target", "version", "headers": [[name, value], ...], "body"}``; the body
is read through the streaming ``BodyReader`` API, de-chunked, and decoded as latin-1.

    python examples/echo.py --port 8080
    curl -d 'hello' http://127.0.0.1:8080/anything?x=1
"""

from __future__ import annotations

import json

from _cli import announce, parse_args

from httpaf import Reqd, Response
from httpaf.asyncio import run


def handler(reqd: Reqd) -> None:
    """Read the whole body piece by piece, then answer."""
    request = reqd.request
    body = reqd.body
    pieces: list[bytes] = []

    def on_read(data: memoryview) -> None:
        pieces.append(bytes(data))  # data points into the read buffer: copy it now
        body.schedule_read(on_read, on_eof)

    def on_eof() -> None:
        document = {
            "method": str(request.method),
            "target": request.target,
            "version": f"{request.version.major}.{request.version.minor}",
            "headers": [[name, value] for name, value in request.headers],
            "body": b"".join(pieces).decode("latin-1"),
        }
        # on_read refers to itself (a reference cycle the garbage collector frees
        # later): drop the body's bytes now rather than then.
        pieces.clear()
        reqd.respond_with_string(
            Response(200, [("Content-Type", "application/json")]), json.dumps(document)
        )

    body.schedule_read(on_read, on_eof)


def main() -> None:
    args = parse_args("httpaf echo server")
    run(
        handler,
        args.host,
        args.port,
        use_uvloop=False if args.no_uvloop else None,
        ready=announce,
    )


if __name__ == "__main__":
    main()
