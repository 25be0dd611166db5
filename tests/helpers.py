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


def unescaped(text: str) -> str:
    """Text with JSON's ``\\uXXXX`` escapes read back (a map's script writes Chinese so)."""
    import re

    return re.sub(r"\\\\?u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


# What a Chinese page may show in Latin letters: names of standards and formats, units, the
# commands the empty states quote, and the demo's user names and data (user text is shown as
# typed).
LATIN_ALLOWED = frozenset({
    "h3", "csv", "html", "markdown", "zip", "pdf", "wgs84", "gcj", "bd", "gps", "mb", "kb", "km", "readme",
    "gi", "getis", "ord", "mann", "kendall", "arcgis", "welch", "json", "lines", "parquet", "yaml", "utf",
    "gbk", "python", "geo", "make", "run", "demo", "ingest", "detect", "governance", "whistle", "raise",
    "boundaries", "load", "shipped", "import", "project", "create", "emerging", "file", "values", "category",
    "supervisor", "guanganmenwai", "coordinator", "zhao", "wang", "li", "fdr", "pts", "deck", "streamlit",
    "leaflet", "openstreetmap", "id", "wgs", "english",
})


def english_words(text: str, allowed: frozenset[str] = LATIN_ALLOWED) -> list[str]:
    """The words of three Latin letters or more in ``text`` that a Chinese page should not show
    (``allowed`` and what a code span quotes apart)."""
    import re

    text = re.sub(r"`[^`]*`", " ", text)  # a command quoted for the user to type
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w.lower() not in allowed]
