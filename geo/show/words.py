"""The platform's words for what it stores as codes: states, kinds, classes, patterns, columns.

Pure. The database keeps codes (``raised``, ``early_warning``, ``new hot spot``); a person reads
the reform's own words for them, in their language (:func:`word`). Each table maps a code to
its English text, marked for the catalogue; a code missing from its table is shown as it is
(and the translation test, which reads every table, keeps them complete).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from geo.i18n import N_, _, in_language

CALL_STATES = {"proposed": N_("proposed"), "raised": N_("open"), "resolved": N_("resolved"), "closed": N_("closed"),
               "dismissed": N_("dismissed")}
CALL_KINDS = {"emergency": N_("emergency"), "key_work": N_("key work"), "enforcement": N_("joint enforcement"),
              "dispute": N_("responsibility in dispute")}
ADDRESSEE_STATES = {"pending": N_("not yet reported"), "reported": N_("reported (checked in)"),
                    "done": N_("done")}
ADDRESSEE_KINDS = {"township": N_("township"), "department": N_("department"), "district": N_("district"),
                   "city": N_("city")}
LEVELS = {"township": N_("township level"), "district": N_("district level"), "city": N_("city level")}
CALL_ACTIONS = {"raised": N_("raised"), "joined": N_("complaints joined"), "reopened": N_("reopened"),
                "reported": N_("checked in"), "done": N_("reported done"), "resolved": N_("resolved"),
                "closed": N_("closed"), "escalated": N_("escalated"), "proposed": N_("proposed"), "blown": N_("blown"),
                "dismissed": N_("dismissed")}
GI_BINS = {3: N_("hot spot, 99% confidence"), 2: N_("hot spot, 95% confidence"), 1: N_("hot spot, 90% confidence"),
           0: N_("not significant"), -1: N_("cold spot, 90% confidence"), -2: N_("cold spot, 95% confidence"),
           -3: N_("cold spot, 99% confidence")}
PATTERNS = {
    "new hot spot": N_("new hot spot"), "consecutive hot spot": N_("consecutive hot spot"),
    "intensifying hot spot": N_("intensifying hot spot"), "persistent hot spot": N_("persistent hot spot"),
    "diminishing hot spot": N_("diminishing hot spot"), "sporadic hot spot": N_("sporadic hot spot"),
    "oscillating hot spot": N_("oscillating hot spot"), "historical hot spot": N_("historical hot spot"),
    "new cold spot": N_("new cold spot"), "consecutive cold spot": N_("consecutive cold spot"),
    "intensifying cold spot": N_("intensifying cold spot"), "persistent cold spot": N_("persistent cold spot"),
    "diminishing cold spot": N_("diminishing cold spot"), "sporadic cold spot": N_("sporadic cold spot"),
    "oscillating cold spot": N_("oscillating cold spot"), "historical cold spot": N_("historical cold spot"),
    "no pattern": N_("no pattern"),
}
CLASSES = {
    "governance": N_("governance-class township"), "early_warning": N_("early warning"),
    "rectification": N_("rectification class"), "improving": N_("improving class"),
    "advanced": N_("advanced class"), "watch": N_("watched after leaving the list"), "none": N_("no class"),
}
PROJECT_KINDS = {"problem_of_month": N_("problem of the month"), "governance_plan": N_("governance plan"),
                 "proactive": N_("proactive governance")}
PROJECT_STATES = {"planned": N_("planned"), "active": N_("active"), "ended": N_("ended")}
VERDICTS = {"too early": N_("too early to tell"), "on target": N_("on target"), "improving": N_("improving"),
            "no measurable effect": N_("no measurable effect"), "worse": N_("worse")}
PROJECT_ACTIONS = {"created": N_("created"), "task_done": N_("task done"), "task_undone": N_("task reopened"),
                   "ended": N_("ended"), "started": N_("started"), "edited": N_("edited")}
TOWNSHIP_KINDS = {"street": N_("street (subdistrict)"), "township": N_("township (area)"), "town": N_("town"),
                  "other": N_("other")}
STEPS = {"day": N_("day"), "week": N_("week"), "half-month": N_("half-month"), "month": N_("month")}
RATES = {"response_rate": N_("response rate"), "resolution_rate": N_("resolution rate"),
         "satisfaction_rate": N_("satisfaction rate")}
REASONS = {
    "bad_line": N_("unreadable line"), "missing_id": N_("no complaint id"), "bad_field": N_("bad field"),
    "bad_time": N_("unreadable time"), "future_time": N_("time in the future"),
    "implausible_time": N_("implausible time"), "bad_coordinate": N_("bad coordinates"),
    "unknown_crs": N_("unknown coordinate system"), "swapped": N_("longitude and latitude swapped"),
    "outside": N_("outside the city"), "no_location": N_("no location"),
    "placeholder_location": N_("placeholder location"), "duplicate": N_("duplicate"),
    "bad_footprint": N_("bad footprint"),
}
REASON_ALL = N_("every reason")

COLUMNS = {
    # Who and where
    "name": N_("Name"), "code": N_("Code"), "township": N_("Township"), "townships": N_("Townships"),
    "township_code": N_("Township code"), "township_name": N_("Township"), "district": N_("District"),
    "district_code": N_("District code"), "organisation": N_("Organisation"), "kind": N_("Kind"),
    "area_km2": N_("Area (km²)"), "cell": N_("Cell"), "h3": N_("Cell"), "place": N_("Place"),
    "community": N_("Community"), "address": N_("Address"), "addresses": N_("Addresses"),
    # Complaints
    "source_id": N_("Complaint no."), "received_at": N_("Received"), "category": N_("Category"),
    "category_name": N_("Category"), "theme": N_("Theme"), "channel": N_("Channel"), "text": N_("Content"),
    "phone": N_("Phone"), "status": N_("Status"), "dispatched_to": N_("Dispatched to"),
    "responded_at": N_("Responded"), "resolved": N_("Resolved"), "satisfaction": N_("Satisfaction"),
    "complaints": N_("Complaints"), "volume": N_("Complaints"), "count": N_("Complaints"),
    "before": N_("Period before"), "change_pct": N_("Change"), "change": N_("Change"), "cells": N_("Cells"),
    "top_categories": N_("Top categories"),
    # Hot spots
    "z": N_("z-score"), "bin": N_("Confidence"), "pattern": N_("Trend"), "confidence": N_("Confidence"),
    # Governance
    "composite_rank": N_("Rank"), "label": N_("Class"), "volume_rank": N_("Volume rank"),
    "response_rate": N_("Response rate"), "resolution_rate": N_("Resolution rate"),
    "satisfaction_rate": N_("Satisfaction rate"), "composite": N_("Composite score"), "rate": N_("Rate"),
    "value": N_("Value"), "month": N_("Month"), "rank": N_("Rank"),
    # Whistle calls
    "id": N_("No."), "state": N_("State"), "addressees": N_("Addressees"), "pending": N_("Not yet reported"),
    "late": N_("Late"), "deadline": N_("Deadline"), "level": N_("Level"), "countdown": N_("Time left"),
    "reported_at": N_("Checked in"), "done_at": N_("Done"), "escalation": N_("Escalations"),
    "at": N_("Time"), "actor": N_("By"), "action": N_("Action"), "note": N_("Note"),
    "from_state": N_("From"), "to_state": N_("To"), "addressee": N_("Addressee"),
    "urgency": N_("Urgency"), "mine": N_("Your part"), "calls": N_("Calls"), "emergencies": N_("Emergencies"),
    "whistles": N_("Whistles"), "whistle_rate": N_("Whistles per 1,000 complaints"),
    # Projects
    "title": N_("Title"), "starts_on": N_("Starts"), "ends_on": N_("Ends"), "progress": N_("Tasks done"),
    "verdict": N_("Effect"), "did_pct": N_("Effect (difference-in-differences)"), "target": N_("Target"),
    "lead_department": N_("Lead department"),
    # Intake
    "source": N_("Source"), "line": N_("Line"), "reason": N_("Problem"), "reason_code": N_("Reason"),
    "raw": N_("Row as read"), "rows": N_("Rows"), "started_at": N_("Started"), "finished_at": N_("Finished"),
    "inserted": N_("Inserted"), "updated": N_("Updated"), "unchanged": N_("Unchanged"), "rejected": N_("Rejected"),
    "read": N_("Read"), "path": N_("File"), "file": N_("File"),
    # Boundary sets
    "version": N_("Version"), "level_name": N_("Level"), "loaded_at": N_("Loaded"), "features": N_("Features"),
    "current": N_("Current"), "sha256": N_("Checksum"), "valid_from": N_("Valid from"), "valid_to": N_("Valid to"),
    "approximate": N_("Approximate"), "day": N_("Day"), "share": N_("Share"), "days": N_("Days"),
    # Reports
    "measure": N_("Measure"), "this_period": N_("This period"), "period_before": N_("Period before"),
    "change_in": N_("Change in"), "expected": N_("Expected"), "rising": N_("Rising"),
    "first_seen": N_("First seen"), "last_seen": N_("Last seen"), "distance_m": N_("Distance to the line (m)"),
    "new": N_("New"), "categories": N_("Categories"), "raised_at": N_("Raised"), "deadline_at": N_("Deadline"),
    "late_addressees": N_("Late addressees"), "times_late": N_("Times late"), "response_pct": N_("Response rate (%)"),
    "resolution_pct": N_("Resolution rate (%)"), "satisfaction_pct": N_("Satisfaction rate (%)"),
    "performance": N_("Performance class"), "rebound": N_("Rebound"), "talk_list": N_("Talk list (末位约谈)"),
    "dispatched": N_("Dispatched"), "outcomes": N_("With an outcome"), "callbacks": N_("Called back"),
    "progress_pct": N_("Tasks done (%)"), "did_low": N_("Effect, low (%)"), "did_high": N_("Effect, high (%)"),
    "on_target": N_("On target"), "feature_count": N_("Features"), "precision": N_("Location precision"),
    "trend_z": N_("Trend strength (z)"),
}
"""Every column a table shows, by its name in the frame."""


def word(table: Mapping[object, str], code: object) -> str:
    """A code's word in the current language (the code as it is when the table lacks it)."""
    if _hashable(code) is None:
        return ""
    found = table.get(code)
    return _(found) if found is not None else str(code)


