"""Where the rows of one ingest went: the summary every reader, the API and the app show.

Pure: the loader (:mod:`geo.ingest.run_db`) fills it; the API's batches
(:mod:`geo.api.intake`) read each request's outcome from it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

KEPT_REASONS = 100
"""How many rejected rows a summary names in full (all of them are in ``rejected_row``)."""
UNMAPPED_SHOWN = 50
"""How many unmapped category values a summary lists (the commonest)."""


@dataclass
class IngestSummary:
    """Where the rows of one file went."""

    run_id: int
    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    unclassified: int = 0
    unmapped: Counter = field(default_factory=Counter)
    """The category values (as written) that matched no category, with their counts: what a
    mapping's ``values: category:`` map still needs."""
    rejected_by_reason: Counter = field(default_factory=Counter)
    precision: Counter = field(default_factory=Counter)
    on_boundary: int = 0
    rejections: list[dict] = field(default_factory=list)
    """The first :data:`KEPT_REASONS` rejected rows (line, source_id, reason_code, reason), for a
    caller who reads them at once (the API); all of them are in ``rejected_row``."""

    @property
    def accepted(self) -> int:
        """Rows that are in the complaint table after the load."""
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict:
        """The summary as plain JSON-ready values."""
        return {"rows": self.rows, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "unclassified": self.unclassified,
                "unmapped": dict(self.unmapped.most_common(UNMAPPED_SHOWN)),
                "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
                "precision": dict(sorted(self.precision.items())), "on_boundary": self.on_boundary}
