"""The set-up script and the settings: what a newcomer meets first."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from geo.errors import ValidationError
from geo.settings import load_settings
from tests.helpers import ROOT


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_bootstrap_as_non_root_names_the_command_for_missing_packages():
    work = Path(tempfile.mkdtemp(prefix="whistle-bootstrap-"))
    try:
        (work / "scripts").mkdir()
        shutil.copy(ROOT / "scripts" / "bootstrap.sh", work / "scripts")
        stub = work / "bin"
        stub.mkdir()
        # Every package looks missing to the script.
        (stub / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
        (stub / "dpkg-query").chmod(0o755)
        for folder in (work, work / "scripts", stub):
            folder.chmod(folder.stat().st_mode | stat.S_IRWXO)
        done = subprocess.run(
            ["runuser", "-u", "nobody", "--", "env", f"PATH={stub}:/usr/bin:/bin", "PYTHON=/usr/bin/true",
             "bash", str(work / "scripts" / "bootstrap.sh"), "test"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    finally:
        shutil.rmtree(work)
    assert done.returncode == 1
    # Chromium and the CJK fonts print the PDF reports (run time); the driver is the tests' only.
    assert "sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql-15-postgis-3 " \
           "chromium fonts-noto-cjk chromium-driver" in done.stderr


def test_settings_defaults_and_overrides(tmp_path):
    defaults = load_settings({})
    assert defaults.uses_local_cluster
    assert defaults.pg_dir == ROOT / "var" / "pg"
    assert defaults.metric_crs == "EPSG:32650"
    custom = load_settings({"DATABASE_URL": "postgresql://x@h/db", "WHISTLE_PG_DIR": str(tmp_path),
                            "WHISTLE_DISPLAY_TOLERANCE_M": "25"})
    assert not custom.uses_local_cluster
    assert custom.pg_dir == tmp_path
    assert custom.display_tolerance_m == 25.0


@pytest.mark.parametrize("value", ["lots", "-5"])
def test_bad_setting_is_named(value):
    with pytest.raises(ValidationError, match=f"WHISTLE_OVERLAP_TOLERANCE_M2 was '{value}'"):
        load_settings({"WHISTLE_OVERLAP_TOLERANCE_M2": value})


def test_plain_libpq_url_is_given_the_psycopg_driver():
    from geo.store.engine import database_url

    settings = load_settings({"DATABASE_URL": "postgresql://me@db.internal/whistle"})
    assert database_url(settings) == "postgresql+psycopg://me@db.internal/whistle"
