"""Hello world: ``GET /hello/<who>`` answers ``Hello, <who>!``; 404 and 405 otherwise.

The program of http/af's README (``/hello`` alone greets the world).

    python examples/hello.py --port 8080
    curl http://127.0.0.1:8080/hello/world
"""

from __future__ import annotations

from _cli import announce, parse_args

from httpaf import Reqd, Response
from httpaf.asyncio import run

TEXT = [("Content-Type", "text/plain")]
# As in http/af's README, error answers close the connection.
CLOSE = [*TEXT, ("Connection", "close")]


def handler(reqd: Reqd) -> None:
    """Answer one request (the handler of http/af's README)."""
    request = reqd.request
    reqd.body.close()
    if request.method != "GET":
        reqd.respond_with_string(
            Response(405, CLOSE), f"{request.method} is not an allowed method\n"
        )
        return
    segments = request.target.split("/")
    if segments[:2] == ["", "hello"]:
        who = segments[2] if len(segments) > 2 and segments[2] else "world"
        reqd.respond_with_string(Response(200, TEXT), f"Hello, {who}!\n")
    else:
        reqd.respond_with_string(Response(404, CLOSE), f"{request.target!r} not found\n")


def main() -> None:
    args = parse_args("httpaf hello world")
    run(
        handler,
        args.host,
        args.port,
        use_uvloop=False if args.no_uvloop else None,
        ready=announce,
    )


if __name__ == "__main__":
    main()
