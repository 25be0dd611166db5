"""A mapping that says everything another city's export needs: its columns, its time format, what
its own values mean (geo/ingest/mapping.py), and the values it could not place."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from geo.errors import ValidationError
from geo.ingest.mapping import Mapping, load_mapping

MAPPING = """
columns: {id: CaseID, received_at: Opened, category: Category, resolved: Status, channel: Source,
          lat: Latitude, lon: Longitude, text: Description}
timezone: America/Los_Angeles
formats: {received_at: "%m/%d/%Y %I:%M:%S %p"}
values:
  category: {Street and Sidewalk Cleaning: garbage_collection, Noise Report: construction_noise}
  resolved: {Closed: yes, Open: no}
  channel: {Mobile/Open311: app, Phone: phone}
"""
# An export in the style of San Francisco's 311 (points inside the shipped polygons).
ROWS = [
    ("SF-1", "03/23/2026 07:51:34 AM", "Street and Sidewalk Cleaning", "Closed", "Mobile/Open311"),
    ("SF-2", "03/23/2026 11:05:00 PM", "Noise Report", "Open", "Phone"),
    ("SF-3", "03/24/2026 09:00:00 AM", "Graffiti", "Closed", "Web"),
    ("SF-4", "03/24/2026 09:30:00 AM", "Graffiti", "Open", "Web"),
    ("SF-5", "02/30/2026 10:00:00 AM", "Noise Report", "Open", "Phone"),  # no such day
    ("SF-6", "2026-03-24T10:00:00-07:00", "Noise Report", "Open", "Phone"),  # ISO 8601 still reads
]


def _tallies(engine) -> list:
    with engine.connect() as conn:
        return sorted(map(tuple, conn.execute(sa.text("SELECT * FROM township_day")).all()))


def _export(folder):
    frame = pd.DataFrame(ROWS, columns=["CaseID", "Opened", "Category", "Status", "Source"])
    frame["Latitude"], frame["Longitude"], frame["Description"] = "39.9087", "116.3975", "sidewalk"
    path = folder / "sf311.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_mapping_file_with_formats_and_value_maps(tmp_path):
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    mapping = load_mapping(tmp_path / "m.yaml")
    assert mapping.formats == {"received_at": "%m/%d/%Y %I:%M:%S %p"}
    assert mapping.values["resolved"] == {"closed": True, "open": False}
    assert mapping.values["category"]["noise report"] == "construction_noise"
    assert mapping.with_options(["text=Notes"]).values == mapping.values


@pytest.mark.parametrize(("entry", "problem"), [
    ({"values": {"category": {"Graffiti": "graffiti_art"}}}, "not a category code"),
    ({"values": {"resolved": {"Closed": "maybe"}}}, "it means yes or no"),
    ({"values": {"channel": {"Fax": "fax"}}}, "not a channel code"),
    ({"values": {"weather": {"x": "y"}}}, "the mapped fields are"),
    ({"formats": {"received_at": "mm/dd/yyyy"}}, "strptime format"),
    ({"formats": {"closed_at": "%Y"}}, "times are"),
])
def test_a_wrong_map_names_the_entry(entry, problem):
    with pytest.raises(ValidationError, match=problem):
        Mapping(timezone="America/Los_Angeles", **entry)


@pytest.mark.db
def test_another_citys_export_reads_with_its_mapping(complaints_engine, tmp_path):
    from geo.ingest.run_db import ingest_file
    from geo.store.tally import refresh_tally

    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    path, now = _export(tmp_path), pd.Timestamp("2026-04-01", tz="UTC")
    summary = ingest_file(complaints_engine, path, load_mapping(tmp_path / "m.yaml"), now=now)
    assert (summary.inserted, summary.rejected) == (5, 1)
    assert summary.rejected_by_reason == {"bad_time": 1}, "02/30 is not rolled over to March"
    assert dict(summary.unmapped) == {"Graffiti": 2}, "what the map still needs, with its count"
    with complaints_engine.connect() as conn:
        rows = {r.source_id: r for r in conn.execute(sa.text(
            "SELECT source_id, received_at, category, resolved, channel FROM complaint"))}
    assert rows["SF-1"].received_at == pd.Timestamp("2026-03-23 14:51:34", tz="UTC"), "7:51 AM in Los Angeles"
    assert rows["SF-2"].received_at == pd.Timestamp("2026-03-24 06:05", tz="UTC")
    assert rows["SF-6"].received_at == pd.Timestamp("2026-03-24 17:00", tz="UTC")
    assert [(rows[k].category, rows[k].resolved, rows[k].channel) for k in ("SF-1", "SF-2", "SF-3")] == [
        ("garbage_collection", True, "app"), ("construction_noise", False, "phone"), ("unclassified", True, "web")]

    # The map finished, the same file again: the two rows it now reads differently are updated
    # (and their tallies moved), the others are as they were.
    finished = MAPPING.replace("Noise Report: construction_noise}",
                               "Noise Report: construction_noise, Graffiti: illegal_advertising}")
    (tmp_path / "m.yaml").write_text(finished, encoding="utf-8")
    again = ingest_file(complaints_engine, path, load_mapping(tmp_path / "m.yaml"), now=now)
    assert (again.updated, again.unchanged, again.unclassified, dict(again.unmapped)) == (2, 3, 0, {})
    with complaints_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT category FROM complaint WHERE source_id = 'SF-3'")).scalar() \
            == "illegal_advertising"
    live = _tallies(complaints_engine)
    refresh_tally(complaints_engine)
    assert live == _tallies(complaints_engine), "the re-filed rows moved the tallies as a recount counts them"
