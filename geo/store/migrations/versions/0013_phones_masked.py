"""No more than the last 4 digits of a phone anywhere: data stored under the old mask are masked again.

Numbers were stored as ``138****5678`` (7 digits), short ones nearly whole, and numbers that
callers wrote into a complaint's text, or into a column of a rejected row that the mapping
did not name, in full. This masks them as :mod:`geo.ingest.privacy` does now. Masking cannot
be undone: the downgrade leaves the data as they are.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from geo.ingest.privacy import VISIBLE_DIGITS, mask_phone_text, mask_phone_values

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Rows that could hold a phone-like number: seven digits (ASCII or full-width), perhaps with separators.
_DIGITS = r"[0-9０-９][0-9０-９ ()（）－　-]{5,}[0-9０-９]"


def upgrade() -> None:
    bind = op.get_bind()
    keep = f"least({VISIBLE_DIGITS}, length(phone_masked) / 2)"
    bind.execute(sa.text(
        f"UPDATE complaint SET phone_masked = repeat('*', length(phone_masked) - {keep}) || right(phone_masked, {keep}) "
        f"WHERE phone_masked IS DISTINCT FROM repeat('*', length(phone_masked) - {keep}) || right(phone_masked, {keep})"))
    rows = bind.execute(sa.text(
        "SELECT id, text, address, category_raw FROM complaint "
        "WHERE text ~ :d OR address ~ :d OR category_raw ~ :d"), {"d": _DIGITS}).all()
    for row in rows:
        bind.execute(sa.text("UPDATE complaint SET text = :t, address = :a, category_raw = :c WHERE id = :id"),
                     {"id": row.id, **{k: None if v is None else mask_phone_text(v)
                                       for k, v in (("t", row.text), ("a", row.address), ("c", row.category_raw))}})
    for row in bind.execute(sa.text("SELECT id, reason, raw FROM rejected_row")).all():
        raw, reason = mask_phone_values(row.raw), mask_phone_text(row.reason)
        if raw != row.raw or reason != row.reason:
            bind.execute(sa.text("UPDATE rejected_row SET raw = CAST(:raw AS jsonb), reason = :reason WHERE id = :id"),
                         {"id": row.id, "raw": json.dumps(raw, ensure_ascii=False), "reason": reason})


def downgrade() -> None:
    """Masked numbers stay masked: nothing to restore."""
