"""The ids a file has shown (geo.ingest.seen): the same answers as a dict, in bounded memory."""

from __future__ import annotations

import numpy as np

from geo.ingest import seen as seen_module
from geo.ingest.seen import SeenIds


def test_it_answers_as_a_dict_over_many_batches():
    rng = np.random.default_rng(3)
    reference: dict[str, int] = {}
    seen = SeenIds()
    line = 2
    for _ in range(40):
        ids = np.array([f"BJ{value:09d}" for value in rng.integers(0, 50_000, 1_000)], dtype=object)
        got = seen.lines_of(seen.keys(ids))
        assert got.tolist() == [reference.get(i, -1) for i in ids]
        fresh, first = np.unique(ids[got < 0], return_index=True)
        lines = line + first
        seen.add(seen.keys(fresh), lines)
        reference.update(zip(fresh.tolist(), lines.tolist(), strict=True))
        line += len(ids)
    assert len(seen) == len(reference)
    assert len(seen._runs) <= 1 + int(np.log2(len(reference)))  # runs are merged as they grow


def test_ids_whose_first_hash_collides_are_told_apart(monkeypatch):
    real = seen_module._hashes

    def colliding(ids):
        high, low = real(ids)
        return np.zeros_like(high), low  # every id shares the first hash

    monkeypatch.setattr(seen_module, "_hashes", colliding)
    seen = SeenIds()
    seen.add(seen.keys(np.array(["a", "b", "c"], dtype=object)), np.array([2, 3, 4]))
    seen.add(seen.keys(np.array(["d"], dtype=object)), np.array([9]))
    assert seen.lines_of(seen.keys(np.array(["c", "x", "a", "d", "b"], dtype=object))).tolist() == [4, -1, 2, 9, 3]


def test_nothing_seen_and_nothing_asked():
    seen = SeenIds()
    assert seen.lines_of(seen.keys(np.array(["a"], dtype=object))).tolist() == [-1]
    seen.add(seen.keys(np.array([], dtype=object)), np.array([], dtype=np.int64))
    assert seen.lines_of(seen.keys(np.array([], dtype=object))).tolist() == []
    assert len(seen) == 0
