"""The monthly exam paper (一张卷子): township rates, rankings and governance classes.

Pure functions over monthly counts; :mod:`geo.act.governance_db` reads the counts from the daily
tallies in PostGIS and stores what :func:`classify` returns.

For every township and month (the city's time, by the month the complaint was received):

- **volume**, the complaints located in it;
- **response rate**: responded within ``response_hours`` of dispatch / dispatched;
- **resolution rate**: resolved / complaints with a known outcome;
- **satisfaction rate**: satisfied or basically satisfied / callbacks;
- a rate whose denominator is below ``min_sample`` is "too few" (NaN) and the township gets no
  **composite** (the weighted mean of the three rates, 0-100) and no composite rank.

Classes (thresholds in the governance rules, ``geo/data/governance.toml`` or the city's own;
ranks are competition ranks, so ties share the better rank and a tie at the edge of a list puts
both in it):

- **governance-class** (治理类): in the top ``top`` by volume ``times`` times within
  ``window_months`` calendar months; it **exits** after ``calm_months`` classified months in a
  row outside the top and is then **watched** for ``watch_months`` classified months; a watched
  township back in the top is a **rebound**. After an exit, only months after it count toward
  entering again.
- **early warning** (预警): in this month's top by volume, not governance-class.
- **bottom ten** (末位约谈): the ``bottom`` lowest composites.
- **advanced** (先进类): the best ``advanced_share`` of composites; **improving** (进步类): not
  advanced, up by ``improving_shift`` of the ranking and by ``improving_points`` of
  composite since the previous month; **rectification**
  (整改类): the worst ``rectification_share`` and not improving.

A month without any complaint in the whole city (a gap in the data) is not classified: it
neither counts toward governance nor as a calm month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import ValidationError
from geo.i18n import N_, _
from geo.rules import positive, read_rules, rules_path, section, share, whole
from geo.settings import DATA_DIR

RULES_FILE = DATA_DIR / "governance.toml"
"""The shipped rules; the ones in use are read from ``WHISTLE_RULES_DIR`` (this folder by default)."""
COUNTS = ("volume", "dispatched", "on_time", "outcomes", "resolved", "callbacks", "satisfied")
"""The monthly counts per township that :func:`classify` needs."""
RATES = {"response_rate": ("on_time", "dispatched"), "resolution_rate": ("resolved", "outcomes"),
         "satisfaction_rate": ("satisfied", "callbacks")}
LATE_RATES = ("resolution_rate", "satisfaction_rate")
"""The rates whose data comes in days after the complaint (outcomes, callbacks): provisional lately."""
PERFORMANCE = ("advanced", "improving", "rectification")
LABELS = ("governance", "early_warning", "rectification", "improving", "advanced", "watch", "none")
"""A township's one label for the map, the first that applies."""
STATE_COLUMNS = ["governance", "calm", "watch_left", "last_exit"]


@dataclass(frozen=True)
class GovernanceRules:
    """The thresholds of the monthly ranking; :meth:`load` reads ``geo/data/governance.toml``."""

    response_hours: float
    min_sample: int
    weights: dict[str, float]
    top: int
    bottom: int
    times: int
    window_months: int
    calm_months: int
    watch_months: int
    advanced_share: float
    improving_shift: float
    improving_points: float
    rectification_share: float
    provisional_days: int = 7
    """The last days of data whose outcomes and callbacks are still coming in."""

    def provisional_from(self, last_day: date) -> date:
        """The first day whose resolution and satisfaction rates are provisional, given the
        newest day with complaints."""
        return last_day - timedelta(days=self.provisional_days - 1)

    @classmethod
    def load(cls, path: Path | str | None = None) -> GovernanceRules:
        """Read and check the rules file.

        Raises
        ------
        ValidationError
            Naming the file, the key and the value that cannot be used.
        """
        path = Path(path) if path else rules_path("governance.toml")
        raw = read_rules(path, "governance rules")

        def get(name: str, key: str, check) -> float:
            return check(section(raw, name, path), key, f"{path} [{name}]")

        weights = {rate: get("weights", rate.removesuffix("_rate"), positive) for rate in RATES}
        total = sum(weights.values())
        rules = cls(
            response_hours=get("rates", "response_hours", positive), min_sample=get("rates", "min_sample", whole),
            weights={rate: w / total for rate, w in weights.items()},
            top=get("ranking", "top", whole), bottom=get("ranking", "bottom", whole),
            times=get("governance", "times", whole), window_months=get("governance", "window_months", whole),
            calm_months=get("governance", "calm_months", whole),
            watch_months=get("governance", "watch_months", whole),
            advanced_share=get("performance", "advanced_share", share),
            improving_shift=get("performance", "improving_shift", share),
            improving_points=get("performance", "improving_points", positive),
            rectification_share=get("performance", "rectification_share", share),
            provisional_days=get("rates", "provisional_days", whole))
        if rules.times > rules.window_months:
            raise ValidationError(f"{path} [governance]: times ({rules.times}) cannot exceed window_months "
                                  f"({rules.window_months}); no township could ever enter")
        return rules


