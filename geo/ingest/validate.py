"""Check a batch of rows, locate the good ones, and give every bad one a reason.

Every row ends in exactly one of two frames: ``accepted`` (ready to load) or ``rejected``
(with a reason code and a sentence a person can act on). The checks are vectorised over the
batch; the first failing check of a row gives its reason.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import shapely

from geo.act.categories import UNCLASSIFIED, classify
from geo.ingest.mapping import Mapping
from geo.ingest.privacy import (
    mask_and_hash_phones,
    mask_phone_text,
    mask_phone_texts,
    mask_phone_values,
    mask_phones,
)
from geo.ingest.readers import UNREADABLE, Batch
from geo.ingest.rules import IngestRules
from geo.ingest.seen import SeenIds
from geo.ingest.timeparse import parse_moments
from geo.locate.boundaries import BoundaryIndex
from geo.locate.coords import coordinate_system, coordinate_systems, to_wgs84
from geo.locate.gazetteer import gazetteer, geocode
from geo.settings import DEFAULT_EARLIEST_YEAR, load_settings
from geo.show.downloads import unquote_cells
from geo.strings import arrow_text, holds, joined, look_up, missing, numbers, pandas_text

CHANNELS = {
    "phone": "phone", "电话": "phone", "12345": "phone", "hotline": "phone",
    "web": "web", "网站": "web", "网络": "web", "internet": "web",
    "wechat": "wechat", "微信": "wechat", "微信小程序": "wechat", "mini-program": "wechat",
    "weibo": "weibo", "微博": "weibo",
    "app": "app", "客户端": "app",
}
"""The national names of the channels (a city adds its own in its profile, :func:`channels`)."""


def channels() -> dict[str, str]:
    """The channel names a file may write: the national ones and the city's own (its profile's);
    the same dict while the profile's channels stay the same (not to be changed)."""
    return _channels(tuple(load_settings().city.channels.items()))


