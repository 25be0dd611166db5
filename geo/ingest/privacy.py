"""Callers' phone numbers: masked everywhere, hashed with a key, found in free text.

The rule: no more than the last 4 digits of any phone-like value (mobile, landline, with +86,
spaces or dashes) ever reaches storage, a page, a log or an export. A number is stored only
masked (``*******5678``) and as a keyed BLAKE2 hash, which links a caller's complaints without
revealing the number. An unkeyed hash of an 11-digit number can be reversed by trying them
all; the key prevents that. It comes from ``WHISTLE_PHONE_KEY`` or, when unset, from
``var/phone.key`` (created atomically on first use, readable by its owner only).

Numbers written into other columns (a complaint's text, an address, a second phone column
that the mapping does not name) are masked in place by :func:`mask_phone_text`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.errors import ValidationError
from geo.settings import Settings
from geo.strings import BLANK, NO_TEXT, arrow_text, joined, missing, pandas_text, string_series

MIN_KEY_BYTES = 16
"""A shorter key (an empty file, a typo in ``WHISTLE_PHONE_KEY``) would make the hashes guessable."""
KEY_BYTES = 64
"""BLAKE2b takes at most 64 bytes of key."""
VISIBLE_DIGITS = 4
"""The most digits of a phone that anything shows: the last ones."""

# +86 or 0086 before a mobile, in a number's digits alone (Arrow's RE2 and Python's re both
# take it: RE2 has no look-ahead).
_COUNTRY = r"^(?:00)?86(1[3-9]\d{9})$"
# Phone-like text: a mobile (11 digits from 13x–19x), a landline with its area code, or a
# local number of 7–8 digits, each with optional +86, spaces, dashes or brackets. The
# guards keep digits that belong to something longer (an id, a coordinate, a longer number).
_PHONE_TEXT = re.compile(
    r"(?<![0-9A-Za-z.*])"
    r"(?:(?:\+|00)86[ -]?)?"
    r"(?:1[3-9]\d(?:[ -]?\d){8}"
    r"|(?:\(?0\d{2,3}\)?[ -]?)?[2-9]\d{2,3}[ -]?\d{4})"
    r"(?![0-9A-Za-z*]|\.\d)")


# A cheap first look (RE2 has no look-around): seven digits, ASCII or full-width, perhaps with
# separators between.
_MAYBE_PHONE = r"[0-9０-９](?:[ ()\-　（）－]?[0-9０-９]){6}"
# A Chinese keyboard types full-width digits and signs (１３８…, ＋８６, （０１０）): read as
# ASCII, one character for one, so that a match in the folded text spans the same characters
# of the original.
_FULLWIDTH = str.maketrans("０１２３４５６７８９＋－（）＊　", "0123456789+-()* ")


def phone_key(settings: Settings) -> bytes:
    """Return the phone-hashing key (at most 64 bytes, as BLAKE2b allows).

    Raises
    ------
    ValidationError
        When the key given or stored is shorter than ``MIN_KEY_BYTES``.
    """
    given = os.environ.get("WHISTLE_PHONE_KEY")
    if given is not None:
        return _checked(given.encode(), "WHISTLE_PHONE_KEY")
    path = settings.home / "var" / "phone.key"
    if not path.is_file():
        _create_key(path)
    return _checked(path.read_bytes().strip(), str(path))


def _create_key(path: Path) -> None:
    # Many processes may start at once (an ingest, the app, the worker): each writes a whole
    # key to its own file and links it into place; the first link wins, the others read it.
    path.parent.mkdir(parents=True, exist_ok=True)
    own = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(own, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(own, path)
    finally:
        own.unlink(missing_ok=True)


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ValidationError(f"the phone key in {where} has {len(key)} bytes; it needs at least {MIN_KEY_BYTES} "
                              "(remove the file to have a new one made, or set a longer WHISTLE_PHONE_KEY)")
    return key[:KEY_BYTES]


def _folded(text: pd.Series) -> pd.Series:
    """Full-width digits and signs as ASCII; only the values that are not ASCII are touched."""
    wide = ~np.asarray(pc.fill_null(pc.string_is_ascii(arrow_text(text)), True), dtype=bool)
    if not wide.any():
        return text
    out = text.copy()
    out[wide] = text[wide].str.translate(_FULLWIDTH)
    return out


def _symbols(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The digits (and, in masked values, the stars) of each value, and which are masked."""
    text = arrow_text(_folded(string_series(raw)))
    # A value that holds a run of stars came masked (an exported rejected row, fixed and sent
    # back): its stars stand for digits that are gone, so it is kept masked and not hashed.
    masked = np.asarray(pc.fill_null(pc.match_substring(text, "**"), False), dtype=bool)
    # In Arrow's RE2, which has no look-ahead: +86 or 0086 comes off a mobile's digits.
    digits = pc.replace_substring_regex(pc.replace_substring_regex(text, r"[^0-9]", ""), _COUNTRY, r"\1")
    kept = pc.replace_substring_regex(text, r"[^0-9*]", "")
    symbols = pc.if_else(pa.array(masked), kept, digits)
    symbols = pc.if_else(pc.equal(symbols, BLANK), NO_TEXT, symbols)
    return pandas_text(symbols, raw.index), pd.Series(masked, index=raw.index)


