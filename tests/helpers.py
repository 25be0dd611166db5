"""What many tests share: the command line run as a user runs it, its one-line errors, a signed-in user."""

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


TEST_PASSWORD = "correct horse battery"


def signed_in(url: str, username: str = "tester", role: str = "supervisor", township: str | None = None):
    """A user stored in the database at ``url`` (made or reset) and signed in, as pages need one."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from geo.act.users_db import authenticate, create_user

    engine = sa.create_engine(url)
    try:
        create_user(engine, username, TEST_PASSWORD, role=role, township_code=township, replace=True)
        user = authenticate(engine, username, TEST_PASSWORD, now=datetime.now(UTC))
    finally:
        engine.dispose()
    assert user is not None
    return user


def stop(process, timeout: float = 20) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    import subprocess

    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