@lru_cache(maxsize=8)
def _channels(own: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {**CHANNELS, **dict(own)}


SATISFACTION = {
    "satisfied": "satisfied", "满意": "satisfied", "非常满意": "satisfied",
    "basically satisfied": "basically_satisfied", "basically_satisfied": "basically_satisfied",
    "基本满意": "basically_satisfied",
    "unsatisfied": "unsatisfied", "dissatisfied": "unsatisfied", "不满意": "unsatisfied",
}
YES_NO = {"yes": True, "y": True, "true": True, "1": True, "是": True, "已解决": True,
          "no": False, "n": False, "false": False, "0": False, "否": False, "未解决": False}
ACTIONS = ("dispatched", "returned", "redispatched")
# A clock a few minutes fast at the source should not reject its newest rows.
FUTURE_SLACK = pd.Timedelta(minutes=10)
_DISPATCH_SCHEMA = pa.schema([("d", pa.list_(pa.struct([("at", pa.string()), ("unit", pa.string()),
                                                         ("action", pa.string())])))])


@dataclass
class Context:
    """What the checks need beyond the batch: the clock, the boundaries, the key, the ids seen."""

    now: pd.Timestamp
    boundaries: BoundaryIndex
    phone_key: bytes
    mapping: Mapping
    earliest_year: int = DEFAULT_EARLIEST_YEAR
    seen: SeenIds = field(default_factory=SeenIds)
    rules: IngestRules = field(default_factory=IngestRules.load)


class Rows(dict):
    """Rows as columns: each field's NumPy or pandas array, all ``size`` long.

    The accepted rows go to the loader so, not as a frame: making a frame of three dozen
    columns and reading each back cost a request's one row 2 ms.
    """

    def __init__(self, columns: dict, size: int) -> None:
        super().__init__(columns)
        self.size = size

    def take(self, keep: np.ndarray) -> Rows:
        """The rows where ``keep`` is true."""
        if keep.all():
            return self
        return Rows({name: values[keep] for name, values in self.items()}, int(keep.sum()))

    def frame(self) -> pd.DataFrame:
        """The rows as a frame (on a range index)."""
        return pd.DataFrame(dict(self), index=pd.RangeIndex(self.size), copy=False)


@dataclass
class Checked:
    """The outcome of a batch."""

    rows: Rows
    """The accepted rows."""
    rejected: pd.DataFrame

    @cached_property
    def accepted(self) -> pd.DataFrame:
        """The accepted rows as a frame (the columns of the staging table)."""
        return self.rows.frame()


class _Reasons:
    """The first reason per row; later checks never overwrite an earlier one."""

    def __init__(self, size: int) -> None:
        self.code = np.full(size, None, dtype=object)
        self.text = np.full(size, None, dtype=object)

    @property
    def ok(self) -> np.ndarray:
        return pd.isna(self.code)

    def add(self, mask, code: str, message) -> None:
        mask = np.asarray(mask, dtype=bool) & self.ok
        if not mask.any():
            return
        self.code[mask] = code
        if callable(message):
            self.text[mask] = [message(i) for i in np.flatnonzero(mask)]
        else:
            self.text[mask] = message


class _Columns(dict):
    """The accepted rows' columns as the checks make them, made a frame once at the end.

    Adding columns one by one to a frame copied its (Arrow) column index each time: a third
    of a one-row check. A column is read back as a Series on the batch's index.
    """

    def __init__(self, index: pd.Index) -> None:
        super().__init__()
        self.index = index

    def __getitem__(self, name: str) -> pd.Series:
        value = super().__getitem__(name)
        return value if isinstance(value, pd.Series) else pd.Series(value, index=self.index)

    def rows(self, keep: np.ndarray) -> Rows:
        """The columns as arrays, of the rows where ``keep`` is true."""
        size = len(self.index)
        return Rows({name: _array(value, size) for name, value in self.items()}, size).take(keep)


def _array(values, size: int) -> np.ndarray | pd.api.extensions.ExtensionArray:
    # A column's values without its index: pandas' own array where it has one (text in Arrow,
    # integers with missing values, moments with a zone), NumPy's otherwise; one value stands
    # for every row.
    if np.ndim(values) == 0:
        return np.full(size, values)
    values = values.array if isinstance(values, pd.Series) else values
    return values.to_numpy() if isinstance(values, pd.arrays.NumpyExtensionArray) else values


NO_REJECTS = pd.DataFrame({"position": np.array([], dtype=np.int64), "line": np.array([], dtype=np.int64),
                           "source_id": np.array([], dtype=object), "reason_code": np.array([], dtype=object),
                           "reason": np.array([], dtype=object)})
"""The rejected rows of a batch with none (shared, never changed: a frame cost a request 0.2 ms)."""


def check_batch(batch: Batch, context: Context) -> Checked:
    """Validate, convert and locate the rows of a batch.

    Parameters
    ----------
    batch : Batch
        Rows from :func:`~geo.ingest.readers.read_batches`.
    context : Context
        The clock, the boundaries, the phone key and the ids already accepted from the file.

    Returns
    -------
    Checked
        The accepted rows (the columns of the staging table) and the rejected ones.
    """
    columns = batch.columns
    size = batch.size
    index = pd.RangeIndex(size)
    reasons = _Reasons(size)
    # A field no row of the batch gives (most of an API request's fields) is missing in every
    # row: its checks are skipped, since pandas' fixed cost per call is most of a small batch's
    # check. ``fields`` holds the others.
    absent = pandas_text(pa.nulls(size, pa.large_string()), index)
    given = columns.keys() if batch.given is None else batch.given
    fields = {name: column for name, column in columns.items() if name in given}
    get = lambda name: fields.get(name, absent)  # noqa: E731
    out = _Columns(index)
    out["line"] = batch.line
    if UNREADABLE in fields:
        # A line the reader could not make a row of (JSON Lines): its reason is ready.
        unreadable = columns[UNREADABLE]
        reasons.add(~missing(unreadable), "bad_line", lambda i: str(unreadable.iat[i]))
    raw_ids = get("id")
    reasons.add(missing(raw_ids), "missing_id", "id is missing: every complaint needs the id "
                "it has in the source system")
    reasons.add(holds(raw_ids, "\x00"), "bad_id",
                lambda i: f"id {_show(raw_ids.iat[i])} holds a NUL byte; an id is text the source system shows")
    ids = _clean_text(raw_ids)
    out["source_id"] = ids
    raw_received = get("received_at")
    formats = context.mapping.formats
    received = parse_moments(raw_received, context.mapping.timezone, formats.get("received_at"))
    year = _written_year(raw_received)
    reasons.add(year < context.earliest_year, "implausible_time", lambda i: (
        f"received_at {_show(raw_received.iat[i])} is before {context.earliest_year}, when no hotline took "
        "complaints (WHISTLE_EARLIEST_YEAR sets the year)"))
    reasons.add(year > context.now.year + 1, "future_time", lambda i: (
        f"received_at {_show(raw_received.iat[i])} is in the future"))
    reasons.add(missing(received), "bad_time", lambda i: (
        "received_at is missing" if pd.isna(raw_received.iat[i]) else
        f"received_at {_show(raw_received.iat[i])} is not a date and time (e.g. 2026-11-01 08:30:00)"))
    future = (received > context.now + FUTURE_SLACK).to_numpy()
    reasons.add(future, "future_time", lambda i: (
        f"received_at {_show(raw_received.iat[i])} is in the future (now is "
        f"{context.now.tz_convert(context.mapping.timezone):%Y-%m-%d %H:%M} in {context.mapping.timezone})"))
    out["received_at"] = received
    for name in ("responded_at", "resolved_at"):
        if name not in fields:
            out[name] = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
            continue
        raw = fields[name]
        moments = parse_moments(raw, context.mapping.timezone, formats.get(name))
        reasons.add(missing(moments) & ~missing(raw), "bad_field",
                    lambda i, raw=raw, name=name: f"{name} {_show(raw.iat[i])} is not a date and time")
        out[name] = moments
    # The file's own values (its mapping's value maps) first, then the accepted spellings.
    mapped = context.mapping.values
    for name, table, default, strict in (
            ("channel", channels, "other", False), ("satisfaction", SATISFACTION, None, True),
            ("resolved", YES_NO, None, True)):
        if name in fields:
            base, own = table() if callable(table) else table, mapped.get(name)
            _choices(out, reasons, fields[name], name, {**base, **own} if own else base, default=default,
                     strict=strict)
        else:
            out[name] = np.full(size, default, dtype=object)
    out["category"] = classify(get("category"), mapped.get("category"))
    for name, source in (("category_raw", "category"), ("text", "text"), ("address", "address")):
        # A caller who writes a number into the text is masked like the phone column.
        out[name] = mask_phone_texts(_clean_text(fields[source])) if source in fields else absent.copy()
    _dispatches(out, reasons, get("dispatches"), context)
    if "phone" in fields:
        out["phone_masked"], out["phone_hash"] = mask_and_hash_phones(fields["phone"], context.phone_key)
    else:
        out["phone_masked"] = out["phone_hash"] = np.full(size, None, dtype=object)
    _place(out, reasons, fields, get, context)
    _duplicates(out, reasons, context)
    out["row_hash"] = batch.row_hash if batch.row_hash is not None else row_hashes(columns, context.mapping, size)
    ok = reasons.ok
    if ok.all():
        return Checked(out.rows(ok), NO_REJECTS)
    rejected = pd.DataFrame({"position": np.flatnonzero(~ok), "line": out["line"].to_numpy()[~ok],
                             "source_id": ids.to_numpy(dtype=object, na_value=None)[~ok],
                             "reason_code": reasons.code[~ok],
                             # A reason quotes the bad value, which may be a number put in the wrong column.
                             "reason": [mask_phone_text(t) for t in reasons.text[~ok]]})
    return Checked(out.rows(ok), rejected)


# Fields whose values keep their digits in a rejected raw row: the person who fixes the row
# needs them as they came, and they are never a caller's number.
_STRUCTURED = ("id", "received_at", "responded_at", "resolved_at", "lon", "lat", "accuracy")


def row_hashes(frame: pd.DataFrame | dict[str, pd.Series], mapping: Mapping, size: int | None = None) -> np.ndarray:
    """A 64-bit hash of each row's fields as read, and of how the mapping reads them.

    Parameters
    ----------
    frame : pandas.DataFrame or dict of str to pandas.Series
        A batch's fields (:attr:`geo.ingest.readers.Batch.columns`).
    mapping : Mapping
        Its default coordinate system, time zone, formats and value maps change what a row
        means, so they are hashed too.
    size : int, optional
        How many rows (needed for a dict of columns; a frame's length when omitted).

    Returns
    -------
    numpy.ndarray of int64
        Equal for equal rows in any file and any process (pandas' fixed-key SipHash).
    """
    fields = sorted(c for c in frame if c != UNREADABLE)
    how = f"{mapping.crs}|{mapping.timezone}"
    if mapping.formats or mapping.values:
        # Only when given, so that the hashes of rows read without them stay what they were.
        how += "|" + json.dumps([mapping.formats, mapping.values], sort_keys=True, ensure_ascii=False)
    return _hash_rows([arrow_text(frame[name], pa.large_string()) for name in fields], how,
                       len(frame) if size is None else size)


_NULL_HASH = np.uint64(np.iinfo(np.uint64).max)


def _hash_rows(columns: list[pa.Array], reading: str, size: int) -> np.ndarray:
    """``pandas.util.hash_pandas_object(frame.assign(__reading__=reading), index=False)`` of
    a frame of these text columns, bit for bit (the stored hashes were made so), in one pass:
    every column's distinct values hashed together, where pandas makes a call per column (a
    request's dozen columns cost 3 ms that way, a file's as much as before)."""
    hashes = np.empty((len(columns) + 1, size), dtype=np.uint64)
    if columns and size:
        encoded = pc.dictionary_encode(pa.chunked_array(columns, type=pa.large_string())).combine_chunks()
        distinct = pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False), categorize=False)
        codes = encoded.indices
        flat = distinct.take(codes.fill_null(0).to_numpy()) if len(distinct) else np.zeros(len(codes), np.uint64)
        flat[codes.is_null().to_numpy(zero_copy_only=False)] = _NULL_HASH
        hashes[:-1] = flat.reshape(len(columns), size)
    hashes[-1] = pd.util.hash_array(np.array([reading], dtype=object), categorize=False)[0]
    # pandas' combine_hash_arrays (CPython's tuple hash), over the columns in order.
    combined = np.full(size, 0x345678, dtype=np.uint64)
    factor, count = np.uint64(1000003), len(hashes)
    for i, column in enumerate(hashes):
        combined ^= column
        combined *= factor
        factor += np.uint64(82520 + 2 * (count - i))
    combined += np.uint64(97531)
    return combined.view(np.int64)


