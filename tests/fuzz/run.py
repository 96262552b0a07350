"""Run every atheris target for a while, one after the other; print how many inputs ran.

    python tests/fuzz/run.py [--seconds N] [--targets request,response,chunked]

Each target runs as ``fuzz_parsers.py TARGET`` in one process (no forks, no jobs) with
the seed corpus of ``tests/fuzz/corpus/TARGET`` (read only: new inputs go to a scratch
directory under ``tests/fuzz/.work/``), ``-max_len=4096`` and ``-timeout=10`` (a hang).
A crash leaves ``crash-*`` files in ``tests/fuzz/.work/artifacts/`` and makes the exit
status 1.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("request", "response", "chunked")
DONE = re.compile(rb"Done (\d+) runs in (\d+) second")
STATUS = re.compile(rb"^#(\d+)\s", re.M)


def run_target(target: str, seconds: int, work: str) -> tuple[int, int, float]:
    """Fuzz ``target``; return (inputs run, exit status, wall seconds)."""
    scratch = os.path.join(work, "corpus", target)
    artifacts = os.path.join(work, "artifacts") + os.sep
    os.makedirs(scratch, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    cmd = [
        sys.executable,
        os.path.join(HERE, "fuzz_parsers.py"),
        target,
        f"-max_total_time={seconds}",
        "-max_len=4096",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-dict={os.path.join(HERE, 'http.dict')}",
        f"-artifact_prefix={artifacts}{target}-",
        scratch,
        os.path.join(HERE, "corpus", target),
    ]
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(HERE))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    elapsed = time.monotonic() - started
    out = proc.stdout
    with open(os.path.join(work, f"{target}.log"), "wb") as f:
        f.write(out)
    done = DONE.search(out)
    if done:
        runs = int(done.group(1))
    else:  # a crash: the last status line says how far it got
        counts = STATUS.findall(out)
        runs = int(counts[-1]) if counts else 0
    if proc.returncode != 0:
        sys.stdout.write(out[-4000:].decode("utf-8", "replace"))
    return runs, proc.returncode, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    work = os.path.join(HERE, ".work")
    total, failed = 0, False
    for target in args.targets.split(","):
        runs, status, elapsed = run_target(target, args.seconds, work)
        total += runs
        failed |= status != 0
        verdict = "ok" if status == 0 else f"CRASH (exit {status}, see {work}/artifacts)"
        print(f"fuzz {target:9s} {runs:>12,d} inputs in {elapsed:7.1f} s "
              f"({runs / max(elapsed, 1e-9):,.0f}/s)  {verdict}", flush=True)
    print(f"fuzz total     {total:>12,d} inputs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
