"""The key that hashes callers' phone numbers.

A number is stored only masked (``138****5678``) and as a keyed BLAKE2 hash, which links a
caller's complaints without revealing the number. An unkeyed hash of an 11-digit number can
be reversed by trying them all; the key prevents that. It comes from ``WHISTLE_PHONE_KEY`` or,
when unset, from ``var/phone.key`` (created on first use, readable by its owner only).
"""

from __future__ import annotations

import os
import secrets

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
