"""aiohttp.web with the same three routes."""

from __future__ import annotations

import argparse

from aiohttp import web

from benchmarks.servers.payloads import ALICE, HELLO


async def hello(request: web.Request) -> web.Response:
    return web.Response(body=HELLO, content_type="text/plain")


async def alice(request: web.Request) -> web.Response:
    return web.Response(body=ALICE, content_type="text/plain")


async def upload(request: web.Request) -> web.Response:
    return web.Response(body=await request.read(), content_type="text/plain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_route("*", "/", hello)
    app.router.add_route("*", "/alice", alice)
    app.router.add_route("*", "/upload", upload)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
