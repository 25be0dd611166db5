"""Remediation projects (每月一题 and proactive projects): what a project is, and its effect.

Pure functions; :mod:`geo.act.projects_db` keeps projects, tasks and events in PostGIS and
reads the counts that :func:`effect` measures.

- A project targets **one kind of area**: townships, H3 cells, or a drawn polygon (turned into
  the cells of the base resolution whose centres it covers), and a set of categories.
- Its **effect** is the complaint volume of those categories in that area **every half month**
  (the 1st and the 16th): against the baseline (the ``baseline_halves`` half-months before
  the start), against the same half-months a year earlier (where the city has data then), and
  as a **difference-in-differences** against untreated neighbours (the townships around, or a
  ring of cells around), on the log scale so that a percent change reads the same in a
  big and a small area. Its confidence interval comes from the spread of the half-monthly
  log ratios before and after (Welch), which keeps the overdispersion that Poisson would hide.
- A **verdict**: *too early* (fewer than ``min_after_halves`` half-months since the start),
  *on target* (the interval excludes zero and the estimate reaches the target reduction),
  *improving* (excludes zero, short of the target), *no measurable effect*, or *worse*.
  Tracking continues after the end: every half-month with data is measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import shapely

from geo.errors import ValidationError
from geo.locate.cells import DEFAULT_RESOLUTION
from geo.rules import read_rules, rules_path, section, share, whole
from geo.settings import DATA_DIR, load_settings

RULES_FILE = DATA_DIR / "projects.toml"
"""The shipped rules; the ones in use are read from ``WHISTLE_RULES_DIR`` (this folder by default)."""
KINDS = ("problem_of_month", "governance_plan", "proactive")
VERDICTS = ("too early", "on target", "improving", "no measurable effect", "worse")
"""The bounds (lon, lat) a target polygon must fall in."""
TITLE_LIMIT = 200
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class EffectRules:
    """How effects are measured; :meth:`load` reads ``geo/data/projects.toml``."""

    baseline_halves: int
    min_after_halves: int
    confidence: float
    control_ring: int

    @classmethod
    def load(cls, path: Path | str | None = None) -> EffectRules:
        """Read and check the rules file (raises ValidationError naming the key)."""
        path = Path(path) if path else rules_path("projects.toml")
        table, where = section(read_rules(path, "project rules"), "effect", path), f"{path} [effect]"
        rules = cls(baseline_halves=whole(table, "baseline_halves", where),
                    min_after_halves=whole(table, "min_after_halves", where),
                    confidence=share(table, "confidence", where),
                    control_ring=whole(table, "control_ring", where))
        if rules.baseline_halves < 2 or rules.min_after_halves < 2:
            raise ValidationError(f"{where}: baseline_halves and min_after_halves must be at least 2 "
                                  "(an interval needs a spread on each side)")
        return rules


@dataclass
class ProjectSpec:
    """What a person fills in to open a project."""

    kind: str
    title: str
    lead_department: str
    categories: list[str]
    starts_on: date
    ends_on: date
    townships: list[str] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    area: shapely.Geometry | None = None
    partners: list[str] = field(default_factory=list)
    targets: dict[str, float] = field(default_factory=dict)
    tasks: list[dict] = field(default_factory=list)


def check_spec(spec: ProjectSpec, *, townships: Iterable[str], categories: Iterable[str],
               departments: Iterable[str]) -> ProjectSpec:
    """Validate a project and return it normalised (cells at the base resolution, sorted).

    Parameters
    ----------
    spec : ProjectSpec
    townships, categories, departments : iterable of str
        The codes that exist.

    Raises
    ------
    ValidationError
        Naming the field and the value, for the first problem found.
    """
    if spec.kind not in KINDS:
        raise ValidationError(f"kind {spec.kind!r} is not one of {', '.join(KINDS)}")
    title = clean_text(spec.title, "title", TITLE_LIMIT)
    known_departments = set(departments)
    for who in [spec.lead_department, *spec.partners]:
        if who not in known_departments:
            raise ValidationError(f"department {who!r} is unknown; see "
                                  f"{load_settings().data_file('departments.csv')}")
    wanted = _known(spec.categories, set(categories), "category")
    if not wanted:
        raise ValidationError("a project needs at least one target category")
    if not isinstance(spec.starts_on, date) or not isinstance(spec.ends_on, date) or spec.ends_on <= spec.starts_on:
        raise ValidationError(f"the project must end after it starts (starts {spec.starts_on}, ends {spec.ends_on})")
    given = [name for name, value in (("townships", spec.townships), ("cells", spec.cells), ("area", spec.area))
             if value is not None and (not hasattr(value, "__len__") or len(value))]
    if len(given) != 1:
        raise ValidationError("give one target area: townships, H3 cells or a polygon "
                              f"({'none' if not given else ' and '.join(given)} given)")
    towns = _known(spec.townships, set(townships), "township")
    cells = area_cells(spec.area) if spec.area is not None else base_cells(spec.cells)
    return ProjectSpec(kind=spec.kind, title=title, lead_department=spec.lead_department, categories=wanted,
                       starts_on=spec.starts_on, ends_on=spec.ends_on, townships=towns, cells=cells,
                       area=spec.area, partners=sorted(set(spec.partners)), targets=check_targets(spec.targets),
                       tasks=[check_task(t) for t in spec.tasks])


def clean_text(value: object, name: str, limit: int) -> str:
    """Free text a person typed: stripped, not empty, no control characters, within ``limit``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"the {name} is empty")
    text = value.strip()
    if _CONTROL_CHARS.search(text):
        raise ValidationError(f"the {name} holds control characters")
    if len(text) > limit:
        raise ValidationError(f"the {name} has {len(text)} characters; at most {limit}")
    return text


