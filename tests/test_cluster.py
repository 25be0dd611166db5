"""The embedded cluster: created on first start, idempotent, recovers from a killed server."""

from __future__ import annotations

import os
import signal
import time

import pytest
import sqlalchemy as sa

from geo.errors import ClusterError
from geo.store.cluster import LocalCluster

# Each test here runs PostgreSQL's own binaries.
pytestmark = pytest.mark.db



def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still alive")


def _postgis(cluster: LocalCluster) -> str:
    engine = sa.create_engine(cluster.url())
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT postgis_version()")).scalar_one()
    engine.dispose()
    return version


def test_lifecycle_from_nothing_to_running_to_killed_and_back(tmp_path_factory):
    cluster = LocalCluster(root=tmp_path_factory.mktemp("life") / "pg", fast=True)
    assert not cluster.status().initialised
    assert "not initialised" in cluster.status().describe()

    running = cluster.start()
    assert running.running
    assert _postgis(cluster).startswith("3.")
    assert cluster.start().pid == running.pid  # starting a running cluster does nothing

    # A server killed outright leaves its postmaster.pid behind; start recovers.
    os.kill(running.pid, signal.SIGKILL)
    _wait_gone(running.pid)
    assert (cluster.data_dir / "postmaster.pid").exists()
    assert not cluster.status().running
    recovered = cluster.start()
    assert recovered.running
    assert recovered.pid != running.pid
    assert _postgis(cluster).startswith("3.")

    stopped = cluster.stop()
    assert not stopped.running
    assert stopped.initialised
    assert not cluster.stop().running  # stopping a stopped cluster does nothing

    cluster.reset()
    assert not cluster.root.exists()


def test_stale_pid_file_of_another_process_is_not_trusted(tmp_path):
    cluster = LocalCluster(root=tmp_path / "pg")
    cluster.data_dir.mkdir(parents=True)
    (cluster.data_dir / "PG_VERSION").write_text("15\n")
    (cluster.data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n")  # pytest, not postgres
    assert not cluster.status().running


def test_missing_binaries_name_the_package_to_install(tmp_path):
    cluster = LocalCluster(root=tmp_path / "pg", bin_dir=tmp_path / "nowhere")
    with pytest.raises(ClusterError, match="apt-get install -y postgresql-15-postgis-3"):
        cluster.start()


def test_too_long_socket_path_is_refused_with_the_fix(tmp_path):
    cluster = LocalCluster(root=tmp_path / ("x" * 120))
    with pytest.raises(ClusterError, match=r"too long for a Unix socket.*WHISTLE_PG_DIR"):
        cluster.start()
