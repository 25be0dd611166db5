"""How fast the command line answers ``--help``, against a bare Python start-up (issue 16).

    .venv/bin/python bench/bench_cli.py

The command modules import their heavy libraries inside the commands, so that the help and
every argument error answer at once.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7


def _seconds(*args: str) -> float:
    """The median wall time of running ``python ARGS`` from the project folder."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bare = _seconds("-c", "pass")
    help_s = _seconds("-m", "geo", "--help")
    group_s = _seconds("-m", "geo", "detect", "--help")
    print(f"python -m geo --help         {help_s:.3f} s (goal 0.5 s)")
    print(f"python -m geo detect --help  {group_s:.3f} s")
    print(f"bare python start-up         {bare:.3f} s; --help is {help_s / bare:.1f}x a bare start-up")


if __name__ == "__main__":
    main()