def raw_for_storage(rows: list[dict], mapping: Mapping) -> list[dict]:
    """Make rejected raw rows safe to keep: phones masked in every column, NUL replaced.

    Parameters
    ----------
    rows : list of dict
        Raw rows as read (:meth:`~geo.ingest.readers.Batch.raw`).
    mapping : Mapping
        Names the phone column (masked as a phone) and the structured columns (kept).

    Returns
    -------
    list of dict
        The rows, with every phone-like value in any other column masked
        (:func:`~geo.ingest.privacy.mask_phone_text`) and NUL, which PostgreSQL cannot store,
        as U+FFFD.
    """
    phone = mapping.column("phone")
    keep = {mapping.column(name) for name in _STRUCTURED}
    # The phone column of every row masked in one vectorised call.
    phones = mask_phones(pd.Series([None if row.get(phone) is None else str(row[phone]) for row in rows],
                                   dtype=object)) if rows else pd.Series(dtype=object)
    return [{key: _safe(value, key in keep) if key != phone else masked for key, value in row.items()}
            for row, masked in zip(rows, phones, strict=True)]


def _safe(value, keep_digits: bool):
    value = _without_nul(value)
    return value if keep_digits else mask_phone_values(value)


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {str(key).replace("\x00", "\ufffd"): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _written_year(values: pd.Series) -> np.ndarray:
    """The year a moment's text starts with (``2026-`` or ``2026/``), NaN where there is none."""
    text = pc.utf8_ltrim_whitespace(arrow_text(values))
    dated = pc.fill_null(pc.match_substring_regex(text, r"^\d{4}[-/]"), False)
    digits = pc.utf8_slice_codeunits(pc.if_else(dated, text, "0000"), 0, 4)
    return pc.if_else(dated, pc.cast(digits, pa.float64()), None).to_numpy(zero_copy_only=False)


def _show(value, limit: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _clean_text(values: pd.Series) -> pd.Series:
    # PostgreSQL text cannot hold NUL; every other character, however hostile, is kept as is
    # and escaped where it is shown. The quote an export put before formula-like text (a
    # fixed rejected row sent back) comes off.
    return unquote_cells(pandas_text(pc.replace_substring(arrow_text(values), "\x00", "\ufffd"), values.index))


def _choices(out: _Columns, reasons: _Reasons, raw: pd.Series, name: str, table: dict,
             *, default, strict: bool) -> None:
    mapped, given = look_up(raw, table)
    if strict:
        allowed = ", ".join(sorted({str(v) for v in table.values()}))
        reasons.add(given & pd.isna(mapped), "bad_field",
                    lambda i: f"{name} {_show(raw.iat[i])} is not one of {allowed}")
    if default is not None:
        mapped[pd.isna(mapped)] = default
    out[name] = mapped


def _dispatches(out: _Columns, reasons: _Reasons, raw: pd.Series, context: Context) -> None:
    size = len(raw)
    out["dispatched_at"] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    out["returned_count"] = 0
    given = np.flatnonzero(~missing(raw))
    if not given.size:
        out["dispatches"] = raw.copy()
        return
    # JSONB cannot hold NUL either, written as a byte or as JSON's \u0000.
    raw = _clean_text(raw).str.replace("\\u0000", "\\ufffd", regex=False)
    out["dispatches"] = raw
    texts = raw.iloc[given]
    parsed, bad = _parse_dispatch_lists(texts)
    problems = np.full(size, None, dtype=object)
    problems[given[bad]] = "is not a JSON list of {at, unit, action} objects"
    good = given[~bad]
    if parsed is not None and good.size:
        lists = parsed.column("d").combine_chunks()
        flat = pc.list_flatten(lists)
        owner = good[np.asarray(pc.list_parent_indices(lists))]
        at = parse_moments(pd.Series(flat.field("at").to_pandas(), dtype="string"), context.mapping.timezone)
        action = pd.Series(flat.field("action").to_pandas(), dtype="string").str.strip().str.lower()
        unit = pd.Series(flat.field("unit").to_pandas(), dtype="string")
        wrong = missing(at) | ~action.isin(ACTIONS).to_numpy() | missing(unit)
        problems[owner[wrong]] = (f"has a hand-off without a valid at, unit or action "
                                  f"(actions are {', '.join(ACTIONS)})")
        # Hand-offs come grouped by row (Arrow keeps list order): reduce each group at once.
        if owner.size:
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            rows = owner[starts]
            moments = at.array.asi8
            moments = np.where(missing(at), np.iinfo(np.int64).max, moments)
            first = np.minimum.reduceat(moments, starts)
            out_first = out["dispatched_at"].array.asi8.copy()
            out_first[rows] = first
            out["dispatched_at"] = pd.to_datetime(np.where(out_first == np.iinfo(np.int64).max,
                                                           np.iinfo(np.int64).min, out_first), utc=True)
            counts = np.zeros(size, dtype=np.int64)
            counts[rows] = np.add.reduceat((action == "returned").to_numpy(dtype=bool, na_value=False), starts)
            out["returned_count"] = counts
    has_problem = pd.notna(problems)
    reasons.add(has_problem, "bad_field", lambda i: f"dispatches {_show(raw.iat[i])} {problems[i]}")


def _parse_dispatch_lists(texts: pd.Series) -> tuple[pa.Table | None, np.ndarray]:
    """Parse JSON lists in one pass through Arrow's JSON reader; find bad ones only on failure."""
    bad = np.zeros(len(texts), dtype=bool)
    # Each list becomes one line of JSON Lines (a raw newline in a value would end it early).
    lines = joined(
        '{"d":', pc.replace_substring(arrow_text(texts), "\n", " "),
        "}\n", "")
    try:
        return _read_lists(lines), bad
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    for i, text in enumerate(texts):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            bad[i] = True
            continue
        bad[i] = not (isinstance(value, list) and all(
            isinstance(v, dict) and all(isinstance(v.get(k), str) for k in ("at", "unit", "action"))
            for v in value))
    if bad.all():
        return None, bad
    return _read_lists(lines.filter(pa.array(~bad))), bad


def _read_lists(lines: pa.StringArray) -> pa.Table:
    # The lines' characters lie end to end in the array's data buffer: that is the document.
    lines = pa.concat_arrays([lines])  # a fresh array: its data starts at its first line
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)[lines.offset:lines.offset + len(lines) + 1]
    data = lines.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]
    options = pajson.ParseOptions(explicit_schema=_DISPATCH_SCHEMA, unexpected_field_behavior="ignore")
    return pajson.read_json(io.BytesIO(data), parse_options=options,
                            read_options=pajson.ReadOptions(block_size=max(1 << 20, len(data) + 1)))


