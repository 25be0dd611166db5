"""The embedded PostgreSQL + PostGIS cluster that runs under the project folder.

With no ``DATABASE_URL``, the platform keeps its own cluster in ``var/pg`` (data, socket,
log): ``initdb`` on first use, listening on a Unix socket in that folder only (no TCP port
to collide with), with PostGIS enabled in the ``whistle`` database. The same class gives
the test session its throwaway cluster.

PostgreSQL refuses to run as root. When the platform runs as root (a fresh Debian machine,
CI), the server runs as the ``postgres`` system user that Debian's package creates; the
folders it needs are handed to that user, and any folder above them that other users may
not enter gets the search (``x``) bit so that the server can reach its data.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from geo.errors import ClusterError

log = logging.getLogger(__name__)

DB_NAME = "whistle"
SUPERUSER = "whistle"
SERVICE_USER = "postgres"
APT_HINT = "apt-get install -y postgresql-15-postgis-3"
# A Unix socket path is limited to 107 bytes on Linux, "/.s.PGSQL.5432" included.
_SOCKET_PATH_LIMIT = 107 - len("/.s.PGSQL.65535")


@dataclass(frozen=True)
class ClusterStatus:
    """What :meth:`LocalCluster.status` found."""

    initialised: bool
    running: bool
    pid: int | None
    url: str
    data_dir: Path

    def describe(self) -> str:
        """Return one line a person can read."""
        if not self.initialised:
            return f"not initialised ({self.data_dir} is empty); `python -m geo db start` creates it"
        if not self.running:
            return f"stopped ({self.data_dir})"
        return f"running, pid {self.pid}, {self.url}"


@dataclass(frozen=True)
class LocalCluster:
    """A PostgreSQL cluster kept in a folder of its own, reached over a Unix socket.

    Parameters
    ----------
    root : Path
        The folder holding ``data/``, ``run/`` (the socket) and ``log/``.
    bin_dir : Path, optional
        Folder with ``initdb``, ``pg_ctl`` and ``postgres``; found when omitted.
    port : int
        Names the socket file; nothing listens on TCP.
    fast : bool
        Trade durability for speed (``fsync=off``): for throwaway test clusters only.
    """

    root: Path
    bin_dir: Path | None = None
    port: int = 5432
    fast: bool = False

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        """The folder holding the server's Unix socket."""
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.root / "log" / "postgres.log"

    def url(self, dbname: str = DB_NAME) -> str:
        """Return the SQLAlchemy URL of a database in this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def status(self) -> ClusterStatus:
        """Tell whether the cluster exists and whether its server is running."""
        initialised = (self.data_dir / "PG_VERSION").exists()
        pid = self._live_pid() if initialised else None
        return ClusterStatus(initialised, pid is not None, pid, self.url(), self.data_dir)

    def start(self) -> ClusterStatus:
        """Create the cluster if needed, start its server, and enable PostGIS.

        Starting a running cluster does nothing. A ``postmaster.pid`` left by a killed
        server is removed (and said so in the log).

        Returns
        -------
        ClusterStatus
            The status once the server accepts connections.

        Raises
        ------
        ClusterError
            If PostgreSQL or PostGIS is missing, or the server does not start; the
            message names the command to run or quotes the server's log.
        """
        bin_dir = self._binaries()
        self._check_socket_path()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        if self._live_pid() is None:
            self._clear_stale_files()
            self._pg_ctl(bin_dir, "start", "-w", "-t", "60", "-l", str(self.log_file))
        self._ensure_database(bin_dir)
        return self.status()

    def stop(self) -> ClusterStatus:
        """Stop the server (fast shutdown) if it is running."""
        if self._live_pid() is not None:
            self._pg_ctl(self._binaries(), "stop", "-w", "-m", "fast")
        return self.status()

    def reset(self) -> ClusterStatus:
        """Stop the server and delete the cluster's data; the next start begins afresh."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        return self.status()

    # -- private steps -----------------------------------------------------------------

    def _binaries(self) -> Path:
        bin_dir = self.bin_dir or find_pg_bin()
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (bin_dir / tool).exists():
                raise ClusterError(f"PostgreSQL's {tool} is not in {bin_dir}; install it: {APT_HINT}")
        share = _share_dir(bin_dir)
        if not (share / "extension" / "postgis.control").exists():
            raise ClusterError(f"PostGIS is not installed for {bin_dir.parent.name}; install it: {APT_HINT}")
        return bin_dir

    def _check_socket_path(self) -> None:
        if len(str(self.socket_dir)) > _SOCKET_PATH_LIMIT:
            raise ClusterError(
                f"the socket folder {self.socket_dir} is too long for a Unix socket "
                f"({len(str(self.socket_dir))} > {_SOCKET_PATH_LIMIT} characters); "
                "set WHISTLE_PG_DIR to a shorter folder"
            )

    def _initdb(self, bin_dir: Path) -> None:
        log.info("creating the local PostGIS cluster in %s", self.data_dir)
        for folder in (self.data_dir, self.socket_dir, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        self._hand_over()
        self.data_dir.chmod(0o700)
        self._run(
            [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
            what="initdb",
        )
        settings = [
            "listen_addresses = ''",
            f"unix_socket_directories = '{self.socket_dir}'",
            f"port = {self.port}",
            "unix_socket_permissions = 0700",
            # The API, the worker (and its queue's pool), the app and a replay at once.
            "max_connections = 100",
            "shared_buffers = 256MB",
            "work_mem = 32MB",
            "maintenance_work_mem = 256MB",
            # Ingest stages each file in a temporary table: keep it in memory.
            "temp_buffers = 256MB",
            "max_wal_size = 4GB",
        ]
        if self.fast:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n".join(settings) + "\n")

    def _hand_over(self) -> None:
        # Only as root: the server runs as `postgres`, which must own and reach these folders.
        if os.geteuid() != 0:
            return
        user = _service_user()
        for folder in (self.root, self.data_dir, self.socket_dir, self.log_file.parent):
            os.chown(folder, user.pw_uid, user.pw_gid)
        for parent in self.root.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                log.info("letting %s search %s (chmod o+x) so the server reaches its data",
                         SERVICE_USER, parent)
                parent.chmod(mode | stat.S_IXOTH)

    def _live_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text(encoding="utf-8").splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        if not _is_postgres(pid):
            return None
        return pid

    def _clear_stale_files(self) -> None:
        stale = [self.data_dir / "postmaster.pid", *self.socket_dir.glob(".s.PGSQL.*")]
        for path in stale:
            if path.exists():
                log.warning("removing %s, left by a server that is no longer running", path)
                path.unlink()

    def _pg_ctl(self, bin_dir: Path, *args: str) -> None:
        self._run([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args], what=f"pg_ctl {args[0]}")

    def _ensure_database(self, bin_dir: Path) -> None:
        psql = bin_dir / "psql"
        psql_cmd = str(psql) if psql.exists() else "psql"
        base = [psql_cmd, "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER,
                "-v", "ON_ERROR_STOP=1", "-qAt"]
        exists = self._run([*base, "-d", "postgres", "-c",
                            f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"], what="psql")
        if exists.strip() != "1":
            self._run([*base, "-d", "postgres", "-c", f"CREATE DATABASE {DB_NAME}"], what="createdb")
        self._run([*base, "-d", DB_NAME, "-c", "CREATE EXTENSION IF NOT EXISTS postgis"],
                  what="CREATE EXTENSION postgis")

    def _run(self, cmd: list[str], *, what: str) -> str:
        if os.geteuid() == 0:
            _service_user()
            cmd = ["runuser", "-u", SERVICE_USER, "--", *cmd]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except FileNotFoundError as exc:
            raise ClusterError(f"{what}: {exc.filename} is not installed; {APT_HINT}") from None
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{what} did not finish in 120 s; see {self.log_file}") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            tail = self._log_tail()
            message = detail[-1] if detail else f"exit code {done.returncode}"
            raise ClusterError(f"{what} failed: {message}" + (f"\nserver log:\n{tail}" if tail else ""))
        return done.stdout

    def _log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


def find_pg_bin() -> Path:
    """Find the folder of PostgreSQL's server programs.

    Returns
    -------
    Path
        Debian's newest ``/usr/lib/postgresql/N/bin`` with PostGIS, else the folder of
        ``pg_ctl`` on the PATH.

    Raises
    ------
    ClusterError
        If no PostgreSQL server is installed.
    """
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major, reverse=True)
    with_postgis = [c for c in candidates if (_share_dir(c) / "extension" / "postgis.control").exists()]
    if with_postgis or candidates:
        return (with_postgis or candidates)[0]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).resolve().parent
    raise ClusterError(f"PostgreSQL is not installed; install it: {APT_HINT}")


def _major(bin_dir: Path) -> int:
    try:
        return int(bin_dir.parent.name)
    except ValueError:
        return 0


def _share_dir(bin_dir: Path) -> Path:
    # Debian: /usr/lib/postgresql/15/bin -> /usr/share/postgresql/15
    debian = Path("/usr/share/postgresql") / bin_dir.parent.name
    return debian if debian.exists() else bin_dir.parent / "share" / "postgresql"


def _service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise ClusterError(
            f"PostgreSQL will not run as root and there is no {SERVICE_USER!r} user to run it; "
            f"install the server, which creates that user: {APT_HINT}"
        ) from None


def _is_postgres(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    try:
        name = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return True
    return name.startswith(("postgres", "postmaster"))
