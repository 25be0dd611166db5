"""API keys: what a key is and how it is written (pure; the table is :mod:`geo.api.keys_db`).

A key is 32 random bytes written as ``wk_`` and 43 URL-safe characters; only its SHA-256 is
stored. A key belongs to a channel of the hotline (it posts complaints, which then carry the
channel), to a department or to the callback centre (they post status updates).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from geo.errors import ValidationError
from geo.ingest.validate import CHANNELS

KINDS = ("channel", "department", "callback")
PREFIX = "wk_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
_KEY = re.compile(r"^wk_[A-Za-z0-9_-]{43}$")
SHOWN = 10
"""How many leading characters of a key its listing shows."""


def new_key() -> str:
    """A fresh key (shown once, to the person who creates it)."""
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(key: str | None) -> bool:
    """Whether a value could be a key at all (anything else is refused without a query)."""
    return bool(key) and _KEY.match(key) is not None


def check_key_spec(name: str, kind: str, channel: str | None) -> tuple[str, str, str | None]:
    """Check a new key's name, kind and channel; return them normalised.

    Raises
    ------
    ValidationError
        For a name that is not 2-64 lower-case letters, digits, ``_ . -``; an unknown kind; a
        channel key without a known channel, or another key with one.
    """
    name = (name or "").strip().lower()
    if not _NAME.match(name):
        raise ValidationError(f"key name {name!r} must be 2 to 64 lower-case letters, digits, '_', '.' or '-'")
    if kind not in KINDS:
        raise ValidationError(f"key kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "channel":
        channels = sorted(set(CHANNELS.values()))
        if channel not in channels:
            raise ValidationError(f"a channel's key needs --channel, one of {', '.join(channels)}; got {channel!r}")
    elif channel is not None:
        raise ValidationError(f"only a channel's key has a channel; a {kind}'s key has none")
    return name, kind, channel
