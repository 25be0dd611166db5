"""Requests that arrive together are checked and loaded together: the API's micro-batches.

A complaint's checks, locate and load cost nearly as much for one row as for a hundred (pandas'
and the transaction's fixed costs), so one thread takes every request waiting when it is free
and ingests them as one batch; each request waits for its own batch and gets its own answer
(its id, or the reason its row was rejected). A lone request is ingested at once; under load
the batches grow and the API keeps up instead of queueing.

Each batch is one :func:`geo.ingest.run_db.ingest_rows` call per source (API key), so that a
rejected row is kept with its channel as its source, exactly as before. Two requests with the
same id in one batch would make the second a "duplicate" of the first: the second waits for
the next batch, where it is the same complaint again (or its update), as when sent in turn.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import pandas as pd

from geo.ingest.summary import KEPT_REASONS, IngestSummary

log = logging.getLogger("whistle.api")

Ingest = Callable[[list[dict], str, pd.Timestamp], IngestSummary]
"""Ingests rows from one source at one moment (``ingest_rows`` with the API's boundaries)."""

MAX_BATCH = KEPT_REASONS
"""At most this many requests a batch: the summary names the reason of each rejected one."""


@dataclass(frozen=True)
class Outcome:
    """What became of one request's row."""

    accepted: bool
    reason: str | None = None
    """Why the row was rejected (the first reason its checks found)."""


@dataclass
class _Request:
    row: dict
    source: str
    now: pd.Timestamp
    done: Future = field(default_factory=Future)


_STOP = object()


class Intake:
    """The API's one ingesting thread and the requests waiting for it.

    Parameters
    ----------
    ingest : callable
        ``ingest(rows, source, now)``, returning the summary of the rows' run.
    on_accepted : callable, optional
        Called with the ids of each batch's rows when it inserted a complaint (the worker's
        queue), before any of its requests is answered.
    max_batch : int
        The most requests in one batch.
    """

    def __init__(self, ingest: Ingest, on_accepted: Callable[[list[str]], None] | None = None,
                 max_batch: int = MAX_BATCH) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH}, not {max_batch}")
        self._ingest, self._on_accepted, self._max = ingest, on_accepted, max_batch
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, row: dict, source: str, now: pd.Timestamp) -> Outcome:
        """Ingest one request's row with whatever else is waiting, and wait for its outcome.

        Parameters
        ----------
        row : dict
            The request's fields as ``ingest_rows`` takes them, its ``id`` set.
        source : str
            ``api:<key name>``.
        now : pandas.Timestamp
            The request's moment (the batch checks "in the future" against its latest).

        Returns
        -------
        Outcome

        Raises
        ------
        Exception
            Whatever the batch's ingest raised (the handler logs it and answers 500).
        """
        request = _Request(row, source, now)
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
            for source in dict.fromkeys(r.source for r in batch):
                self._ingest_group([r for r in batch if r.source == source])
            if stop and not carried:
                return
            if stop:
                self._queue.put(_STOP)

    def _ingest_group(self, group: list[_Request]) -> None:
        try:
            summary = self._ingest([r.row for r in group], group[0].source, max(r.now for r in group))
            reasons = {int(r["line"]): str(r["reason"]) for r in summary.rejections}
            if summary.inserted and self._on_accepted is not None:
                self._on_accepted([r.row["id"] for r in group])
        except BaseException as exc:  # every waiting request learns of it; the thread goes on
            log.exception("a batch of %d requests failed", len(group))
            for request in group:
                request.done.set_exception(exc)
            return
        for line, request in enumerate(group, start=1):
            reason = reasons.get(line)
            request.done.set_result(Outcome(reason is None, reason))


def _one_per_id(waiting: list[_Request]) -> tuple[list[_Request], list[_Request]]:
    """The requests of distinct ids (first come first), and the repeats, for the next batch."""
    seen: set[tuple[str, str]] = set()
    batch, later = [], []
    for request in waiting:
        key = (request.source, str(request.row.get("id")))
        (later if key in seen else batch).append(request)
        seen.add(key)
    return batch, later
