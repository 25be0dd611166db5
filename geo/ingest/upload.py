"""Ingest an uploaded file in a process of its own, bounded in memory, size, rows and time.

The app's server holds every user's session: a file that expands without bound (a 25 KB
Parquet bomb took it from 0.6 to 5.8 GB and kept 3.6 GB) must not be read inside it. The
upload is ingested by ``python -m geo ingest --bounded --json`` in a child process whose
address space is capped (``RLIMIT_AS``) and which is stopped after a time limit; whatever
happens to the child, the server's memory is untouched, the load is one transaction, and the
user gets one sentence.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from geo.errors import ValidationError
from geo.ingest.limits import MB, UploadLimits, check_size
from geo.settings import PROJECT_ROOT

log = logging.getLogger(__name__)
_CHILD = ("import resource, runpy, sys\n"
          "memory = int(sys.argv[1])\n"
          "resource.setrlimit(resource.RLIMIT_AS, (memory, memory))\n"
          "sys.argv = ['geo', *sys.argv[2:]]\n"
          "runpy.run_module('geo', run_name='__main__', alter_sys=True)\n")


def ingest_bounded(database_url: str, path: Path, *, crs: str | None, encoding: str,
                   limits: UploadLimits, mapping: Path | None = None) -> dict:
    """Ingest ``path`` in a bounded child process; return its summary.

    Parameters
    ----------
    database_url : str
        Where the child loads the file.
    path : Path
        The uploaded file, under a name of the platform's choosing.
    crs, encoding : str
        The form's coordinate system and text encoding.
    limits : UploadLimits
        The bounds (the ``WHISTLE_UPLOAD_*`` settings).
    mapping : Path, optional
        A mapping file (YAML or JSON) for an export with its own column names and values.

    Returns
    -------
    dict
        ``run_id``, ``source`` and the counts of :meth:`geo.ingest.summary.IngestSummary.as_dict`.

    Raises
    ------
    ValidationError
        With the child's one-line reason (a bad file, a bound exceeded), or a sentence saying
        that it ran out of memory or time; nothing was stored then.
    """
    check_size(path, limits)  # refused before a process is started
    arguments = ["ingest", str(path), "--encoding", encoding, "--bounded", "--json"] + (["--crs", crs] if crs else [])
    if mapping is not None:
        arguments += ["--mapping", str(mapping)]
    # The child caps its own address space before it imports anything (a preexec_fn would do
    # it in the parent's fork, which is unsafe in the app server's threads).
    command = [sys.executable, "-c", _CHILD, str(limits.max_memory_bytes), *arguments]
    env = {**os.environ, "DATABASE_URL": database_url, "WHISTLE_DEBUG": ""}
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                              timeout=limits.timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ValidationError(f"{path.name} took more than {limits.timeout_s // 60} minutes to ingest; nothing was "
                              "stored (ingest it with `python -m geo ingest`)") from None
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    log.warning("bounded ingest of %s failed (%s): %s", path.name, done.returncode, done.stderr[-2000:])
    if done.returncode < 0 or "MemoryError" in done.stderr or "bad_alloc" in done.stderr:
        raise ValidationError(f"{path.name} needed more than the {limits.max_memory_bytes / MB:,.0f} MB an upload may "
                              "use; nothing was stored (split it, or ingest it with `python -m geo ingest`)")
    reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "the ingest stopped"
    raise ValidationError(reason.removeprefix("error: ").strip())