def words(table: Mapping[object, str], codes: Iterable[object]) -> list[str]:
    """:func:`word` of each code (each distinct code translated once: a column of 2,000 states
    is three look-ups)."""
    codes = list(codes)
    known = {code: word(table, code) for code in {_hashable(c) for c in codes}}
    return [known[_hashable(code)] for code in codes]


def _hashable(code: object) -> object:
    # NaN is not equal to itself: every missing value is one key.
    return None if code is None or (not isinstance(code, str) and pd.isna(code)) else code


def column(name: str) -> str:
    """A column's heading in the current language (its name when :data:`COLUMNS` lacks it)."""
    return word(COLUMNS, name)


def headed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns headed in the current language (two columns of one word keep
    their names apart: ``count`` and ``volume`` are both complaints)."""
    headings = [column(str(name)) for name in frame.columns]
    twice = pd.Series(headings).duplicated(keep=False).to_numpy()
    return frame.set_axis([f"{h} ({n})" if t else h for h, n, t in zip(headings, frame.columns, twice, strict=True)],
                          axis=1)


THEMES = {"environment": N_("ecology and environment"), "housing": N_("housing"), "labour": N_("labour"),
          "market": N_("market regulation"), "other": N_("other"), "public_order": N_("public order"),
          "public_services": N_("public services"), "safety": N_("safety"), "transport": N_("transport"),
          "urban_management": N_("urban management"), "utilities": N_("municipal utilities")}


def category_name(code: str) -> str:
    """A category's name in the current language, from the city's table (its code when unknown)."""
    from geo.act.categories import categories

    found = categories().get(code)
    if found is None:
        return str(code)
    return in_language(found.name_zh, found.name_en)


def department_name(code: str) -> str:
    """A department's name in the current language, from the city's table (its code when unknown)."""
    from geo.act.categories import departments

    found = departments().get(code)
    if found is None:
        return str(code)
    return in_language(*found)


def theme_name(code: str) -> str:
    """A theme's name in the current language (a city's own theme: its code, readably)."""
    return _(THEMES[code]) if code in THEMES else str(code).replace("_", " ")
