"""The API's micro-batches (geo.api.intake), with an ingest that the test holds and releases."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from geo.api.intake import MAX_BATCH, Intake, complaints
from geo.ingest.summary import IngestSummary

NOW = pd.Timestamp("2026-12-01 02:00", tz="UTC")


class Held:
    """An ingest that rejects rows whose text says "bad", records each batch, and waits for the
    test to let the first batch through (so that the others queue up behind it)."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str], pd.Timestamp]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, rows: list[dict], source: str, now: pd.Timestamp) -> IngestSummary:
        self.entered.set()
        self.release.wait(10)
        self.batches.append((source, [r["id"] for r in rows], now))
        summary = IngestSummary(len(self.batches), source)
        for line, row in enumerate(rows, start=1):
            if row.get("text") == "bad":
                summary.rejections.append({"line": line, "source_id": row["id"], "reason_code": "outside",
                                           "reason": f"row {row['id']} lies outside the service area"})
        summary.inserted = len(rows) - len(summary.rejections)
        return summary


def _submit(intake: Intake, row: dict, source: str, now: pd.Timestamp = NOW):
    return intake.submit((row, now), source, row["id"])


def _submit_all(intake: Intake, held: Held, requests: list[tuple[dict, str]]):
    """The first request alone, then the rest while the first batch is held."""
    with ThreadPoolExecutor(len(requests)) as pool:
        first = pool.submit(_submit, intake, *requests[0])
        assert held.entered.wait(10)
        rest = [pool.submit(_submit, intake, row, source, NOW + pd.Timedelta(seconds=i))
                for i, (row, source) in enumerate(requests[1:])]
        while intake._queue.qsize() < len(rest):  # every request is waiting before the release
            threading.Event().wait(0.01)
        held.release.set()
        return [first.result(10)] + [f.result(10) for f in rest]


def test_requests_that_wait_together_are_one_batch_and_each_gets_its_own_answer():
    held, told = Held(), []
    intake = Intake(complaints(held, on_accepted=told.append))
    requests = [({"id": "A-0"}, "api:wechat")] + [
        ({"id": f"A-{i}", "text": "bad" if i % 4 == 0 else "ok"}, "api:wechat") for i in range(1, 21)]
    outcomes = _submit_all(intake, held, requests)
    intake.close()
    assert [b[1] for b in held.batches] == [["A-0"], [f"A-{i}" for i in range(1, 21)]]
    assert held.batches[1][2] == NOW + pd.Timedelta(seconds=19), "the batch checks against its latest moment"
    for (row, _source), outcome in zip(requests, outcomes, strict=True):
        assert outcome.accepted == (row.get("text") != "bad")
        assert (outcome.reason is None) == outcome.accepted
        if not outcome.accepted:
            assert row["id"] in outcome.reason
    assert len(told) == 2, "the worker is told once a batch"


def test_each_source_is_its_own_run_and_a_repeated_id_waits_for_the_next_batch():
    held = Held()
    intake = Intake(complaints(held))
    requests = [({"id": "B-0"}, "api:wechat"), ({"id": "B-1"}, "api:agents"), ({"id": "B-2"}, "api:wechat"),
                ({"id": "B-1"}, "api:agents"), ({"id": "B-3"}, "api:agents")]
    outcomes = _submit_all(intake, held, requests)
    intake.close()
    assert all(o.accepted for o in outcomes)
    assert [(s, ids) for s, ids, _ in held.batches] == [
        ("api:wechat", ["B-0"]), ("api:agents", ["B-1", "B-3"]), ("api:wechat", ["B-2"]), ("api:agents", ["B-1"])]


def test_a_failed_batch_fails_its_requests_and_the_next_batch_goes_on():
    calls = []

    def flaky(rows, source, now):
        calls.append(len(rows))
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return IngestSummary(2, source, rows=len(rows), inserted=len(rows))

    intake = Intake(complaints(flaky))
    with pytest.raises(RuntimeError, match="went away"):
        _submit(intake, {"id": "C-0"}, "api:wechat")
    assert _submit(intake, {"id": "C-1"}, "api:wechat").accepted
    intake.close()
    intake.close()  # twice is harmless
    assert _submit(intake, {"id": "C-2"}, "api:wechat").accepted, "a closed intake starts again"
    intake.close()


def test_batches_are_bounded():
    with pytest.raises(ValueError, match="max_batch"):
        Intake(lambda *a: None, max_batch=MAX_BATCH + 1)
    held = Held()
    intake = Intake(complaints(held), max_batch=3)
    outcomes = _submit_all(intake, held, [({"id": f"D-{i}"}, "api:web") for i in range(8)])
    intake.close()
    assert all(o.accepted for o in outcomes)
    assert [len(ids) for _s, ids, _n in held.batches] == [1, 3, 3, 1]


def test_an_answer_that_is_an_error_is_raised_to_its_request_alone():
    intake = Intake(lambda _group, items: [ValueError(f"no {i}") if i % 2 else i * 10 for i in items])
    assert intake.submit(2, "g", "a") == 20
    with pytest.raises(ValueError, match="no 3"):
        intake.submit(3, "g", "b")
    intake.close()
    miscounted = Intake(lambda _group, items: [])
    with pytest.raises(RuntimeError, match="answers"):
        miscounted.submit(1, "g", "a")
    miscounted.close()


def test_the_worker_is_told_off_the_intake_thread_once_for_all_that_arrived_meanwhile():
    """`Later` calls its teller on a thread of its own: a slow teller holds up no batch; what
    arrives while it runs is told in one later call; a failing call is logged and the next
    one tells again; close() tells what is pending first."""
    from geo.api.intake import Later

    entered, release, calls = threading.Event(), threading.Event(), []

    def tell(ids):
        calls.append((threading.current_thread().name, list(ids)))
        if len(calls) == 1:
            entered.set()
            assert release.wait(10)
        if len(calls) == 2:
            raise RuntimeError("the queue is down")

    later = Later(tell)
    later(["A"])
    assert entered.wait(10)
    later(["B"])  # returns at once, while the first call is still running
    later(["C", "D"])
    release.set()
    while len(calls) < 2:
        threading.Event().wait(0.01)
    later(["E"])
    later.close()
    assert [ids for _name, ids in calls] == [["A"], ["B", "C", "D"], ["E"]]
    assert {name for name, _ids in calls} == {"whistle-tell"}
