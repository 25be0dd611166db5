"""The monthly exam paper: rates, ranks and classes against tables computed by hand."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from geo.act.governance import COUNTS, RULES_FILE, GovernanceRules, classify, rates
from geo.act.governance_db import ranking, run_governance, township_history
from geo.errors import ValidationError
from geo.store.tally import refresh_days, refresh_tally
from tests.conftest import demo_database
from tests.helpers import assert_one_line_error, geo

SMALL = {"response_hours": 2, "min_sample": 5, "response": 1, "resolution": 1, "satisfaction": 2, "top": 2,
         "bottom": 1, "times": 2, "window_months": 3, "calm_months": 2, "watch_months": 2, "advanced_share": 0.25,
         "improving_shift": 0.2, "improving_points": 1.0, "rectification_share": 0.25}


def rules_file(path, **values) -> GovernanceRules:
    """A rules file like the shipped one with some values replaced."""
    text = RULES_FILE.read_text(encoding="utf-8")
    for key, value in values.items():
        lines = [f"{key} = {value}" if line.split("=")[0].strip() == key else line for line in text.splitlines()]
        text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return GovernanceRules.load(path)


@pytest.fixture
def small(tmp_path) -> GovernanceRules:
    return rules_file(tmp_path / "governance.toml", **SMALL)


def month_rows(month: str, rows: dict[str, tuple]) -> list[dict]:
    """Counts of one month: ``{code: (volume, dispatched, on_time, outcomes, resolved, callbacks, satisfied)}``."""
    return [{"month": month, "township_code": code, **dict(zip(COUNTS, values, strict=True))}
            for code, values in rows.items()]


def volumes(table: dict[str, list[int]]) -> pd.DataFrame:
    """Monthly counts with only volumes (every rate too few), months 2026-01 onwards."""
    months = [f"2026-{m:02d}-01" for m in range(1, len(next(iter(table.values()))) + 1)]
    rows = []
    for i, month in enumerate(months):
        rows += month_rows(month, {code: (v[i], 0, 0, 0, 0, 0, 0) for code, v in table.items()})
    return pd.DataFrame(rows)


def test_rates_and_composite_by_hand(small):
    counts = pd.DataFrame(month_rows("2026-01-01", {
        "P": (120, 100, 90, 100, 80, 100, 90),   # 0.9, 0.8, 0.9
        "Q": (10, 4, 4, 100, 50, 100, 50),       # 4 dispatched: response too few
        "R": (0, 0, 0, 0, 0, 0, 0),
    })).set_index("township_code")
    found = rates(counts, small)
    assert found.loc["P", "response_rate"] == pytest.approx(0.9)
    # Weights 1:1:2 normalise to 0.25, 0.25, 0.5.
    assert found.loc["P", "composite"] == pytest.approx(25 * 0.9 + 25 * 0.8 + 50 * 0.9)
    assert math.isnan(found.loc["Q", "response_rate"])
    assert found.loc["Q", "resolution_rate"] == 0.5
    assert math.isnan(found.loc["Q", "composite"])
    assert found.loc["R"].isna().all()
    shipped = GovernanceRules.load()
    assert sum(shipped.weights.values()) == pytest.approx(1.0)
    assert shipped.weights["response_rate"] == 0.1


def test_governance_class_enters_exits_is_watched_and_rebounds(small):
    # Top 2 by volume; governance after 2 tops within 3 months; exit after 2 calm months;
    # watched for 2 months. Worked by hand month by month (see the comments).
    counts = volumes({"A": [50, 50, 50, 1, 1, 50, 50],
                      "B": [40, 10, 10, 40, 40, 10, 10],
                      "C": [10, 40, 10, 40, 10, 10, 10],   # month 4: ties B at 40, both rank 1
                      "D": [5, 5, 40, 5, 40, 40, 40]})
    result = classify(counts, small)
    labels = result.pivot(index="township_code", columns="month", values="label")
    assert labels.to_numpy().tolist() == [
        # 1: A,B top   2: A,C top   3: A,D top   4: B,C top   5: B,D top   6: A,D top   7: A,D top
        ["early_warning", "governance", "governance", "governance", "watch", "early_warning", "governance"],
        ["early_warning", "none", "none", "early_warning", "governance", "governance", "watch"],
        ["none", "early_warning", "none", "governance", "governance", "watch", "watch"],
        ["none", "none", "early_warning", "none", "governance", "governance", "governance"],
    ]
    a = result[result["township_code"] == "A"].reset_index(drop=True)
    assert a["entered"].tolist() == [False, True, False, False, False, False, True]
    assert a["exited"].tolist() == [False, False, False, False, True, False, False]
    assert a["calm"].tolist() == [0, 0, 0, 1, 0, 0, 0]
    # Month 6: back in the top while watched is a rebound; only the months after the exit count,
    # so one top is not enough to enter again; month 7 makes two.
    assert a.loc[5, "rebound"]
    assert a.loc[5, "top_count"] == 1
    assert a.loc[6, "top_count"] == 2
    month4 = result[result["month"] == "2026-04-01"].set_index("township_code")
    assert month4.loc[["B", "C"], "volume_rank"].tolist() == [1, 1]
    assert month4["top"].sum() == 2
    # Every rate is too few: nobody ranked by composite, nobody on the talk list.
    assert result["composite_rank"].isna().all()
    assert not result["talk_list"].any()
    assert result["performance"].isna().all()


def test_a_month_classified_alone_carries_the_state(small):
    counts = volumes({"A": [50, 50, 50, 1, 1, 50, 50], "B": [40, 10, 10, 40, 40, 10, 10],
                      "C": [10, 40, 10, 40, 10, 10, 10], "D": [5, 5, 40, 5, 40, 40, 40]})
    whole = classify(counts, small)
    first = classify(counts[counts["month"] < "2026-05-01"], small)
    rest = classify(counts[counts["month"] >= "2026-05-01"], small, previous=first)
    pd.testing.assert_frame_equal(pd.concat([first, rest], ignore_index=True), whole)


def test_missing_months_are_not_calm_and_a_missing_township_is_not_ranked(small):
    # No data at all in April: governance A (months 1-3 top) is not calmed by it.
    counts = volumes({"A": [50, 50, 50, 0, 1, 1], "B": [40, 10, 10, 0, 40, 40],
                      "C": [10, 40, 10, 0, 40, 10], "D": [5, 5, 40, 0, 5, 40]})
    result = classify(counts, small)
    assert "2026-04-01" not in set(result["month"].astype(str))
    a = result[result["township_code"] == "A"].set_index("month")
    assert a["governance"].tolist() == [False, True, True, True, False]
    assert a["calm"].tolist() == [0, 0, 0, 1, 0]
    assert a["exited"].iloc[-1]
    # D has no row in month 2: no rank then, and its state carries over.
    partial = counts[~((counts["township_code"] == "D") & (counts["month"] == "2026-02-01"))]
    found = classify(partial, small)
    assert len(found[found["month"] == "2026-02-01"]) == 3
    assert found[found["township_code"] == "D"]["label"].tolist() == ["none", "early_warning", "none",
                                                                      "early_warning"]


def test_performance_classes_ties_and_too_few_by_hand(small):
    def month(date, table):
        # P has the second volume after U: both are top 2 twice, so governance-class in February.
        return month_rows(date, {code: (300 if code == "P" else 100, 100, r, 100, s, 100, t)
                                 for code, (r, s, t) in table.items()})

    rows = month("2026-01-01", {"P": (90, 80, 90), "Q": (80, 70, 80), "R": (70, 60, 70), "S": (60, 50, 60),
                                "T": (50, 40, 50)})
    rows += month("2026-02-01", {"P": (90, 80, 90), "Q": (70, 60, 70), "R": (70, 60, 70), "S": (85, 85, 85),
                                 "T": (90, 90, 95)})
    rows += month_rows("2026-01-01", {"U": (500, 4, 4, 100, 90, 100, 90)})
    rows += month_rows("2026-02-01", {"U": (500, 4, 4, 100, 90, 100, 90)})
    result = classify(pd.DataFrame(rows), small).set_index(["month", "township_code"])
    jan, feb = result.xs(pd.Timestamp("2026-01-01")), result.xs(pd.Timestamp("2026-02-01"))
    # January composites 87.5, 77.5, 67.5, 57.5, 47.5: five ranked, so "a quarter" is 2.
    assert jan["composite"].round(2).tolist()[:5] == [87.5, 77.5, 67.5, 57.5, 47.5]
    assert jan["performance"].fillna("-").tolist() == ["advanced", "advanced", "-", "rectification",
                                                       "rectification", "-"]
    assert jan["talk_list"].tolist() == [False, False, False, False, True, False]
    # February: T 92.5, P 87.5, S 85, Q 67.5 = R 67.5 (a tie: both rank 4, both at the bottom).
    assert feb["composite_rank"].tolist() == [2, 4, 4, 3, 1, pd.NA]
    assert feb["talk_list"].tolist() == [False, True, True, False, False, False]
    # S rose from position 0.6 to 0.4 (a fifth of the ranking) and by 27.5 points.
    assert feb.loc["S", "rank_shift"] == pytest.approx(0.2)
    assert feb["performance"].fillna("-").tolist() == ["advanced", "rectification", "rectification", "improving",
                                                       "advanced", "-"]
    # The label takes the first that applies: governance-class before advanced.
    assert feb["label"].tolist() == ["governance", "rectification", "rectification", "improving", "advanced",
                                     "governance"]
    assert jan["label"].tolist() == ["early_warning", "advanced", "none", "rectification", "rectification",
                                     "early_warning"]


@pytest.mark.parametrize(("values", "message"), [
    ({"min_sample": 0}, "min_sample was 0"),
    ({"min_sample": 2.5}, "whole number"),
    ({"advanced_share": 1.5}, "share between 0 and 1"),
    ({"times": 9}, "cannot exceed window_months"),
    ({"response": '"high"'}, "response was 'high'"),
])
def test_bad_rules_are_refused_naming_the_key(tmp_path, values, message):
    with pytest.raises(ValidationError, match=message):
        rules_file(tmp_path / "bad.toml", **values)


def test_bad_counts_are_refused_naming_the_row(small):
    counts = volumes({"A": [5], "B": [3]})
    with pytest.raises(ValidationError, match="appears twice"):
        classify(pd.concat([counts, counts]), small)
    broken = counts.assign(on_time=[3, 0], dispatched=[1, 0]).set_index("township_code")
    with pytest.raises(ValidationError, match="'A': on_time exceeds dispatched"):
        rates(broken, small)
    with pytest.raises(ValidationError, match="missing or negative"):
        rates(counts.assign(volume=[-1, 2]).set_index("township_code"), small)


@pytest.fixture(scope="module")
def three_months(pg_cluster, boundaries_template, boundary_index, townships, tmp_path_factory):
    """August to October of the demo at 800 a day, loaded once."""
    with demo_database(pg_cluster, boundaries_template, boundary_index, townships,
                       tmp_path_factory.mktemp("governance"), days=92, per_day=800, seed=5, end="2026-11-01") as db:
        yield db


def small_sample() -> int:
    return GovernanceRules.load().min_sample


def test_the_demo_planted_townships_become_governance_class_and_rates_are_recovered(three_months):
    _url, engine, truth = three_months
    result = run_governance(engine)
    october = result[result["month"] == "2026-10-01"].set_index("township_code")
    assert set(truth["governance_class"]) <= set(october.index[october["governance"]])
    # Every planted poor township with enough callbacks to be ranked is on the talk list (the
    # others are "too few" at 800 complaints a day, and never ranked).
    poor = october[october.index.isin(truth["bottom_townships"])]
    assert poor["composite"].notna().sum() >= 5
    assert poor["talk_list"].sum() == poor["composite"].notna().sum()
    assert poor.loc[poor["callbacks"] < small_sample(), "composite_rank"].isna().all()
    planted = pd.DataFrame(truth["rates"]).T
    # The response rate recovers the planted one. Rates are planted by the community a complaint
    # is drawn around, and some of the scatter lands in the neighbouring township, whose own
    # rate it then dilutes: close, not exact.
    ranked = october[october["dispatched"] >= 100]
    truth_rate = planted.loc[ranked.index, "response"].astype(float)
    error = ranked["response_rate"] - truth_rate
    assert len(ranked) > 30
    assert error.abs().median() < 0.015
    assert np.corrcoef(ranked["response_rate"], truth_rate)[0, 1] > 0.8
    # Stored, read back with names, in the order of the ranking.
    table = ranking(engine, "2026-10")
    assert len(table) == len(october)
    assert table["name"].notna().all()
    assert table["composite_rank"].dropna().is_monotonic_increasing
    assert set(ranking(engine, "2026-10", label="governance")["township_code"]) == \
        set(october.index[october["governance"]])
    assert len(township_history(engine, truth["governance_class"][0])) == 3


def test_the_tally_matches_the_complaints_and_reruns_change_nothing(three_months):
    _url, engine, _ = three_months
    with engine.begin() as conn:
        # One day alone, whatever the session's time zone: its Beijing midnight to midnight.
        conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        refresh_days(conn, date(2026, 9, 16), date(2026, 9, 16))
    with engine.connect() as conn:
        direct = conn.execute(sa.text(
            "SELECT township_code, count(*), count(*) FILTER (WHERE satisfaction IN ('satisfied', "
            "'basically_satisfied')) FROM complaint WHERE received_at >= '2026-09-01+08' "
            "AND received_at < '2026-10-01+08' AND township_code IS NOT NULL GROUP BY 1 ORDER BY 1")).all()
        tallied = conn.execute(sa.text(
            "SELECT township_code, sum(volume), sum(satisfied) FROM township_day WHERE day >= '2026-09-01' "
            "AND day < '2026-10-01' GROUP BY 1 ORDER BY 1")).all()
    assert direct == tallied
    with engine.connect() as conn:
        # The half-monthly tally sums the daily one; the cell tally counts the complaints.
        halves = conn.execute(sa.text(
            "SELECT half, township_code, category, volume, satisfied FROM township_half ORDER BY 1, 2, 3")).all()
        summed = conn.execute(sa.text(
            "SELECT (date_trunc('month', day) + CASE WHEN extract(day FROM day) >= 16 THEN interval '15 days' "
            "ELSE interval '0 days' END)::date, township_code, category, sum(volume), sum(satisfied) "
            "FROM township_day GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")).all()
        cells = conn.execute(sa.text(
            "SELECT h3, count(*) FROM complaint WHERE received_at >= '2026-09-16+08' AND received_at < "
            "'2026-09-17+08' AND h3 IS NOT NULL GROUP BY 1 ORDER BY 1")).all()
        cell_days = conn.execute(sa.text(
            "SELECT h3, sum(volume) FROM cell_day WHERE day = '2026-09-16' GROUP BY 1 ORDER BY 1")).all()
        # The weekly cell tally counts the complaints of a Beijing Monday to Sunday (14-20 Sept).
        week = conn.execute(sa.text(
            "SELECT h3, count(*) FROM complaint WHERE received_at >= '2026-09-14+08' AND received_at < "
            "'2026-09-21+08' AND h3 IS NOT NULL GROUP BY 1 ORDER BY 1")).all()
        cell_week = conn.execute(sa.text("SELECT h3, volume FROM cell_week WHERE week = '2026-09-14' ORDER BY 1")).all()
        weeks = conn.execute(sa.text("SELECT DISTINCT extract(isodow FROM week) FROM cell_week")).scalars().all()
        # The city's tally sums every township's, count by count.
        city = conn.execute(sa.text(
            "SELECT day, category, volume, dispatched, on_time, outcomes, resolved, callbacks, satisfied "
            "FROM city_day ORDER BY 1, 2")).all()
        townships = conn.execute(sa.text(
            "SELECT day, category, sum(volume), sum(dispatched), sum(on_time), sum(outcomes), sum(resolved), "
            "sum(callbacks), sum(satisfied) FROM township_day GROUP BY 1, 2 ORDER BY 1, 2")).all()
    assert halves == summed
    assert len(halves) > 0
    assert cells == cell_days
    assert len(cells) > 0
    assert cell_week == week
    assert len(week) > len(cells)
    assert weeks == [1]
    assert city == townships
    assert len(city) > 0
    with pytest.raises(ValueError, match="unknown tallies"), engine.begin() as conn:
        refresh_days(conn, date(2026, 9, 1), date(2026, 9, 2), tables=["township_week"])
    run_governance(engine, rebuild=True)
    before = ranking(engine, "2026-09")
    refresh_tally(engine)
    again = run_governance(engine, rebuild=True)
    assert len(again) == 3 * len(before)
    after = ranking(engine, "2026-09")
    pd.testing.assert_frame_equal(before.drop(columns="computed_at"), after.drop(columns="computed_at"))
    # Only the last stored month is redone by default.
    assert set(run_governance(engine)["month"].astype(str)) == {"2026-10-01"}


def test_governance_on_the_command_line(three_months):
    url, _, truth = three_months
    env = {"DATABASE_URL": url, "COLUMNS": "200"}
    done = geo("governance", "run", env=env)
    assert done.returncode == 0, done.stderr
    assert "2026-10" in done.stdout
    shown = geo("governance", "show", "--month", "2026-10", "--label", "governance", env=env)
    assert shown.returncode == 0, shown.stderr
    assert all(code in shown.stdout for code in truth["governance_class"])
    assert_one_line_error(geo("governance", "show", "--month", "October", env=env), "is not a month")
    assert_one_line_error(geo("governance", "show", "--label", "great", env=env), "unknown label 'great'")
    tally = geo("governance", "tally", "--start", "2026-10-01", "--end", "2026-10-31", env=env)
    assert tally.returncode == 0, tally.stderr
    assert "tally rows" in tally.stdout


def test_an_empty_database_ranks_nothing(complaints_engine):
    assert run_governance(complaints_engine).empty
    assert ranking(complaints_engine).empty
