"""Hello world: ``GET /hello/<who>`` answers ``Hello, <who>!``; 404 and 405 otherwise.

    python examples/hello.py --port 8080
    curl http://127.0.0.1:8080/hello/world
"""

from __future__ import annotations

from _cli import announce, parse_args

from httpaf import Reqd, Response
from httpaf.asyncio import run

PREFIX = "/hello/"


def handler(reqd: Reqd) -> None:
    """Answer one request."""
    request = reqd.request
    reqd.body.close()
    if request.method != "GET":
        reqd.respond_with_string(
            Response(405, [("Allow", "GET"), ("Content-Type", "text/plain")]),
            "Method Not Allowed\n",
        )
    elif request.target.startswith(PREFIX) and len(request.target) > len(PREFIX):
        who = request.target[len(PREFIX) :]
        reqd.respond_with_string(
            Response(200, [("Content-Type", "text/plain")]), f"Hello, {who}!\n"
        )
    else:
        reqd.respond_with_string(
            Response(404, [("Content-Type", "text/plain")]), "Route not found\n"
        )


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
