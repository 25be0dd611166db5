"""Requests that arrive together are handled together: the API's micro-batches.

A complaint's checks, locate and load cost nearly as much for one row as for a hundred (pandas'
and the transaction's fixed costs), and so does a status update's transaction; so one thread
takes every request waiting when it is free and handles them as one batch; each request waits
for its own batch and gets its own answer (its id, or the reason it was refused). A lone
request is handled at once; under load the batches grow and the API keeps up instead of
queueing.

A batch is handled one group at a time (one source: an API key), so that a rejected complaint
is kept with its channel as its source and an update is checked against its sender's kinds.
Two requests with the same id in one group would make the second a "duplicate" of the first:
the second waits for the next batch, where it is the same complaint (or update) again, as
when sent in turn.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import pandas as pd

from geo.ingest.summary import KEPT_REASONS, IngestSummary
from geo.ingest.updates import check_updates

log = logging.getLogger("whistle.api")

T = TypeVar("T")
R = TypeVar("R")

Handle = Callable[[str, list], list]
"""``handle(group, items)``: one answer per item, in order; an exception as an item's answer is
raised to that request alone."""

Ingest = Callable[[list[dict], str, pd.Timestamp], IngestSummary]
"""Ingests rows from one source at one moment (``ingest_rows`` with the API's boundaries)."""

MAX_BATCH = KEPT_REASONS
"""At most this many requests a batch: an ingest's summary names the reason of each rejected one."""


@dataclass(frozen=True)
class Outcome:
    """What became of one request's complaint."""

    accepted: bool
    reason: str | None = None
    """Why the row was rejected (the first reason its checks found)."""


@dataclass
class _Request:
    item: object
    group: str
    key: str
    done: Future = field(default_factory=Future)


_STOP = object()


class Intake(Generic[T, R]):
    """One handling thread and the requests waiting for it.

    Parameters
    ----------
    handle : callable
        ``handle(group, items)``, returning one answer per item (:data:`Handle`).
    max_batch : int
        The most requests in one batch.
    """

    def __init__(self, handle: Callable[[str, list[T]], list[R | BaseException]], max_batch: int = MAX_BATCH) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH}, not {max_batch}")
        self._handle, self._max = handle, max_batch
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, item: T, group: str, key: str) -> R:
        """Handle one request's item with whatever else is waiting, and wait for its answer.

        Parameters
        ----------
        item
            What the handler takes for one request.
        group : str
            The request's source (``api:<key name>``); a batch is handled a group at a time.
        key : str
            The request's own id in its group: a repeat waits for the next batch.

        Returns
        -------
        The handler's answer for this item.

        Raises
        ------
        Exception
            The item's answer when it is one, or whatever its group's handling raised.
        """
        request = _Request(item, group, key)
        self._start()
        self._queue.put(request)
        return request.done.result()

    def close(self) -> None:
        """Finish the waiting requests and stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="whistle-intake", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        carried: list[_Request] = []
        while True:
            waiting = carried or [self._queue.get()]
            stop = waiting[-1] is _STOP
            while not stop and len(waiting) < self._max:
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                stop = waiting[-1] is _STOP
            if stop:
                waiting.pop()
            batch, carried = _one_per_id(waiting[:self._max])
            carried += waiting[self._max:]
            for group in dict.fromkeys(r.group for r in batch):
                self._handle_group(group, [r for r in batch if r.group == group])
            if stop and not carried:
                return
            if stop:
                self._queue.put(_STOP)

    def _handle_group(self, group: str, requests: list[_Request]) -> None:
        try:
            answers = self._handle(group, [r.item for r in requests])
            if len(answers) != len(requests):
                raise RuntimeError(f"the handler gave {len(answers)} answers to {len(requests)} requests")
        except BaseException as exc:  # every waiting request learns of it; the thread goes on
            log.exception("a batch of %d requests failed", len(requests))
            for request in requests:
                request.done.set_exception(exc)
            return
        for request, answer in zip(requests, answers, strict=True):
            if isinstance(answer, BaseException):
                request.done.set_exception(answer)
            else:
                request.done.set_result(answer)


def _one_per_id(waiting: list[_Request]) -> tuple[list[_Request], list[_Request]]:
    """The requests of distinct ids (first come first), and the repeats, for the next batch."""
    seen: set[tuple[str, str]] = set()
    batch, later = [], []
    for request in waiting:
        (later if (request.group, request.key) in seen else batch).append(request)
        seen.add((request.group, request.key))
    return batch, later


class Later:
    """Tell someone of accepted complaints on a thread of its own, once for all told meanwhile.

    The worker's queue is told of arrivals after each batch (a job insert, a round trip); done
    by the intake thread it held up the batch's answers and the next batch. A pass of the
    worker covers every complaint of the trailing hours, so a batch's ids need no job of their
    own: whatever arrives while one call runs is told in the next.

    Parameters
    ----------
    tell : callable
        ``tell(ids)``; what it raises is logged, and the next call tells again.
    """

    def __init__(self, tell: Callable[[list[str]], object]) -> None:
        self._tell = tell
        self._pending: list[str] = []
        self._closing = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def __call__(self, ids: list[str]) -> None:
        with self._wake:
            self._pending.extend(ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="whistle-tell", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Tell what is pending, then stop the thread."""
        with self._wake:
            thread, self._closing = self._thread, True
            self._wake.notify()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending or self._closing)
                ids, self._pending = self._pending, []
                closing = self._closing
            if ids:
                try:
                    self._tell(ids)
                except Exception:  # the complaints are stored: the next call tells the worker again
                    log.exception("the worker could not be told of %d complaints", len(ids))
            if closing:
                with self._wake:
                    if not self._pending:
                        self._thread = None
                        return


