"""Ingest hotline exports: read, check, locate and load, with every row accounted for.

``ingest_file`` is the one entry point: a file goes in whole or not at all (one transaction),
and every row ends in ``complaint`` (inserted, updated or unchanged) or in ``rejected_row``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from geo.act.categories import UNCLASSIFIED
from geo.errors import ValidationError
from geo.ingest.ahead import run_ahead
from geo.ingest.limits import UploadLimits
from geo.ingest.load_db import (
    CATEGORY_CODES,
    CLASHES,
    SETTLE_REJECTED,
    STAGE_MADE,
    Encoded,
    accepted_ids,
    create_stage,
    empty_stage,
    encode,
    insert_new,
    note_accepted,
    stage,
    stage_emptied,
    store_rejected,
    upsert,
)
from geo.ingest.mapping import Mapping, load_mapping
from geo.ingest.privacy import phone_key
from geo.ingest.readers import Batch, batch_from_rows, read_batches
from geo.ingest.summary import KEPT_REASONS, IngestSummary
from geo.ingest.validate import (
    Context,
    check_batch,
    raw_for_storage,
    row_hashes,
    unclassified_count,
    unmapped_categories,
)
from geo.locate.boundaries import BoundaryIndex
from geo.locate.boundaries_db import boundary_index
from geo.locate.cells import DEFAULT_RESOLUTION
from geo.settings import load_settings
from geo.store.engine import Bind, statement, transaction
from geo.store.tally import move_complaints
from geo.strings import holds

__all__ = ["IngestSummary", "Mapping", "ingest_file", "ingest_rows", "load_mapping", "reject_rows"]


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_file(bind: Bind, path: Path | str, mapping: Mapping | None = None, *, encoding: str = "utf-8",
                now: pd.Timestamp | None = None, boundaries: BoundaryIndex | None = None,
                progress: Callable[[int, int], None] | None = None,
                resolution: int = DEFAULT_RESOLUTION, limits: UploadLimits | None = None) -> IngestSummary:
    """Ingest one CSV, Parquet or JSON Lines export.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    path : path-like
        The file.
    mapping : Mapping, optional
        Which column holds which field; the field names themselves when omitted.
    encoding : str
        Text encoding of a CSV or JSON Lines file.
    now : pandas.Timestamp, optional
        The clock, for the "in the future" check; the current time when omitted.
    boundaries : BoundaryIndex, optional
        The boundary sets; read from the database when omitted.
    progress : callable, optional
        Called as ``progress(bytes_read, file_size)`` after each batch.
    resolution : int
        The base H3 resolution.
    limits : UploadLimits, optional
        Bounds on the file (an upload's, :mod:`geo.ingest.limits`); none when omitted.

    Returns
    -------
    IngestSummary

    Raises
    ------
    ValidationError
        For a file that cannot be read as a whole (missing, empty, binary, badly encoded,
        ragged, without an id column); nothing is stored then.
    """
    path = Path(path)
    mapping = mapping or Mapping()
    sha256 = file_sha256(path) if path.is_file() else ""
    size = path.stat().st_size if path.is_file() else 0
    tell = None if progress is None else (lambda read: progress(read, size))
    return _ingest(bind, lambda: read_batches(path, mapping, encoding=encoding, limits=limits), path.name,
                   sha256, mapping, now=now, boundaries=boundaries, progress=tell, resolution=resolution)


def ingest_rows(bind: Bind, rows: list[dict], *, source: str, now: pd.Timestamp | None = None,
                boundaries: BoundaryIndex | None = None, resolution: int = DEFAULT_RESOLUTION,
                timezone: str | None = None) -> IngestSummary:
    """Ingest complaints given as ``{field: value}`` dicts: an API request's, a replay's.

    The rows take the same path as a file's (checks, coordinate conversion, locate, phone
    masking, the rejected table, the tallies); row ``i`` is line ``i + 1`` of its source.

    Parameters
    ----------
    bind : Engine or Connection
    rows : list of dict
        Field names (:data:`geo.ingest.mapping.FIELDS`) to values; a value that is not text
        is written as text first (JSON for lists and dicts).
    source : str
        Where the rows came from (e.g. ``api:wechat-mini``), as the rejected table names it.
    now, boundaries, resolution
        As for :func:`ingest_file`.
    timezone : str, optional
        The zone of times written without one; the mapping's default when omitted.

    Returns
    -------
    IngestSummary
    """
    if not rows:
        raise ValidationError("no rows to ingest")
    mapping = Mapping() if timezone is None else Mapping(timezone=timezone)
    return _ingest(bind, lambda: iter([batch_from_rows(rows)]), source, _digest(rows), mapping, now=now,
                   boundaries=boundaries, resolution=resolution, one_batch=True)


def reject_rows(bind: Bind, rows: list[dict], *, source: str, reason_code: str, reason: str) -> int:
    """Store rows refused before the checks (an API request that the spec itself refuses) as
    rejected rows of a run of their own, with the raw row masked as a file's; returns the run.

    The same refused rows sent twice are stored once (their digest stands for a file's)."""
    sha256 = _digest(rows)
    raw = raw_for_storage([{k: None if v is None else str(v) for k, v in row.items()} for row in rows], Mapping())
    rejected = pd.DataFrame({"line": np.arange(1, len(rows) + 1),
                             "source_id": [row.get("id") for row in rows],
                             "reason_code": reason_code, "reason": reason})
    with transaction(bind) as conn:
        run_id = conn.execute(sa.text(
            "INSERT INTO ingest_run (source, sha256, finished_at, rows, rejected) "
            "VALUES (:source, :sha, now(), :n, :n) RETURNING id"),
            {"source": source, "sha": sha256, "n": len(rows)}).scalar_one()
        store_rejected(conn, run_id, source, sha256, rejected, raw)
    return int(run_id)


def _digest(rows: list[dict]) -> str:
    # The digest of the rows stands for a file's: the same rejected request sent twice is
    # stored once.
    body = json.dumps(rows, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def _ingest(bind: Bind, batches: Callable[[], Iterator[Batch]], source: str, sha256: str, mapping: Mapping, *,
            now, boundaries: BoundaryIndex | None, resolution: int,
            progress: Callable[[int], None] | None = None, one_batch: bool = False) -> IngestSummary:
    settings = load_settings()
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    # A transaction of the load's own starts with empty staging tables; and a request's rows
    # (one batch, soon checked again) go into ``complaint`` without a savepoint: a concurrent
    # load of the same id makes the whole load run again, its lookup then finding the id.
    fresh = isinstance(bind, sa.Engine) or not bind.in_transaction()
    load = lambda guarded: _ingest_once(  # noqa: E731
        bind, batches, source, sha256, mapping, settings=settings, now=now, boundaries=boundaries,
        resolution=resolution, progress=progress, one_batch=one_batch, fresh=fresh, guarded=guarded)
    if not (one_batch and fresh):
        return load(True)
    try:
        return load(False)
    except CLASHES:
        return load(True)


def _ingest_once(bind: Bind, batches: Callable[[], Iterator[Batch]], source: str, sha256: str, mapping: Mapping,
                 *, settings, now, boundaries: BoundaryIndex | None, resolution: int,
                 progress: Callable[[int], None] | None, one_batch: bool, fresh: bool,
                 guarded: bool) -> IngestSummary:
    with transaction(bind) as conn:
        if boundaries is None:
            boundaries = boundary_index(conn, resolution, settings.home / "var" / "cache")
        # The category codes, and whether the staging tables are made, come back with the
        # run: two round trips less for a request.
        run_id, codes, made = conn.execute(statement(
            f"INSERT INTO ingest_run (source, sha256) VALUES (:source, :sha) RETURNING id, {CATEGORY_CODES}, "
            f"{STAGE_MADE}"), {"source": source, "sha": sha256}).one()
        categories = frozenset(codes)
        summary = IngestSummary(run_id, source)
        context = Context(now, boundaries, phone_key(settings), mapping, settings.earliest_year)
        create_stage(conn, made=made, fresh=fresh)
        read = batches()
        if one_batch:
            # A request's rows: nothing to overlap, so no thread, and the lookup on this
            # connection (each round trip counts when the database is busy).
            for ready in _prepare(read, conn, context, summary, run_id, categories):
                _load(conn, ready, summary, sha256, guarded)
        else:
            # The next batch is read, checked, located and encoded in a thread while this one
            # loads; the lookup of stored rows has a connection of its own.
            stored_any = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM complaint)")).scalar()
            with _lookup(conn, stored_any) as lookup:
                prepared = _prepare(read, lookup, context, summary, run_id, categories)
                for ready in run_ahead(prepared, name="whistle-ingest"):
                    _load(conn, ready, summary, sha256, guarded)
                    if progress is not None:
                        progress(ready.read_bytes)
        _update_tallies(conn, summary.updated > 0)
        summary.unchanged = summary.rows - summary.rejected - summary.inserted - summary.updated
        # The rejections the load answers are settled by the statement that closes the run,
        # which also empties the staging tables (read by it before they are emptied).
        emptied = stage_emptied(conn, summary.rows)
        conn.execute(statement(
            f"WITH settled AS ({SETTLE_REJECTED}){emptied} "
            "UPDATE ingest_run SET finished_at = now(), rows = :rows, inserted = :inserted, updated = :updated, "
            "unchanged = :unchanged, rejected = :rejected, summary = CAST(:summary AS jsonb) WHERE id = :id"),
            {**summary.as_dict(), "summary": json.dumps(summary.as_dict()), "id": run_id, "run": run_id,
             "sha": sha256})
        if not emptied:
            empty_stage(conn, truncate=True)
    return summary


@dataclass
class _Ready:
    """A batch checked and encoded, waiting for the database."""

    new: Encoded
    """The accepted rows whose id was not stored when the batch was looked up."""
    known: Encoded
    """The accepted rows whose id was stored: they go through the upsert."""
    accepted: bytes
    """The ids of every accepted row, passed by as unchanged included (:func:`accepted_ids`)."""
    rejected: pd.DataFrame
    raw: list[dict]
    read_bytes: int


def _load(conn, ready: _Ready, summary: IngestSummary, sha256: str, guarded: bool) -> None:
    """The database's half: new rows by COPY, known ones (or all, after a clash) by the upsert."""
    staged = ready.known.count
    if insert_new(conn, ready.new, guarded=guarded):
        summary.inserted += ready.new.count
    else:
        stage(conn, ready.new)
        staged += ready.new.count
    if staged:
        stage(conn, ready.known)
        inserted, updated = upsert(conn, summary.run_id, sha256)
        summary.inserted += inserted
        summary.updated += updated
    note_accepted(conn, ready.accepted)
    store_rejected(conn, summary.run_id, summary.source, sha256, ready.rejected, ready.raw)
    room = KEPT_REASONS - len(summary.rejections)
    if room > 0 and len(ready.rejected):
        summary.rejections.extend(ready.rejected[["line", "source_id", "reason_code", "reason"]]
                                  .head(room).to_dict("records"))


def _prepare(batches: Iterator[Batch], lookup, context: Context, summary: IngestSummary, run_id: int,
             categories: frozenset[str]) -> Iterator[_Ready]:
    """Everything a batch needs before the database takes it, in Python (the producer's half)."""
    for whole in batches:
        batch, stored, passed = (_pass_unchanged(lookup, whole, context, summary) if lookup is not None
                                 else (whole, _NONE, _NO_IDS))
        if not batch.size:
            yield _Ready(Encoded.empty(), Encoded.empty(), accepted_ids(passed), _NO_REJECTS, [], batch.read_bytes)
            continue
        checked = check_batch(batch, context)
        _count(summary, batch.size, checked)
        accepted = checked.rows
        # Through the index's hash table (Series.isin on Arrow strings loops over ``stored``
        # in Python: 0.6 s a batch).
        ids = np.asarray(accepted["source_id"], dtype=object)
        # (An empty index still costs its hash table: 1 ms of a request's new complaint.)
        known = stored.get_indexer(ids) >= 0 if len(stored) else np.zeros(len(ids), dtype=bool)
        yield _Ready(encode(accepted.take(~known), run_id, categories),
                     encode(accepted.take(known), run_id, categories, new=False) if known.any() else Encoded.empty(),
                     accepted_ids(np.concatenate([passed, ids])), checked.rejected,
                     _raw_rows(batch, checked.rejected["position"].to_numpy(), context.mapping), batch.read_bytes)


_NONE = pd.Index([], dtype=object, name="id")
_NO_IDS = np.array([], dtype=object)
_NO_REJECTS = pd.DataFrame({"position": [], "line": [], "source_id": [], "reason_code": [], "reason": []})


@contextmanager
def _lookup(conn: sa.Connection, stored_any: bool) -> Iterator[sa.Connection | None]:
    # The producer's own connection: one connection cannot serve two threads. It sees what is
    # committed, not this load's earlier batches, and need not: a repeated id within the file
    # is found by the checks (Context.seen), not by the lookup.
    if not stored_any:
        yield None
        return
    with conn.engine.connect() as lookup:
        yield lookup


def _update_tallies(conn, updated: bool) -> None:
    # New complaints are added; an updated one moves its counts from what it was to what it is
    # (and may have been re-filed under another category).
    move_complaints(conn, "complaint_loaded", "complaint_before", refiled=updated)


def _pass_unchanged(conn, batch: Batch, context: Context,
                    summary: IngestSummary) -> tuple[Batch, pd.Index, np.ndarray]:
    """The batch without the rows stored before from exactly the same source row, the ids of
    the batch that are stored, and the ids of the rows passed by.

    Such a row would be checked, located and loaded only to change nothing: it is counted
    (as unchanged, with its stored precision and flags) and passed by. Only the first row of
    an id in the file can be passed by, so that a later duplicate is still named.
    """
    if "id" not in batch.columns or not batch.size:
        return batch, _NONE, _NO_IDS
    ids = batch.columns["id"]
    given = ids.notna().to_numpy(dtype=bool)
    values = ids.to_numpy(dtype=object, na_value=None)
    # The ids go as one text, split in SQL, and come back as one text per column: a parameter
    # or a result row per complaint cost more in Python than the query. An id holding the
    # separator or a NUL (rejected later) is not looked up, so not passed by.
    sent = given & ~holds(ids, "\x00") & ~holds(ids, "\x1f")
    found = conn.execute(statement(
        "SELECT string_agg(source_id, :separator), string_agg(coalesce(row_hash::text, ''), ','), "
        "string_agg(precision, ','), string_agg((category = :unclassified)::int::text, ''), "
        "string_agg(on_boundary::int::text, '') "
        "FROM complaint WHERE source_id = ANY(string_to_array(:ids, :separator))"),
        {"ids": "\x1f".join(values[sent]), "separator": "\x1f", "unclassified": UNCLASSIFIED}).one()
    if found[0] is None:
        return batch, _NONE, _NO_IDS
    stored = _stored_rows(*found)
    hashes = row_hashes(batch.columns, context.mapping, batch.size)
    batch = replace(batch, row_hash=hashes)  # the rows that go on keep theirs: hashed once
    where = stored.index.get_indexer(values)
    same = ((where >= 0) & stored["hashed"].to_numpy()[where]
            & (stored["row_hash"].to_numpy()[where] == hashes))
    keys = context.seen.keys(values[given])
    first = ~ids.duplicated(keep="first").to_numpy()
    first[given] &= context.seen.lines_of(keys) < 0
    passed = same & first & given
    if not passed.any():
        return batch, stored.index, _NO_IDS
    context.seen.add(keys.take(passed[given]), batch.line[passed])
    as_stored = stored.loc[ids[passed]]
    summary.rows += int(passed.sum())
    summary.precision.update(as_stored["precision"].value_counts().to_dict())
    summary.unclassified += int(as_stored["unclassified"].sum())
    summary.on_boundary += int(as_stored["on_boundary"].sum())
    return batch.subset(~passed), stored.index, values[passed]


def _stored_rows(ids: str, hashes: str, precisions: str, unclassified: str, on_boundary: str) -> pd.DataFrame:
    """The rows of :func:`_pass_unchanged`'s lookup, from its one text per column."""
    # A row stored without a hash has none (``hashed`` false); 64-bit hashes never pass
    # through floats, which would round them.
    hashed = pa.array(hashes.split(","), type=pa.string())
    flags = lambda text: np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")  # noqa: E731
    return pd.DataFrame({
        "row_hash": pc.if_else(pc.equal(hashed, ""), "0", hashed).cast(pa.int64()).to_numpy(),
        "hashed": pc.not_equal(hashed, "").to_numpy(zero_copy_only=False),
        "precision": precisions.split(","), "unclassified": flags(unclassified),
        "on_boundary": flags(on_boundary)}, index=pd.Index(ids.split("\x1f"), name="id"))


def _raw_rows(batch, positions, mapping: Mapping) -> list[dict]:
    # The raw row is kept for the person who fixes it, but no caller's number in full.
    return raw_for_storage(batch.raw(positions) if len(positions) else [], mapping)


def _count(summary: IngestSummary, rows_read: int, checked) -> None:
    summary.rows += rows_read
    summary.rejected += len(checked.rejected)
    summary.rejected_by_reason.update(checked.rejected["reason_code"].tolist())
    rows = checked.rows
    summary.unclassified += unclassified_count(rows)
    summary.unmapped.update(unmapped_categories(rows))
    summary.precision.update(Counter(p for p in np.asarray(rows["precision"], dtype=object).tolist() if p is not None))
    summary.on_boundary += int(np.asarray(rows["on_boundary"], dtype=bool).sum())