def _known(values: Iterable[str], known: set[str], what: str) -> list[str]:
    values = sorted(set(values))
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValidationError(f"{what} {unknown[0]!r} is unknown")
    return values


def check_targets(targets: Mapping[str, object]) -> dict[str, float]:
    """Quantified targets; today one: ``reduction_pct`` (0-100], the fall in volume aimed at."""
    out = {}
    for key, value in targets.items():
        if key != "reduction_pct":
            raise ValidationError(f"unknown target {key!r}; use reduction_pct")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            raise ValidationError(f"reduction_pct was {value!r}; it must be a percentage above 0, at most 100")
        out[key] = float(value)
    return out


def check_task(task: Mapping[str, object]) -> dict:
    """A task: ``title``, ``owner`` and ``due_on`` (a date)."""
    due = task.get("due_on")
    if isinstance(due, str):
        try:
            due = date.fromisoformat(due)
        except ValueError:
            raise ValidationError(f"task due date {due!r} is not a date (2026-12-31)") from None
    if not isinstance(due, date):
        raise ValidationError(f"task {task.get('title')!r} has no due date")
    return {"title": clean_text(task.get("title"), "task title", TITLE_LIMIT),
            "owner": clean_text(task.get("owner"), "task owner", 100), "due_on": due}


def base_cells(cells: Iterable[int | str]) -> list[int]:
    """H3 cells (ints or hex strings, resolution 0 to the base) as base-resolution cells."""
    out: set[int] = set()
    for cell in cells:
        text = cell if isinstance(cell, str) else h3.int_to_str(int(cell)) if int(cell) > 0 else ""
        if not text or not h3.is_valid_cell(text):
            raise ValidationError(f"{cell!r} is not an H3 cell")
        resolution = h3.get_resolution(text)
        if resolution > DEFAULT_RESOLUTION:
            raise ValidationError(f"cell {text} is at resolution {resolution}; use {DEFAULT_RESOLUTION} or coarser")
        out.update(h3.str_to_int(c) for c in h3.cell_to_children(text, DEFAULT_RESOLUTION))
    return sorted(out)