def _place(out: _Columns, reasons: _Reasons, fields: dict[str, pd.Series], get, context: Context) -> None:
    size = len(out.index)
    crs = (coordinate_systems(fields["crs"], context.mapping.crs) if "crs" in fields
           else pd.Series(coordinate_system(context.mapping.crs), index=out.index, dtype="string"))
    reasons.add(missing(crs), "unknown_crs", lambda i: (
        f"coordinate system {_show(get('crs').iat[i])} is unknown; use wgs84, gcj02 or bd09"))
    lon_raw, lat_raw = get("lon"), get("lat")
    lon, lat = numbers(lon_raw), numbers(lat_raw)
    # A placeholder point (0, 0, the city's default, a point repeated to the last digit) is no
    # location: such a row is located by its address, as one without coordinates.
    placeholder, why = _placeholders(lon, lat, context.rules)
    lon[placeholder], lat[placeholder] = np.nan, np.nan
    given = (~missing(lon_raw) | ~missing(lat_raw)) & ~placeholder
    broken = given & ~(np.isfinite(lon) & np.isfinite(lat))
    reasons.add(broken, "bad_coordinate", lambda i: (
        f"lon {_show(lon_raw.iat[i])} / lat {_show(lat_raw.iat[i])} is not a pair of numbers"))
    out["accuracy_m"] = (_accuracy(reasons, fields["accuracy"], context.rules.max_accuracy_m) if "accuracy" in fields
                         else np.full(size, np.nan))
    footprint = (_footprints(reasons, fields["footprint"]) if "footprint" in fields
                 else np.full(size, None, dtype=object))
    crs_values = crs.to_numpy(dtype=object, na_value=None)
    wgs_lon, wgs_lat = lon.copy(), lat.copy()
    for system in ("gcj02", "bd09"):
        rows = (crs_values == system) & reasons.ok
        point_rows = rows & np.isfinite(lon) & np.isfinite(lat)
        if point_rows.any():
            wgs_lon[point_rows], wgs_lat[point_rows] = to_wgs84(lon[point_rows], lat[point_rows], system)
        shape_rows = np.flatnonzero(rows & pd.notna(footprint))
        if shape_rows.size:
            footprint[shape_rows] = shapely.transform(
                footprint[shape_rows], lambda xy, s=system: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], s)))
    point = np.isfinite(wgs_lon) & np.isfinite(wgs_lat)
    from_shape = ~point & pd.notna(footprint) & reasons.ok
    if from_shape.any():
        inner = shapely.point_on_surface(footprint[from_shape])
        wgs_lon[from_shape], wgs_lat[from_shape] = shapely.get_x(inner), shapely.get_y(inner)
    has_point = np.isfinite(wgs_lon) & np.isfinite(wgs_lat)
    out["lon_orig"] = np.where(given & (crs_values != "wgs84"), lon, np.nan)
    out["lat_orig"] = np.where(given & (crs_values != "wgs84"), lat, np.nan)
    out["crs_orig"] = np.where(given & (crs_values != "wgs84"), crs_values, None)
    out["footprint"] = np.where(pd.notna(footprint), shapely.to_wkt(footprint, rounding_precision=7), None)
    precision = np.where(has_point, "point", None).astype(object)
    township = np.full(size, None, dtype=object)
    # Rows with no point are located by their address.
    by_address = np.flatnonzero(~has_point & reasons.ok)
    if by_address.size:
        matches = geocode(out["address"].iloc[by_address].reset_index(drop=True), gazetteer(context.boundaries))
        precision[by_address] = matches.precision
        wgs_lon[by_address], wgs_lat[by_address] = matches.lon, matches.lat
        township[by_address] = matches.township_code
        failed = np.zeros(size, dtype=bool)
        failed[by_address] = pd.isna(matches.precision)
        reason_at = dict(zip(by_address, matches.reason, strict=True))

        def nowhere(i: int) -> str:
            lead = why[i]
            if pd.isna(out["address"].iat[i]):
                return f"{lead}, and there is no address" if lead else "there is neither a location nor an address"
            return f"{lead or 'no coordinates'}, and {reason_at[i]}"

        # A placeholder with no usable address has a reason of its own: the source system
        # sends no location for such rows, which its owner can fix there.
        reasons.add(failed & placeholder, "placeholder_location", nowhere)
        reasons.add(failed & ~given, "no_location", nowhere)
        reasons.add(failed, "no_location", lambda i: reason_at[i])
    _locate(out, reasons, wgs_lon, wgs_lat, precision, township, context)