def rates(counts: pd.DataFrame, rules: GovernanceRules) -> pd.DataFrame:
    """The three rates (0-1) and the composite (0-100) of monthly counts.

    Parameters
    ----------
    counts : pandas.DataFrame
        One row per township (and month), with the columns of :data:`COUNTS`.
    rules : GovernanceRules

    Returns
    -------
    pandas.DataFrame
        ``response_rate``, ``resolution_rate``, ``satisfaction_rate`` (NaN when the denominator
        is below ``min_sample``: "too few") and ``composite`` (NaN unless all three are known),
        on the index of ``counts``.
    """
    _check_counts(counts)
    out = pd.DataFrame(index=counts.index)
    for name, (numerator, denominator) in RATES.items():
        base = counts[denominator].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.where(base >= rules.min_sample, counts[numerator].to_numpy(dtype=float) / base, np.nan)
    weighted = sum(out[name] * weight for name, weight in rules.weights.items())
    out["composite"] = (100 * weighted).where(out[list(RATES)].notna().all(axis=1))
    return out


NO_RATE_DATA = N_("no rate data")
"""A rate whose denominator is zero: the complaints carry no such data (an export without it)."""
TOO_FEW = N_("too few")
"""A rate whose denominator is below ``min_sample``."""


def rate_text(rate: object, denominator: object) -> str:
    """A rate as a person reads it: ``"72.5 %"``, ``"too few"`` or ``"no rate data"`` (translated).

    Parameters
    ----------
    rate : float or None
        The rate (0-1); None or NaN when it is unknown.
    denominator : int or None
        What it was counted over (dispatched, outcomes, callbacks); None when not known.
    """
    if rate is not None and not pd.isna(rate):
        return f"{100 * float(rate):.1f} %"
    return _(NO_RATE_DATA) if _none_counted(denominator) else _(TOO_FEW)


def _none_counted(denominator: object) -> bool:
    # Zero, not unknown: the complaints carry no such data.
    return denominator is not None and not pd.isna(denominator) and denominator == 0


def composite_text(row: object) -> str:
    """A row's composite (0-100) as a person reads it, or why it has none (``TOO_FEW`` or
    ``NO_RATE_DATA`` when none of the three rates has any data)."""
    value = getattr(row, "composite", None)
    if value is not None and not pd.isna(value):
        return f"{float(value):.1f}"
    bases = [getattr(row, denominator, None) for _numerator, denominator in RATES.values()]
    return _(NO_RATE_DATA) if all(_none_counted(b) for b in bases) else _(TOO_FEW)


def rates_without_data(counts: pd.DataFrame) -> list[str]:
    """The rates (names of :data:`RATES`) that no row of ``counts`` has any data for."""
    return [name for name, (_numerator, denominator) in RATES.items()
            if denominator in counts.columns and pd.to_numeric(counts[denominator]).fillna(0).sum() == 0]


def _check_counts(counts: pd.DataFrame) -> None:
    missing = [c for c in COUNTS if c not in counts.columns]
    if missing:
        raise ValidationError(f"monthly counts lack the columns {missing}")
    values = counts[list(COUNTS)]
    if values.isna().any().any() or (values < 0).any().any():
        bad = values.index[(values.isna() | (values < 0)).any(axis=1)][0]
        raise ValidationError(f"monthly counts of row {bad!r} are missing or negative")
    for numerator, denominator in RATES.values():
        over = counts[numerator] > counts[denominator]
        if over.any():
            raise ValidationError(f"row {counts.index[over][0]!r}: {numerator} exceeds {denominator}")