def area_cells(area: shapely.Geometry) -> list[int]:
    """The base-resolution cells whose centres a WGS84 polygon covers."""
    if not isinstance(area, shapely.Polygon | shapely.MultiPolygon) or area.is_empty:
        raise ValidationError("the target area must be a polygon")
    if not area.is_valid:
        raise ValidationError(f"the target polygon is not valid: {shapely.is_valid_reason(area)}")
    lon_min, lat_min, lon_max, lat_max = area.bounds
    city = load_settings().city
    if not (city.contains(lon_min, lat_min) and city.contains(lon_max, lat_max)):
        swapped = city.contains(lat_min, lon_min) and city.contains(lat_max, lon_max)
        hint = " (latitude and longitude look swapped)" if swapped else " (is it in WGS84 degrees?)"
        raise ValidationError(f"the target polygon {tuple(round(b, 4) for b in area.bounds)} is outside "
                              f"{city.name_en}{hint}")
    cells = h3.geo_to_cells(area.__geo_interface__, DEFAULT_RESOLUTION)
    if not cells:
        # A polygon smaller than a cell still targets the cell it lies in.
        point = area.representative_point()
        cells = [h3.latlng_to_cell(point.y, point.x, DEFAULT_RESOLUTION)]
    return sorted(h3.str_to_int(c) for c in cells)


def ring_cells(cells: Iterable[int], width: int, exclude: Iterable[int] = ()) -> list[int]:
    """The cells within ``width`` steps of an area, outside it: the untreated neighbours."""
    area = {h3.int_to_str(c) for c in cells}
    around: set[str] = set()
    for cell in area:
        around.update(h3.grid_disk(cell, width))
    skip = area | {h3.int_to_str(c) for c in exclude}
    return sorted(h3.str_to_int(c) for c in around - skip)