def _placeholders(lon: np.ndarray, lat: np.ndarray, rules: IngestRules) -> tuple[np.ndarray, np.ndarray]:
    """Which points, as written, are no location, and why: (0, 0), which many systems write for
    "none" (it lies in the Gulf of Guinea); one of the city's ``default_points``; an exact point
    that an implausible share of the rows read together repeat to the last digit."""
    why = np.full(lon.size, None, dtype=object)
    why[(lon == 0) & (lat == 0)] = "lon 0 / lat 0 is a placeholder, not a location"
    for x, y in load_settings().city.default_points:
        why[(lon == x) & (lat == y) & pd.isna(why)] = f"({x}, {y}) is the city's default point, not a location"
    free = np.isfinite(lon) & np.isfinite(lat) & pd.isna(why)
    total = int(free.sum())
    if total >= rules.placeholder_rows:
        counts = pd.DataFrame({"lon": lon[free], "lat": lat[free]}).value_counts()
        common = counts[(counts >= rules.placeholder_rows) & (counts >= rules.placeholder_share * total)]
        for (x, y), n in common.items():
            why[free & (lon == x) & (lat == y)] = (
                f"({x}, {y}) is written exactly by {n:,} of the {total:,} rows with coordinates read with it: "
                "a system's default, not a location")
    return pd.notna(why), why


