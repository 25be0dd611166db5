"""What many tests share: the command line run as a user runs it, and its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def geo(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """``python -m geo ARGS`` in a subprocess from the project folder, with ``env`` added."""
    return subprocess.run([sys.executable, "-m", "geo", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, input=input, check=False)


def assert_one_line_error(done: subprocess.CompletedProcess, pattern: str) -> None:
    """The command failed with a readable error naming ``pattern``, and no traceback."""
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert pattern in " ".join(done.stderr.split()), done.stderr
