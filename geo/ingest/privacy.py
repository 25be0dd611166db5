"""The key that hashes callers' phone numbers.

A number is stored only masked (``138****5678``) and as a keyed BLAKE2 hash, which links a
caller's complaints without revealing the number. An unkeyed hash of an 11-digit number can
be reversed by trying them all; the key prevents that. It comes from ``WHISTLE_PHONE_KEY`` or,
when unset, from ``var/phone.key`` (created on first use, readable by its owner only).
"""

from __future__ import annotations

import hashlib
import os
import secrets

import pandas as pd

from geo.settings import Settings


def phone_key(settings: Settings) -> bytes:
    """Return the phone-hashing key (at most 64 bytes, as BLAKE2b allows)."""
    given = os.environ.get("WHISTLE_PHONE_KEY")
    if given:
        return given.encode()[:64]
    path = settings.home / "var" / "phone.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()[:64]


def phone_digits(raw: pd.Series) -> pd.Series:
    """Keep the digits (and a leading + or masking *) of phone numbers; NA when none remain."""
    return raw.astype("string").str.replace(r"[^0-9+*]", "", regex=True).replace("", pd.NA)


def _masked(digits: pd.Series) -> pd.Series:
    # A value that already holds * came masked (an exported rejected row, fixed and sent back).
    return digits.str.contains("*", regex=False).fillna(False).astype(bool)


def mask_phones(raw: pd.Series) -> pd.Series:
    """Mask phone numbers: ``13812345678`` becomes ``138****5678`` (short numbers keep 2 digits).

    A value that is already masked (holds ``*``) is kept as it is, so an exported rejected
    row can be fixed and ingested again.
    """
    digits = phone_digits(raw)
    long = digits.str.len() >= 7
    masked = (digits.str.slice(0, 3) + "****" + digits.str.slice(-4)).where(long, "****" + digits.str.slice(-2))
    return masked.where(~_masked(digits), digits).astype(object).where(digits.notna(), None)


def hash_phones(raw: pd.Series, key: bytes) -> pd.Series:
    """Keyed BLAKE2 hashes of phone numbers (None where missing or already masked).

    The hash links a caller's complaints without storing the number; it is computed once per
    distinct number, since callers call again.
    """
    digits = phone_digits(raw)
    fresh = digits.notna() & ~_masked(digits)
    hashed = {u: hashlib.blake2b(u.encode(), key=key, digest_size=16).hexdigest()
              for u in pd.unique(digits[fresh])}
    return digits.where(fresh).map(hashed).astype(object).where(lambda s: s.notna(), None)