def _accuracy(reasons: _Reasons, raw: pd.Series, most: float) -> np.ndarray:
    """The channel's accuracy of a point in metres (NaN where none is given); a value that is not a
    number of metres above 0 and up to ``most`` is a bad field."""
    value = numbers(raw)
    given = ~missing(raw)
    bad = given & ~(np.isfinite(value) & (value > 0) & (value <= most))
    reasons.add(bad, "bad_field", lambda i: (
        f"accuracy {_show(raw.iat[i])} is not a distance in metres above 0 and up to {most:,.0f}"))
    value[bad] = np.nan
    return value


def _footprints(reasons: _Reasons, raw: pd.Series) -> np.ndarray:
    shapes = np.full(len(raw), None, dtype=object)
    given = np.flatnonzero(~missing(raw))
    if not given.size:
        return shapes
    texts = raw.iloc[given].astype(str)
    is_json = texts.str.lstrip().str.startswith("{").to_numpy()
    parsed = np.full(given.size, None, dtype=object)
    if (~is_json).any():
        parsed[~is_json] = shapely.from_wkt(texts[~is_json].to_numpy(), on_invalid="ignore")
    if is_json.any():
        parsed[is_json] = shapely.from_geojson(texts[is_json].to_numpy(), on_invalid="ignore")
    kinds = shapely.get_type_id(parsed)
    usable = pd.notna(parsed) & np.isin(kinds, (1, 3, 5, 6)) & ~shapely.is_empty(parsed)
    bad = np.zeros(len(raw), dtype=bool)
    bad[given[~usable]] = True
    reasons.add(bad, "bad_footprint", lambda i: (
        f"footprint {_show(raw.iat[i])} is not a line or polygon in WKT or GeoJSON"))
    shapes[given[usable]] = parsed[usable]
    shapes[given[usable]] = shapely.make_valid(shapes[given[usable]])
    return shapes


