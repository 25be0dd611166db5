"""Typed settings, read from the environment, each with a documented default.

Read them with :func:`load_settings`; it reads the environment at every call so that a
test (or a long-lived process told to change) sees the current values (the settings are made
again only when a variable, or the city's profile, changed since).

=========================== ======================================= =====================
variable                    meaning                                 default
=========================== ======================================= =====================
``DATABASE_URL``            SQLAlchemy URL of a PostGIS database;   unset: the embedded
                            when set, no local cluster is started   cluster under
                                                                    ``var/pg``
``WHISTLE_HOME``            the project folder                      this checkout
``WHISTLE_PG_DIR``          where the embedded cluster lives        ``$WHISTLE_HOME/var/pg``
``WHISTLE_PG_BIN``          folder holding ``pg_ctl`` and ``initdb`` Debian's newest
                                                                    ``/usr/lib/postgresql``
``WHISTLE_TILES_URL``       an XYZ tile URL (an intranet tile       unset: plain
                            server); ``{z}/{x}/{y}`` placeholders   background
``WHISTLE_TILES_ATTRIBUTION`` attribution shown with those tiles    ``""``
``WHISTLE_DISPLAY_TOLERANCE_M`` simplification of outlines drawn    ``40`` metres
                            on maps (shared edges kept shared)
``WHISTLE_OVERLAP_TOLERANCE_M2`` overlap between two polygons of a  ``1000`` m²
                            boundary import above which it is
                            refused
``WHISTLE_GAP_TOLERANCE_M2`` uncovered area inside a parent above   ``10000`` m²
                            which a boundary import reports a gap
``WHISTLE_CITY``            the city served: a code under           ``beijing``
                            ``cities/`` or a ``city.toml`` (its
                            names, zone, CRS, bounds; ``geo/city.py``)
``WHISTLE_LANGUAGE``        what the command line and the app speak  the city's (``zh_CN``
                            unless a user chooses (``zh_CN``, ``en``) for Beijing)
``WHISTLE_CHROMIUM``        the Chromium that prints reports to  Debian's ``chromium``
                            PDF
``WHISTLE_METRIC_CRS``      the projected CRS for metres            the city's
                                                                    ``metric_crs``
``WHISTLE_CLOCK``             the app's clock: ``system`` (the wall   ``system``
                            clock) or ``data`` (replay: starts at
                            the newest stored complaint when the
                            app starts and runs on from there)
``WHISTLE_RULES_DIR``       a folder of rules files and tables      none: the city's
                            read before the city's own and the      folder, then
                            national defaults (``detect.toml``,     ``geo/data``
                            ``whistle.toml``, ``governance.toml``,
                            ``projects.toml``, ``categories.csv``…)
``WHISTLE_PHONE_KEY``       the key of the callers' phone hashes    a random key kept in
                            (see ``geo/ingest/privacy.py``)         ``var/phone.key``
``WHISTLE_EARLIEST_YEAR``   complaints received before this year    ``1990``
                            are rejected as implausible
``WHISTLE_UPLOAD_MAX_MB``   the largest file the app's upload form  ``200``
                            takes
``WHISTLE_UPLOAD_EXPANDED_MB`` what an uploaded Parquet file may     ``1024``
                            expand to when read
``WHISTLE_UPLOAD_MAX_ROWS`` rows in one uploaded file               ``2000000``
``WHISTLE_UPLOAD_FIELD_KB`` the longest field of an uploaded file   ``1024``
``WHISTLE_UPLOAD_MEMORY_MB`` the memory (address space) of the      ``6144``
                            process that ingests an upload
=========================== ======================================= =====================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from geo.city import City, city_file, load_city
from geo.errors import ValidationError
from geo.ingest.limits import MB, UploadLimits

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The shipped data and rules files (categories, departments, the rules of each stage).
DATA_DIR = PROJECT_ROOT / "geo" / "data"
# Before it no hotline took complaints: an earlier date is a typo or a placeholder (0001-01-01).
DEFAULT_EARLIEST_YEAR = 1990


@dataclass(frozen=True)
class Settings:
    """The platform's settings; see the module docstring for each one."""

    database_url: str | None
    home: Path
    pg_dir: Path
    pg_bin: Path | None
    tiles_url: str | None
    tiles_attribution: str
    display_tolerance_m: float
    overlap_tolerance_m2: float
    gap_tolerance_m2: float
    metric_crs: str
    city_file: Path = field(default_factory=city_file)
    clock: str = "system"
    rules_dir: Path | None = None
    """``WHISTLE_RULES_DIR``: rules and tables read before the city's own (see :meth:`data_file`)."""
    earliest_year: int = DEFAULT_EARLIEST_YEAR
    upload_limits: UploadLimits = field(default_factory=UploadLimits)
    chosen_language: str | None = None
    """``WHISTLE_LANGUAGE``: the language the command line and the app speak instead of the city's."""
    chromium_name: str | None = None
    """``WHISTLE_CHROMIUM``: the Chromium that prints reports to PDF (Debian's by default)."""

    @property
    def chromium(self) -> str | None:
        """The Chromium that prints reports to PDF, if one is installed."""
        from geo.show.pdf import chromium_path

        return chromium_path(self.chromium_name)

    @property
    def language(self) -> str:
        """The language spoken unless a user chooses another: ``WHISTLE_LANGUAGE``, else the city's."""
        return self.chosen_language or self.city.language

    @property
    def city(self) -> City:
        """The city served (its profile, read once per version of the file)."""
        return load_city(self.city_file)

    def data_file(self, name: str) -> Path:
        """Where the rules file or table ``name`` is read from: ``WHISTLE_RULES_DIR`` when it holds
        one, else the city's folder (beside its ``city.toml``) when it does, else the national
        default under ``geo/data``. A city keeps only the files it changes."""
        for folder in (self.rules_dir, self.city_file.parent):
            if folder is not None and (folder / name).is_file():
                return folder / name
        return DATA_DIR / name

    @property
    def timezone(self) -> str:
        """The city's zone: days are cut in it, times without a zone are read in it."""
        return self.city.timezone

    @property
    def uses_local_cluster(self) -> bool:
        """True when no ``DATABASE_URL`` is set and the embedded cluster is used."""
        return self.database_url is None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(f"{name} was {raw!r} but must be a number") from None
    if value < 0:
        raise ValidationError(f"{name} was {raw!r} but must not be negative")
    return value


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the settings from the environment.

    Parameters
    ----------
    env : dict, optional
        The variables to read; ``os.environ`` when omitted.

    Returns
    -------
    Settings
        The settings, with defaults filled in.

    Raises
    ------
    ValidationError
        If a variable holds a value of the wrong kind.
    """
    if env is not None:
        return _read(dict(env))
    # A request calls this a dozen times: the settings are made once per state of the variables
    # (read at every call) and per version of the city's profile.
    # (The names first, then the few values: ``os.environ.items()`` decodes every value.)
    names = sorted(k for k in os.environ if k == "DATABASE_URL" or k.startswith("WHISTLE_"))
    variables = tuple((k, v) for k in names if (v := os.environ.get(k)) is not None)
    settings = _from_variables(variables)
    if "WHISTLE_METRIC_CRS" not in dict(variables) and settings.metric_crs != settings.city.metric_crs:
        _from_variables.cache_clear()  # the city's profile changed on disk since
        settings = _from_variables(variables)
    return settings


@lru_cache(maxsize=8)
def _from_variables(variables: tuple[tuple[str, str], ...]) -> Settings:
    return _read(dict(variables))


def _read(env: dict[str, str]) -> Settings:
    home = Path(env.get("WHISTLE_HOME") or PROJECT_ROOT).resolve()
    pg_bin = env.get("WHISTLE_PG_BIN")
    chosen = city_file(env.get("WHISTLE_CITY"))
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        home=home,
        pg_dir=Path(env.get("WHISTLE_PG_DIR") or home / "var" / "pg").resolve(),
        pg_bin=Path(pg_bin) if pg_bin else None,
        tiles_url=env.get("WHISTLE_TILES_URL") or None,
        tiles_attribution=env.get("WHISTLE_TILES_ATTRIBUTION", ""),
        display_tolerance_m=_float(env, "WHISTLE_DISPLAY_TOLERANCE_M", 40.0),
        overlap_tolerance_m2=_float(env, "WHISTLE_OVERLAP_TOLERANCE_M2", 1000.0),
        gap_tolerance_m2=_float(env, "WHISTLE_GAP_TOLERANCE_M2", 10000.0),
        metric_crs=env.get("WHISTLE_METRIC_CRS") or load_city(chosen).metric_crs,
        city_file=chosen,
        clock=_choice(env, "WHISTLE_CLOCK", ("system", "data"), "system"),
        rules_dir=Path(env["WHISTLE_RULES_DIR"]).resolve() if env.get("WHISTLE_RULES_DIR") else None,
        earliest_year=int(_float(env, "WHISTLE_EARLIEST_YEAR", DEFAULT_EARLIEST_YEAR)),
        upload_limits=_upload_limits(env),
        chosen_language=_language(env.get("WHISTLE_LANGUAGE")),
        chromium_name=env.get("WHISTLE_CHROMIUM") or None,
    )


def _language(raw: str | None) -> str | None:
    from geo.i18n import check_language

    if not raw:
        return None
    try:
        return check_language(raw)
    except ValidationError as exc:
        raise ValidationError(f"WHISTLE_LANGUAGE: {exc}") from None


def _upload_limits(env: dict[str, str]) -> UploadLimits:
    base = UploadLimits()
    return UploadLimits(
        max_bytes=int(_float(env, "WHISTLE_UPLOAD_MAX_MB", base.max_bytes / MB) * MB),
        max_expanded_bytes=int(_float(env, "WHISTLE_UPLOAD_EXPANDED_MB", base.max_expanded_bytes / MB) * MB),
        max_rows=int(_float(env, "WHISTLE_UPLOAD_MAX_ROWS", base.max_rows)),
        max_field_bytes=int(_float(env, "WHISTLE_UPLOAD_FIELD_KB", base.max_field_bytes / 1024) * 1024),
        max_memory_bytes=int(_float(env, "WHISTLE_UPLOAD_MEMORY_MB", base.max_memory_bytes / MB) * MB),
        timeout_s=base.timeout_s)


def _choice(env: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name) or default
    if raw not in allowed:
        raise ValidationError(f"{name} was {raw!r} but must be one of {', '.join(allowed)}")
    return raw
