"""The bare ASGI app on httpaf's ASGI server (Cython, uvloop)."""

from __future__ import annotations

import argparse

from benchmarks.servers.asgi_app import app
from httpaf.asgi import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    run(app, "127.0.0.1", args.port, access_log=False)


if __name__ == "__main__":
    main()
