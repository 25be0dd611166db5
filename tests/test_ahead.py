"""The loader's pipeline: a producer one step ahead in a thread (geo.ingest.ahead)."""

from __future__ import annotations

import threading
import time

import pytest

from geo.ingest.ahead import run_ahead


def test_items_come_in_order_and_the_producer_runs_ahead_in_its_own_thread():
    made: list[tuple[int, str]] = []

    def produce():
        for i in range(5):
            made.append((i, threading.current_thread().name))
            yield i

    got = []
    for item in run_ahead(produce(), depth=1, name="ahead-test"):
        time.sleep(0.05)  # the consumer's work: the producer has the next item ready meanwhile
        got.append((item, len(made)))
    assert [i for i, _ in got] == [0, 1, 2, 3, 4]
    assert all(name == "ahead-test" for _, name in made)
    # While item 0 was consumed, item 1 was made and item 2 waited for room: depth bounds memory.
    assert got[0][1] in (2, 3)


def test_an_error_in_the_producer_is_raised_in_the_consumer_as_it_was():
    def produce():
        yield 1
        raise LookupError("row 7: the file ended inside a quoted value")

    items = run_ahead(produce())
    assert next(items) == 1
    with pytest.raises(LookupError, match="row 7"):
        next(items)


def test_a_consumer_that_stops_early_stops_the_producer():
    closed = threading.Event()
    made = []

    def produce():
        try:
            for i in range(1_000):
                made.append(i)
                yield i
        finally:
            closed.set()

    items = run_ahead(produce(), depth=2)
    assert [next(items) for _ in range(4)] == [0, 1, 2, 3]
    items.close()  # what a consumer's exception does to the generator it loops over
    assert closed.wait(2)
    assert len(made) <= 3 + 1 + 2 + 1  # what was consumed, the one being put, depth, one more
    assert not [t for t in threading.enumerate() if t.name == "whistle-ahead"]


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        list(run_ahead(iter([1]), depth=0))
