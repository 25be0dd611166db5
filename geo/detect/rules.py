"""The thresholds of detection, read from ``geo/data/detect.toml``: the one place they live.

Every function of the stage and every command-line option defaults to these values; a run
stores the values it used, so that a result can be traced to its thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from geo.errors import ValidationError
from geo.rules import positive, read_rules, rules_path, section, share, whole
from geo.settings import DATA_DIR

RULES_FILE = DATA_DIR / "detect.toml"
"""The shipped rules; the ones in use are read from ``WHISTLE_RULES_DIR`` (this folder by default)."""
STEPS = ("day", "week", "half-month", "month")


class _FromRules:
    """The default of a parameter whose value comes from the detect rules (None means "off" there)."""

    def __repr__(self) -> str:
        return "the detect rules"


FROM_RULES = _FromRules()


@dataclass(frozen=True)
class HotspotRules:
    """Gi* on H3 cells: the resolution, the ring of neighbours, the FDR and the default period."""

    resolution: int
    k: int
    alpha: float
    days: int
    place_within_m: float = 600.0
    """A hot cell with no community of its own is named "near" the nearest one within this."""


@dataclass(frozen=True)
class EmergingRules:
    """Emerging hot spots: the time step, the default period and the rise a new spot needs."""

    step: str
    weeks: int
    min_rise: float | None
    """None: ArcGIS's rules alone (``min_rise = 0`` in the file)."""


@dataclass(frozen=True)
class BorderParams:
    """The thresholds of the border detection.

    Attributes
    ----------
    distance_m : float
        How near a shared line a point complaint is "on" it.
    bucket_m : float
        The stretch of line that makes one "near" place.
    window_days : int
        The window of a cluster.
    eps_m, min_samples, min_ratio, min_side
        The clustering (see :func:`geo.detect.borders.straddling_clusters`).
    min_handoffs : int
        The fewest hand-offs between neighbours that make a ping-pong case.
    key_resolution : int
        The H3 resolution of the cell that keys a cluster case.
    uncertainty : dict
        How far a complaint's location may lie from the problem, in metres, when its channel
        gave no accuracy: by coordinate system for a point (``wgs84``, ``gcj02``, ``bd09``), and
        for an address found as its ``community`` or its ``township``. A point is near a line only
        when its uncertainty reaches the line (and within ``distance_m``).
    """

    distance_m: float
    bucket_m: float
    window_days: int
    eps_m: float
    min_samples: int
    min_ratio: float
    min_side: int
    min_handoffs: int
    key_resolution: int
    uncertainty: dict[str, float]

    def check(self) -> None:
        """Refuse thresholds that cannot work, naming the one at fault."""
        for name in ("distance_m", "bucket_m", "eps_m", "min_ratio"):
            if not getattr(self, name) > 0:
                raise ValidationError(f"{name} was {getattr(self, name)}; it must be positive")
        for name in ("window_days", "min_handoffs", "min_samples", "min_side"):
            if getattr(self, name) < 1:
                raise ValidationError(f"{name} was {getattr(self, name)}; it must be at least 1")
        check_resolution(self.key_resolution, "key_resolution")


@dataclass(frozen=True)
class DetectRules:
    """The rules of the detect stage; :meth:`load` reads ``geo/data/detect.toml``."""

    hotspots: HotspotRules
    emerging: EmergingRules
    borders: BorderParams

    @classmethod
    def load(cls, path: Path | str | None = None) -> DetectRules:
        """Read and check the rules file.

        Raises
        ------
        ValidationError
            Naming the file, the section, the key and the value that cannot be used.
        """
        path = Path(path) if path else rules_path("detect.toml")
        raw = read_rules(path, "detect rules")
        hot, where = section(raw, "hotspots", path), f"{path} [hotspots]"
        hotspots = HotspotRules(resolution=check_resolution(whole(hot, "resolution", where), f"{where} resolution"),
                                k=whole(hot, "k", where), alpha=share(hot, "alpha", where),
                                days=whole(hot, "days", where),
                                place_within_m=positive(hot, "place_within_m", where))
        emerging_table, where = section(raw, "emerging", path), f"{path} [emerging]"
        step = emerging_table.get("step")
        if step not in STEPS:
            raise ValidationError(f"{where}: step was {step!r}; it must be one of {', '.join(STEPS)}")
        min_rise = emerging_table.get("min_rise")
        if min_rise != 0:
            min_rise = positive(emerging_table, "min_rise", where)
            if min_rise < 1:
                raise ValidationError(f"{where}: min_rise was {min_rise!r}; it must be at least 1 (0: off)")
        emerging = EmergingRules(step=step, weeks=whole(emerging_table, "weeks", where),
                                 min_rise=float(min_rise) if min_rise else None)
        table, where = section(raw, "borders", path), f"{path} [borders]"
        borders = BorderParams(
            distance_m=positive(table, "distance_m", where), bucket_m=positive(table, "bucket_m", where),
            window_days=whole(table, "window_days", where), eps_m=positive(table, "eps_m", where),
            min_samples=whole(table, "min_samples", where), min_ratio=positive(table, "min_ratio", where),
            min_side=whole(table, "min_side", where), min_handoffs=whole(table, "min_handoffs", where),
            key_resolution=whole(table, "key_resolution", where),
            uncertainty=_uncertainty(section(raw, "borders.uncertainty", path), f"{path} [borders.uncertainty]"))
        borders.check()
        return cls(hotspots=hotspots, emerging=emerging, borders=borders)


UNCERTAIN = ("wgs84", "gcj02", "bd09", "community", "township")
"""What a complaint's default uncertainty depends on: a point's coordinate system as sent, or the
precision of an address found by the gazetteer."""


def _uncertainty(table: dict, where: str) -> dict[str, float]:
    return {name: positive(table, name, where) for name in UNCERTAIN}


def check_resolution(resolution: int, what: str = "resolution") -> int:
    """An H3 resolution (0 to 15); the stage checks it against the base resolution of its cells."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or not 0 <= resolution <= 15:
        raise ValidationError(f"{what} was {resolution!r}; it must be an H3 resolution from 0 to 15")
    return resolution


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int) -> DetectRules:
    return DetectRules.load(path)


def detect_rules(path: Path | str | None = None) -> DetectRules:
    """The detect rules in use (``WHISTLE_RULES_DIR``), read again whenever the file changes."""
    path = Path(path) if path else rules_path("detect.toml")
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ValidationError(f"cannot read the detect rules {path}: {exc}") from None
    return _cached(str(path), stamp)
