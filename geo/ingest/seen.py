"""The ids a file has shown so far, with the line of each, in 24 bytes an id.

A duplicate id in a file is rejected with the line of its first row, so the loader remembers
every id it accepted. A dict of a year's 10 million ids held 1.5 GB of Python strings and
ints; here an id is two independent 64-bit hashes (pandas' SipHash under two keys: two ids
agree on both with a chance of 1 in 2^128) and its line, kept in sorted runs that are merged
as they grow, so that adding and looking up a batch are a few NumPy calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_KEYS = ("whistle-seen-id1", "whistle-seen-id2")  # 16 characters each, as hash_array wants
_NOT_SEEN = -1


@dataclass(frozen=True)
class Keys:
    """Ids as their two hashes (:meth:`SeenIds.keys`): hashed once, looked up and added."""

    high: np.ndarray
    low: np.ndarray

    def take(self, rows: np.ndarray) -> Keys:
        """The keys at ``rows`` (a boolean mask or positions)."""
        return Keys(self.high[rows], self.low[rows])

    def __len__(self) -> int:
        return len(self.high)


class SeenIds:
    """Ids with the line they were first seen on (:meth:`keys`, :meth:`add`, :meth:`lines_of`)."""

    def __init__(self) -> None:
        # Runs of (high hash, low hash, line), each sorted by the high hash; the last is the smallest.
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(high) for high, _, _ in self._runs)

    @staticmethod
    def keys(ids: np.ndarray) -> Keys:
        """Hash ids (no missing ones) for :meth:`lines_of` and :meth:`add`."""
        high, low = _hashes(ids)
        return Keys(high, low)

    def lines_of(self, keys: Keys) -> np.ndarray:
        """The line each id was first seen on, -1 for one not seen.

        Parameters
        ----------
        keys : Keys
            The ids, hashed (:meth:`keys`).

        Returns
        -------
        numpy.ndarray of int64
        """
        found = np.full(len(keys), _NOT_SEEN, dtype=np.int64)
        if not len(keys) or not self._runs:
            return found
        high, low = keys.high, keys.low
        for run_high, run_low, run_line in self._runs:
            at = np.searchsorted(run_high, high)
            # Ids that share the high hash lie side by side: step along them (almost never more than one).
            pending = np.flatnonzero(found == _NOT_SEEN)
            while pending.size:
                spot = at[pending]
                inside = spot < len(run_high)
                pending, spot = pending[inside], spot[inside]
                same_high = run_high[spot] == high[pending]
                pending, spot = pending[same_high], spot[same_high]
                hit = run_low[spot] == low[pending]
                found[pending[hit]] = run_line[spot[hit]]
                pending = pending[~hit]
                at[pending] += 1
        return found

    def add(self, keys: Keys, lines: np.ndarray) -> None:
        """Remember ids (hashed; not seen before, each once) with their lines."""
        if not len(keys):
            return
        self._runs.append(_sorted(keys.high, keys.low, np.asarray(lines, dtype=np.int64)))
        # Merge while a run is at least as large as the one before: log2(n) runs at most.
        while len(self._runs) > 1 and len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            last, before = self._runs.pop(), self._runs.pop()
            self._runs.append(_sorted(*(np.concatenate(pair) for pair in zip(before, last, strict=True))))


def _hashes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(ids, dtype=object)
    return (pd.util.hash_array(values, hash_key=_KEYS[0], categorize=False),
            pd.util.hash_array(values, hash_key=_KEYS[1], categorize=False))


def _sorted(high: np.ndarray, low: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # By the high hash alone: a lookup steps along equal ones and compares the low hash.
    order = np.argsort(high, kind="stable")
    return high[order], low[order], lines[order]