def classify(counts: pd.DataFrame, rules: GovernanceRules, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rank and classify every township, month by month.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``month`` (any date in the month), ``township_code`` and the columns of :data:`COUNTS`:
        one row per township and month to classify; list every township each month (zeros
        included), or a township missing from a month is not ranked in it.
    rules : GovernanceRules
    previous : pandas.DataFrame, optional
        What an earlier call returned for the months before (at least the last
        ``window_months``), so that a month can be classified on its own; the governance state
        carries over from it.

    Returns
    -------
    pandas.DataFrame
        One row per township and month (sorted), with the counts, :func:`rates`,
        ``volume_rank``, ``top``, ``composite_rank``, ``bottom_rank``, ``position`` (0 best,
        towards 1 worst), ``talk_list``, ``performance``, ``governance``, ``entered``,
        ``exited``, ``watched``, ``rebound``, ``early_warning``, ``top_count``, ``calm``,
        ``watch_left``, ``last_exit`` and ``label``.
    """
    if not {"month", "township_code"} <= set(counts.columns):
        raise ValidationError("monthly counts need the columns month and township_code")
    frame = counts.assign(month=pd.to_datetime(counts["month"]).dt.to_period("M"))
    if frame.duplicated(["month", "township_code"]).any():
        row = frame[frame.duplicated(["month", "township_code"])].iloc[0]
        raise ValidationError(f"township {row.township_code} appears twice in {row.month}")
    history = _history(previous)
    done = []
    for month in sorted(frame.loc[frame["volume"].groupby(frame["month"]).transform("sum") > 0, "month"].unique()):
        step = _step(frame[frame["month"] == month].set_index("township_code").sort_index(), month, history, rules)
        done.append(step)
        history = pd.concat([history, step.reset_index()], ignore_index=True) if len(history) else step.reset_index()
    if not done:
        return _empty()
    out = pd.concat(done).reset_index()
    out["month"] = out["month"].dt.to_timestamp()
    out["last_exit"] = pd.to_datetime([p.to_timestamp() if isinstance(p, pd.Period) else pd.NaT
                                       for p in out["last_exit"]])
    return out.sort_values(["month", "township_code"], kind="stable").reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["month", "township_code", *COUNTS, *RATES, "composite", "label"])


def _history(previous: pd.DataFrame | None) -> pd.DataFrame:
    if previous is None or previous.empty:
        return pd.DataFrame()
    history = previous.copy()
    history["month"] = pd.to_datetime(history["month"]).dt.to_period("M")
    history["last_exit"] = pd.to_datetime(history["last_exit"]).dt.to_period("M")
    return history


def _step(month_counts: pd.DataFrame, month: pd.Period, history: pd.DataFrame,
          rules: GovernanceRules) -> pd.DataFrame:
    out = month_counts.copy()
    out["month"] = month
    out = out.join(rates(month_counts, rules))
    _rank(out, rules)
    before = _before(history, month, out.index)
    _performance(out, before, rules)
    _supervision(out, history, before, month, rules)
    out["early_warning"] = out["top"] & ~out["governance"]
    out["label"] = np.select(
        [out["governance"], out["early_warning"], out["performance"] == "rectification",
         out["performance"] == "improving", out["performance"] == "advanced", out["watched"]],
        LABELS[:-1], default="none")
    return out


def _rank(out: pd.DataFrame, rules: GovernanceRules) -> None:
    out["volume_rank"] = out["volume"].rank(method="min", ascending=False).astype(int)
    out["top"] = (out["volume_rank"] <= rules.top) & (out["volume"] > 0)
    scored = out["composite"].dropna()
    out["composite_rank"] = scored.rank(method="min", ascending=False).astype("Int64")
    out["bottom_rank"] = scored.rank(method="min", ascending=True).astype("Int64")
    out["position"] = (out["composite_rank"].astype(float) - 1) / max(len(scored), 1)
    out["talk_list"] = (out["bottom_rank"] <= rules.bottom).fillna(False).astype(bool)


def _before(history: pd.DataFrame, month: pd.Period, townships: pd.Index) -> pd.DataFrame:
    """Each township's latest classified row before ``month``."""
    if history.empty:
        return pd.DataFrame(index=townships, columns=["month", "position", "composite", *STATE_COLUMNS])
    earlier = history[history["month"] < month].sort_values("month", kind="stable")
    return earlier.groupby("township_code").tail(1).set_index("township_code").reindex(townships)


def _performance(out: pd.DataFrame, before: pd.DataFrame, rules: GovernanceRules) -> None:
    ranked = int(out["composite"].notna().sum())
    last_month = out["month"].iat[0] - 1
    # Only a change from the month just before counts: across a gap it says little.
    just_before = before["month"] == last_month
    shift = before["position"].where(just_before).astype(float) - out["position"]
    gain = out["composite"] - before["composite"].where(just_before).astype(float)
    improving = ((shift >= rules.improving_shift - 1e-12) & (gain >= rules.improving_points - 1e-9)).fillna(False)
    advanced = (out["composite_rank"] <= max(1, math.ceil(rules.advanced_share * ranked))).fillna(False)
    worst = (out["bottom_rank"] <= max(1, math.ceil(rules.rectification_share * ranked))).fillna(False)
    out["rank_shift"] = shift
    out["performance"] = np.select([advanced, improving, worst], PERFORMANCE, default=None)
    out["performance"] = out["performance"].where(out["composite"].notna(), None)


def _supervision(out: pd.DataFrame, history: pd.DataFrame, before: pd.DataFrame, month: pd.Period,
                 rules: GovernanceRules) -> None:
    was_governance = before["governance"].fillna(False).astype(bool)
    calm = before["calm"].fillna(0).astype(int)
    watch_left = before["watch_left"].fillna(0).astype(int)
    last_exit = before["last_exit"]
    top = out["top"]
    out["top_count"] = top.astype(int) + _tops_in_window(history, month, out.index, last_exit, rules)
    enters = ~was_governance & (out["top_count"] >= rules.times)
    calm = np.where(was_governance & ~top, calm + 1, 0)
    exits = was_governance & (calm >= rules.calm_months)
    out["governance"] = (was_governance & ~exits) | enters
    out["entered"], out["exited"] = enters, exits
    watched = ~out["governance"] & ((watch_left > 0) | exits)
    out["watched"] = watched
    out["rebound"] = watched & top & ~exits
    out["watch_left"] = np.where(exits, rules.watch_months, np.where(watched, watch_left - 1, 0)).astype(int)
    out["calm"] = np.where(out["governance"], calm, 0).astype(int)
    out["last_exit"] = last_exit.where(~exits, month)


def _tops_in_window(history: pd.DataFrame, month: pd.Period, townships: pd.Index, last_exit: pd.Series,
                    rules: GovernanceRules) -> np.ndarray:
    if history.empty:
        return np.zeros(len(townships), dtype=int)
    first = month - (rules.window_months - 1)
    window = history[(history["month"] >= first) & (history["month"] < month) & history["top"].astype(bool)]
    exit_of = np.array([_ordinal(p) for p in last_exit.reindex(window["township_code"])], dtype=float)
    after_exit = np.array([p.ordinal for p in window["month"]], dtype=float) > exit_of
    counted = window.loc[after_exit, "township_code"].value_counts()
    return counted.reindex(townships, fill_value=0).to_numpy(dtype=int)


def _ordinal(month: object) -> float:
    # A month as a number; no exit at all is before every month.
    return float(month.ordinal) if isinstance(month, pd.Period) else -np.inf


def class_rules_text(rules: GovernanceRules) -> str:
    """The classes in words, from the rules in use (a report never states a rule it does not apply)."""
    return _("governance-class townships (top {top} by volume {times} times in {months} months), early warning "
             "(top {top} this month), watched after leaving the list (a rebound is marked), and the talk list "
             "(末位约谈: bottom {bottom} by composite).").format(top=rules.top, times=rules.times,
                                                                 months=rules.window_months, bottom=rules.bottom)