def half_month(days: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The half-month (its first day, the 1st or the 16th) of each day."""
    days = pd.DatetimeIndex(pd.to_datetime(days))
    return pd.DatetimeIndex(days.to_period("M").to_timestamp() + pd.to_timedelta(np.where(days.day >= 16, 15, 0),
                                                                                     unit="D"))


def half_months(first: date, last: date) -> pd.DatetimeIndex:
    """Every half-month from the one holding ``first`` to the one holding ``last``."""
    starts = half_month(pd.DatetimeIndex([first, last]))
    months = pd.date_range(starts[0].replace(day=1), starts[1], freq="MS")
    both = months.append(months + pd.Timedelta(days=15)).sort_values()
    return both[(both >= starts[0]) & (both <= starts[1])]


def next_half_month(start: pd.Timestamp) -> pd.Timestamp:
    """The half-month after the one starting on ``start`` (the 1st or the 16th)."""
    return start + pd.Timedelta(days=15) if start.day == 1 else start + pd.offsets.MonthBegin(1)


def progress(done: int, total: int) -> float | None:
    """The share of tasks done, or None for a project without tasks."""
    return None if total == 0 else done / total


@dataclass
class Effect:
    """A project's effect: one row per half-month and a summary."""

    table: pd.DataFrame
    baseline: float | None
    change_pct: float | None
    year_earlier_pct: float | None
    did_pct: float | None
    did_low: float | None
    did_high: float | None
    verdict: str
    on_target: bool | None
    halves_after: int


def effect(treated: pd.Series, control: pd.Series | None, starts_on: date, ends_on: date, *,
           covered: Iterable[pd.Timestamp] | None = None, target_pct: float | None = None,
           rules: EffectRules) -> Effect:
    """Measure a project's effect from half-monthly counts.

    Parameters
    ----------
    treated, control : pandas.Series
        Complaints of the project's categories per half-month (indexed by its first day) in the
        target area and in the untreated neighbours; a half-month of data without complaints
        must be listed with 0. ``control`` may be None (no neighbours): then the estimate is a
        plain before/after change.
    starts_on, ends_on : datetime.date
    covered : iterable of Timestamp, optional
        The half-months for which the city has data; a year-earlier comparison is made only if
        every half-month a year before the measured ones is covered. Defaults to the index of
        ``treated``.
    target_pct : float, optional
        The reduction aimed at, in percent (30 for "-30 %").
    rules : EffectRules

    Returns
    -------
    Effect
    """
    treated = treated.sort_index().astype(float)
    control = None if control is None else control.reindex(treated.index, fill_value=0).astype(float)
    covered = pd.DatetimeIndex(list(covered) if covered is not None else treated.index)
    holding_start = half_month(pd.DatetimeIndex([starts_on]))[0]
    # A start in the middle of a half-month makes that half a transition, in neither phase.
    first_after = holding_start if holding_start.date() == starts_on else next_half_month(holding_start)
    before = treated.index[treated.index < holding_start][-rules.baseline_halves:]
    after = treated.index[treated.index >= first_after]
    table = _table(treated, control, before, after, first_after, ends_on, covered)
    baseline = float(treated[before].mean()) if len(before) else None
    change = None if not baseline or not len(after) else 100 * (treated[after].mean() / baseline - 1)
    earlier = after - pd.DateOffset(years=1)
    yoy = None
    if len(after) and earlier.isin(covered).all():
        base = treated.reindex(earlier, fill_value=0).sum()
        yoy = 100 * (treated[after].sum() / base - 1) if base > 0 else None
    did = _did(treated, control, before, after, rules)
    verdict, on_target = _verdict(did, len(after), target_pct, rules)
    return Effect(table=table, baseline=baseline, change_pct=change, year_earlier_pct=yoy,
                  did_pct=did[0], did_low=did[1], did_high=did[2], verdict=verdict, on_target=on_target,
                  halves_after=len(after))


def _table(treated, control, before, after, first_after, ends_on, covered) -> pd.DataFrame:
    end = pd.Timestamp(ends_on)
    phase = np.select([treated.index.isin(before), treated.index < first_after, treated.index < end],
                      ["baseline", "transition", "during"], default="after the end")
    phase = np.where(treated.index < before.min() if len(before) else False, "earlier", phase)
    baseline = treated[before].mean() if len(before) else np.nan
    earlier = treated.index - pd.DateOffset(years=1)
    year_earlier = treated.reindex(earlier).to_numpy()
    year_earlier = np.where(earlier.isin(covered), np.nan_to_num(year_earlier), np.nan)
    return pd.DataFrame({
        "half_month": treated.index, "phase": phase, "treated": treated.to_numpy(),
        "control": np.nan if control is None else control.to_numpy(),
        "change_pct": 100 * (treated.to_numpy() / baseline - 1) if baseline else np.nan,
        "year_earlier": year_earlier,
    })


def _did(treated, control, before, after, rules: EffectRules) -> tuple[float | None, float | None, float | None]:
    if len(before) < 2 or len(after) < 2:
        return None, None, None
    # Half a complaint keeps a quiet half-month's log finite.
    ratio = np.log(treated + 0.5) - (0 if control is None else np.log(control + 0.5))
    a, b = ratio[after].to_numpy(), ratio[before].to_numpy()
    estimate = a.mean() - b.mean()
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return 100 * (math.exp(estimate) - 1), 100 * (math.exp(estimate) - 1), 100 * (math.exp(estimate) - 1)
    df = (va + vb) ** 2 / ((va ** 2 / (a.size - 1) if va else 0) + (vb ** 2 / (b.size - 1) if vb else 0))
    from scipy import stats  # here: scipy.stats takes a second to import, which every command would pay

    t = stats.t.ppf(0.5 + rules.confidence / 2, df)
    return tuple(100 * (math.exp(x) - 1) for x in (estimate, estimate - t * se, estimate + t * se))


def _verdict(did, halves_after: int, target_pct: float | None, rules: EffectRules) -> tuple[str, bool | None]:
    estimate, low, high = did
    if halves_after < rules.min_after_halves or estimate is None:
        return "too early", None
    if high < 0:
        reached = target_pct is None or estimate <= -target_pct
        return ("on target" if reached else "improving"), reached
    if low > 0:
        return "worse", False
    return "no measurable effect", False


