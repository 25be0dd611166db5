"""Run a generator one step ahead in a thread, so that its work overlaps the consumer's.

The loader prepares a batch in Python (read, check, locate, encode) while PostgreSQL loads the
one before: on two cores the two halves run side by side. NumPy, Arrow, pandas' kernels and
the database driver's waits release the GIL, so the threads do not take turns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def run_ahead(items: Iterator[T], depth: int = 1, name: str = "whistle-ahead") -> Iterator[T]:
    """Yield the items of ``items``, computed in a thread up to ``depth`` items ahead.

    Parameters
    ----------
    items : iterator
        The producer; it runs in its own thread, so it must not share a database connection
        with the consumer.
    depth : int
        How many finished items may wait for the consumer (memory stays bounded by it).
    name : str
        The thread's name, as logs show it.

    Yields
    ------
    The items, in order. An exception in the producer is raised here, in the consumer, as
    it was; when the consumer stops early (an exception, or ``close()``), the producer stops
    at its next item.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(handoff, item, stop):
                    return
            _put(handoff, _DONE, stop)
        except BaseException as exc:
            _put(handoff, _Failed(exc), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()


def _put(handoff: queue.Queue, item, stop: threading.Event) -> bool:
    # A consumer that stopped takes nothing more: look up now and then instead of blocking.
    while not stop.is_set():
        try:
            handoff.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