def phone_digits(raw: pd.Series) -> pd.Series:
    """The digits of phone numbers, without a +86 or 0086 before a mobile; NA when none remain.

    Masked values keep their stars, so that they are told apart from numbers.
    """
    return _symbols(raw)[0]


def _visible(length: int) -> int:
    # Half of a short number at most, and never more than VISIBLE_DIGITS: the rest are stars,
    # one per digit, so that a mobile still looks like one.
    return min(length // 2, VISIBLE_DIGITS)


def _mask(symbols: pd.Series) -> pd.Series:
    # Vectorised per length: a column of phones holds a handful of lengths (11 for mobiles,
    # 7 and 8 for local numbers).
    text = arrow_text(symbols)
    size = np.asarray(pc.fill_null(pc.utf8_length(text), 0))
    out = np.full(len(symbols), None, dtype=object)
    for length in np.unique(size[size > 0]).tolist():
        keep = _visible(length)
        rows = size == length
        if keep:
            tail = pc.utf8_slice_codeunits(text.filter(pa.array(rows)), length - keep)
            out[rows] = joined("*" * (length - keep), tail, "").to_numpy(zero_copy_only=False)
        else:
            out[rows] = "*" * length
    return pd.Series(out, index=symbols.index, dtype=object)


def mask_phones(raw: pd.Series) -> pd.Series:
    """Mask phone numbers: ``13812345678`` and ``+86 138-1234-5678`` become ``*******5678``.

    Only the last digits show: 4 of a number of 8 digits or more, half of a shorter one. A
    value that came masked (holds ``**``) is masked again the same way, so masking twice
    changes nothing and an exported rejected row can be fixed and ingested again.
    """
    return _mask(phone_digits(raw))


def hash_phones(raw: pd.Series, key: bytes) -> pd.Series:
    """Keyed BLAKE2 hashes of phone numbers (None where missing or already masked).

    The hash links a caller's complaints without storing the number; ``+86 138 1234 5678``
    and ``13812345678`` hash alike. It is computed once per distinct number, since callers
    call again.
    """
    return _hash(*_symbols(raw), key)


def mask_and_hash_phones(raw: pd.Series, key: bytes) -> tuple[pd.Series, pd.Series]:
    """:func:`mask_phones` and :func:`hash_phones` of one column, reading its digits once."""
    symbols, masked = _symbols(raw)
    return _mask(symbols), _hash(symbols, masked, key)


def _hash(symbols: pd.Series, masked: pd.Series, key: bytes) -> pd.Series:
    fresh = ~missing(symbols) & ~masked.to_numpy(dtype=bool)
    out = np.full(len(symbols), None, dtype=object)
    if fresh.any():
        numbers = symbols.to_numpy(dtype=object, na_value=None)[fresh]
        hashed = {u: hashlib.blake2b(u.encode(), key=key, digest_size=16).hexdigest() for u in set(numbers)}
        out[fresh] = [hashed[u] for u in numbers]
    return pd.Series(out, index=symbols.index, dtype=object)


def _mask_match(match: re.Match) -> str:
    # The digits of a number found in text, read as _symbols reads a phone column's.
    digits = re.sub(_COUNTRY, r"\1", re.sub(r"[^0-9]", "", match.group()))
    keep = _visible(len(digits))
    return "*" * (len(digits) - keep) + digits[len(digits) - keep:]


def mask_phone_text(text: str) -> str:
    """Mask every phone-like number written in ``text`` (``电话13812345678`` → ``电话*******5678``).

    Full-width digits (``１３８…``) are found too; the rest of the text is kept as written.
    """
    if not any(c.isdigit() for c in text):
        return text
    folded = text.translate(_FULLWIDTH)
    pieces, end = [], 0
    for match in _PHONE_TEXT.finditer(folded):
        pieces += [text[end:match.start()], _mask_match(match)]
        end = match.end()
    return "".join(pieces) + text[end:] if pieces else text


def mask_phone_texts(values: pd.Series) -> pd.Series:
    """:func:`mask_phone_text` over a column of strings (missing values stay missing).

    Only the texts that hold seven digits in a row (perhaps with separators) go through the
    pattern, found by Arrow's RE2 in C: most complaints' texts hold no number at all.
    """
    text = string_series(values)
    if text.empty:
        return text
    found = pc.match_substring_regex(arrow_text(text), _MAYBE_PHONE)
    rows = np.asarray(pc.fill_null(found, False), dtype=bool)
    if not rows.any():
        return text
    out = text.copy()
    out[rows] = text[rows].map(mask_phone_text)
    return out


def mask_phone_values(value):
    """:func:`mask_phone_text` through a JSON-like value (strings, numbers, lists, dicts).

    A number column read as numbers (Parquet, JSON) holds phones as integers too: such a
    number comes back as its masked text; any other value comes back as it was.
    """
    if isinstance(value, str):
        return mask_phone_text(value)
    if isinstance(value, dict):
        return {key: mask_phone_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_phone_values(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = mask_phone_text(str(value))
        return value if text == str(value) else text
    return value