def _locate(out: _Columns, reasons: _Reasons, lon: np.ndarray, lat: np.ndarray, precision: np.ndarray,
            township: np.ndarray, context: Context) -> None:
    size = len(out.index)
    boundaries = context.boundaries
    h3 = np.full(size, None, dtype=object)
    district = np.full(size, None, dtype=object)
    on_boundary = np.zeros(size, dtype=bool)
    set_id = np.full(size, None, dtype=object)
    plausible = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    cells_wanted = np.isin(precision, ("point", "community")) & reasons.ok
    invalid = cells_wanted & ~plausible
    rows = np.flatnonzero(cells_wanted & plausible)
    received = out["received_at"]
    outside = np.zeros(size, dtype=bool)
    if rows.size:
        found = boundaries.locate(lon[rows], lat[rows], received.iloc[rows])
        h3[rows] = found.h3
        township[rows] = found.township_code
        district[rows] = found.district_code
        on_boundary[rows] = found.on_boundary
        set_id[rows] = found.boundary_set_id
        outside[rows] = ~found.inside
    # A point outside the city may be a swapped pair: say so, so that the fix is obvious.
    retry = np.flatnonzero((outside | invalid) & np.isfinite(lon) & np.isfinite(lat)
                           & (np.abs(lon) <= 90) & (np.abs(lat) <= 180))
    swapped = np.zeros(size, dtype=bool)
    if retry.size:
        again = boundaries.locate(lat[retry], lon[retry], received.iloc[retry])
        swapped[retry] = again.inside
    shown = lambda i: f"({out['lon_orig'].iat[i] if pd.notna(out['lon_orig'].iat[i]) else lon[i]:.6f}, " \
                      f"{out['lat_orig'].iat[i] if pd.notna(out['lat_orig'].iat[i]) else lat[i]:.6f})"  # noqa: E731
    reasons.add(swapped, "swapped", lambda i: (
        f"point {shown(i)} lies outside the service area, but inside it with longitude and "
        "latitude swapped: swap the lon and lat columns"))
    reasons.add(outside | invalid, "outside", lambda i: (
        f"point {shown(i)} lies outside the service area ({load_settings().city.name_en}); check the coordinates and "
        "their coordinate system (wgs84, gcj02 or bd09)"))
    by_town = np.flatnonzero((precision == "township") & reasons.ok)
    if by_town.size:
        districts, sets = boundaries.township_districts(township[by_town], received.iloc[by_town])
        district[by_town] = districts
        set_id[by_town] = sets
        unknown = np.zeros(size, dtype=bool)
        unknown[by_town] = pd.isna(districts)
        reasons.add(unknown, "no_location", lambda i: (
            f"the address names township {township[i]}, which the current boundaries do not hold"))
    out["lon"], out["lat"] = lon, lat
    out["precision"] = precision
    out["h3"] = pd.array(np.where(pd.isna(h3), None, h3), dtype="Int64")
    out["township_code"] = township
    out["district_code"] = district
    out["on_boundary"] = on_boundary
    out["boundary_set_id"] = pd.array(set_id, dtype="Int64")


