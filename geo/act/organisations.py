"""Organisations apart from areas: who acts (a street office, a district office, a department, the
city), apart from where (jurisdiction codes of a boundary set).

Users, whistle addressees and projects point at organisations. When a new boundary set re-codes,
splits or merges units, :func:`carry_over` decides which organisation answers for each new unit,
and says what changed, so that nobody is stranded and the change is reported
(:mod:`geo.act.organisations_db` applies it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geo.errors import ValidationError
from geo.rules import read_rules, rules_path, section, share
from geo.settings import DATA_DIR

RULES_FILE = DATA_DIR / "organisations.toml"
"""The shipped rules; the ones in use are read from ``WHISTLE_RULES_DIR`` (this folder by default)."""
KINDS = ("street_office", "district_office", "department", "city")
OFFICE = {"township": ("street_office", "so-"), "district": ("district_office", "do-")}
"""Per level: the kind of organisation that answers for a unit, and the prefix of its code."""
DEPARTMENT_PREFIX = "dept-"
CITY = "city"
CHANGES = ("kept", "recoded", "split", "merged", "lost", "new")


@dataclass(frozen=True)
class SuccessionRules:
    """When a unit of a new set continues one of the old set; :meth:`load` reads ``organisations.toml``."""

    min_share: float

    @classmethod
    def load(cls, path: Path | str | None = None) -> SuccessionRules:
        """Read and check the rules file.

        Raises
        ------
        ValidationError
            Naming the file, the key and the value that cannot be used.
        """
        path = Path(path) if path else rules_path("organisations.toml")
        raw = read_rules(path, "organisation rules")
        return cls(min_share=share(section(raw, "succession", path), "min_share", f"{path} [succession]"))


@dataclass(frozen=True)
class AreaChange:
    """What a new boundary set changed for one organisation."""

    organisation: str
    """The organisation's code (``so-110102020``)."""
    change: str
    """One of :data:`CHANGES`."""
    before: tuple[str, ...]
    after: tuple[str, ...]

    def describe(self) -> str:
        """One line for the import report."""
        before, after = ", ".join(self.before) or "nothing", ", ".join(self.after) or "nothing"
        words = {"kept": f"keeps {after}", "recoded": f"{before} re-coded as {after}",
                 "split": f"{before} split into {after}", "merged": f"{before} merged into {after}",
                 "lost": f"{before} continued by no unit of the new set: it answers for nothing now",
                 "new": f"new, for {after}"}
        return f"{self.organisation}: {words[self.change]}"


def office_code(level: str, area_code: str) -> str:
    """The code of the organisation created for a unit of ``level`` (``so-`` + a township code)."""
    if level not in OFFICE:
        raise ValidationError(f"level {level!r} has no offices; use one of {', '.join(OFFICE)}")
    return OFFICE[level][1] + area_code


def carry_over(covered: Mapping[str, Iterable[str]], overlaps: pd.DataFrame, new_codes: Iterable[str], *,
               level: str, min_share: float) -> tuple[dict[str, list[str]], list[AreaChange]]:
    """Which organisation answers for each unit of a new boundary set, and what changed.

    Parameters
    ----------
    covered : mapping
        Organisation code to the codes it answers for in the old set.
    overlaps : pandas.DataFrame
        ``old, new, share``: the share of the new unit's area that lies in the old unit (pairs
        that do not overlap may be left out).
    new_codes : iterable of str
        Every unit of the new set.
    level : str
        The level of the sets (names the organisations created for new units).
    min_share : float
        The share of a new unit an old unit must hold to be continued by it.

    Returns
    -------
    areas : dict
        Organisation code to its codes in the new set (new organisations included).
    changes : list of AreaChange
        One per organisation whose areas changed or that is new, sorted by organisation.
    """
    if not 0 < min_share <= 1:
        raise ValidationError(f"min_share was {min_share}; it must lie in (0, 1]")
    new_codes = sorted(set(new_codes))
    owner_of_old = {code: org for org, codes in covered.items() for code in codes}
    # Each new unit continues at most one old unit: the same code, else the one holding most of it.
    best = (overlaps[overlaps["share"] >= min_share].sort_values(["new", "share", "old"], ascending=[True, False, True])
            .drop_duplicates("new").set_index("new")["old"])
    successor_of: dict[str, str] = {}
    for code in new_codes:
        if code in owner_of_old:
            successor_of[code] = code
        elif code in best.index and best[code] in owner_of_old:
            successor_of[code] = best[code]
    areas: dict[str, list[str]] = {org: [] for org in covered}
    for new, old in successor_of.items():
        areas[owner_of_old[old]].append(new)
    changes = []
    for org in sorted(covered):
        before, after = tuple(sorted(covered[org])), tuple(sorted(areas[org]))
        changes.append(AreaChange(org, _change(before, after, successor_of), before, after))
    for code in new_codes:
        if code not in successor_of:
            org = office_code(level, code)
            if org in areas:  # the code was used before by an organisation that lost it
                org = f"{org}-{len(areas)}"
            areas[org] = [code]
            changes.append(AreaChange(org, "new", (), (code,)))
    return areas, [c for c in changes if c.change != "kept"] + [c for c in changes if c.change == "kept"]


def _change(before: tuple[str, ...], after: tuple[str, ...], successor_of: Mapping[str, str]) -> str:
    if not after:
        return "lost"
    if before == after:
        return "kept"
    sources = {successor_of[code] for code in after}
    if len(after) > len(sources):
        return "split"
    if len(after) < len(before):
        return "merged"
    return "recoded"
