"""Command-line options shared by the examples."""

from __future__ import annotations

import argparse
from typing import Any


def parse_args(description: str, **extra: str) -> argparse.Namespace:
    """``--host``, ``--port``, ``--no-uvloop`` and any ``--flag`` given in ``extra``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--no-uvloop", action="store_true", help="use plain asyncio")
    for flag, help_text in extra.items():
        parser.add_argument(f"--{flag}", action="store_true", help=help_text)
    return parser.parse_args()


def announce(server: Any) -> None:
    """Say where ``server`` listens, port included (tests wait for this line)."""
    import httpaf

    host, port = server.sockets[0].getsockname()[:2]
    print(f"httpaf ({httpaf.implementation}) serving on http://{host}:{port}", flush=True)