def complaints(ingest: Ingest, on_accepted: Callable[[list[str]], None] | None = None) -> Handle:
    """The handler of posted complaints: one ingest of a group's rows.

    Parameters
    ----------
    ingest : callable
        ``ingest(rows, source, now)`` (:data:`Ingest`).
    on_accepted : callable, optional
        Called with the ids of each batch's rows when it inserted a complaint (the worker's
        queue), before any of its requests is answered.

    Returns
    -------
    callable
        ``handle(source, [(row, now), ...])`` with an :class:`Outcome` per row; the batch is
        checked against the latest of its moments ("in the future").
    """
    def handle(source: str, items: list[tuple[dict, pd.Timestamp]]) -> list[Outcome]:
        rows = [row for row, _now in items]
        summary = ingest(rows, source, max(moment for _row, moment in items))
        reasons = {int(r["line"]): str(r["reason"]) for r in summary.rejections}
        if summary.inserted and on_accepted is not None:
            on_accepted([row["id"] for row in rows])
        return [Outcome(line not in reasons, reasons.get(line)) for line in range(1, len(rows) + 1)]

    return handle


def updates(record: Callable[[list, int], list], timezone: str) -> Handle:
    """The handler of posted status updates: one sender's updates checked and recorded together.

    Parameters
    ----------
    record : callable
        ``record(updates, key_id)``: :func:`geo.ingest.updates_db.record_updates` on the API's
        database.
    timezone : str
        The zone of a time written without one.

    Returns
    -------
    callable
        ``handle(group, [(fields, status, (key_id, kind), now), ...])`` (``fields`` as
        :func:`geo.ingest.updates.check_updates` takes them), with a ``Recorded`` or the
        ``ValidationError`` that refused it per update.
    """
    def handle(_group: str, items: list[tuple[dict, str, tuple[int, str], pd.Timestamp]]) -> list:
        key_id, kind = items[0][2]  # one group, one sender: its key and the kind of that key
        checked = check_updates([fields for fields, *_rest in items], sender=kind,
                                now=max(item[3] for item in items), timezone=timezone)
        valid = [(update, item[1]) for update, item in zip(checked, items, strict=True)
                 if not isinstance(update, BaseException)]
        recorded = iter(record(valid, key_id) if valid else [])
        return [update if isinstance(update, BaseException) else next(recorded) for update in checked]

    return handle
