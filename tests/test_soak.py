"""A short soak (15 s) of benchmarks/soak.py: mixed traffic against examples/echo.py.

The full run is ``make soak MINUTES=10``. This one checks that the script works and
that 15 s of keep-alive, pipelined, chunked, large, malformed and reset traffic leave
the echo server with no runaway RSS after warm-up and its fds back at baseline. It asserts
no timings; the load is bounded by time and stops by itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOAK = ROOT / "benchmarks" / "soak.py"


@pytest.mark.skipif(not SOAK.exists(), reason="benchmarks/ is not in this tree (installed run)")
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="samples /proc (Linux)")
def test_short_soak_leaves_no_growth_and_no_open_fds() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        # 15 s is too short for the 5% RSS limit of the real soak (1 MiB echoes in
        # flight swing RSS by more than that between 5 s windows): here the growth
        # bound only catches a leak; fds, failures and the 10-minute run do the rest.
        [sys.executable, str(SOAK), "--seconds", "15", "--chart", "", "--max-growth", "30"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "soak: OK" in proc.stdout


@pytest.mark.skipif(not SOAK.exists(), reason="benchmarks/ is not in this tree (installed run)")
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="samples /proc (Linux)")
def test_short_websocket_soak() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--websocket", "--seconds", "12", "--chart", "",
         "--max-growth", "30"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "soak: OK" in proc.stdout
    for kind in ("'ws'", "'ws-deflate'", "'ws-violation'", "'ws-reset'", "'ws-http'"):
        assert kind in proc.stdout  # every kind of client completed exchanges