def _duplicates(out: _Columns, reasons: _Reasons, context: Context) -> None:
    ok = np.flatnonzero(reasons.ok)
    ids = out["source_id"].to_numpy(dtype=object, na_value=None)
    lines = out["line"].to_numpy()
    earlier = np.full(len(out.index), -1, dtype=np.int64)
    # A repeat within the batch points at the batch's first row of the id; any row of an id
    # seen in an earlier batch points at that batch's row. (Factorised: a Series' duplicated
    # cost a request's row 0.2 ms.)
    codes, _uniques = pd.factorize(ids[ok], use_na_sentinel=False)
    first_at = np.unique(codes, return_index=True)[1][codes]
    again = first_at != np.arange(codes.size)
    first_line = lines[ok][first_at]
    keys = context.seen.keys(ids[ok])
    before = context.seen.lines_of(keys)
    earlier[ok] = np.where(before >= 0, before, np.where(again, first_line, -1))
    new = (before < 0) & ~again
    context.seen.add(keys.take(new), lines[ok][new])
    reasons.add(earlier >= 0, "duplicate", lambda i: (
        f"id {_show(ids[i])} already appeared on line {earlier[i]} of this file, which was kept; "
        "ingest this row again on its own to update the complaint"))


def unclassified_count(rows: Rows) -> int:
    """Count accepted rows whose category matched nothing."""
    return int((np.asarray(rows["category"], dtype=object) == UNCLASSIFIED).sum()) if rows.size else 0


def unmapped_categories(rows: Rows) -> dict[str, int]:
    """The category values as written that matched nothing, with their counts."""
    unmapped = np.asarray(rows["category"], dtype=object) == UNCLASSIFIED if rows.size else np.zeros(0, bool)
    if not unmapped.any():
        return {}
    written = pd.Series(rows["category_raw"][unmapped]).dropna()
    return {str(k): int(v) for k, v in written.value_counts().items()}
