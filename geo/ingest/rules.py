"""The thresholds of the ingest's checks, read from ``ingest.toml`` (the city's, else the national
default under ``geo/data``): the one place they live.

Pure: nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geo.rules import positive, read_rules, rules_path, section, share, whole


@dataclass(frozen=True)
class IngestRules:
    """The rules of the ingest's checks; :meth:`load` reads ``ingest.toml``."""

    placeholder_share: float
    """An exact point shared by this share of a batch's rows with coordinates is a placeholder."""
    placeholder_rows: int
    """... when at least this many rows share it."""
    max_accuracy_m: float = 5_000.0
    """The largest accuracy a channel may give a point, in metres (more is no point at all)."""

    @classmethod
    def load(cls, path: Path | str | None = None) -> IngestRules:
        """Read and check the rules file.

        Raises
        ------
        ValidationError
            Naming the file, the key and the value that cannot be used.
        """
        path = Path(path) if path else rules_path("ingest.toml")
        raw = read_rules(path, "ingest rules")
        table, where = section(raw, "placeholders", path), f"{path} [placeholders]"
        location = section(raw, "location", path)
        return cls(placeholder_share=share(table, "share", where), placeholder_rows=whole(table, "min_rows", where),
                   max_accuracy_m=positive(location, "max_accuracy_m", f"{path} [location]"))
