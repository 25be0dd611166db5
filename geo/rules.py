"""Reading the rules files (TOML): one reader, one set of checks.

The national defaults live under ``geo/data/``; a city overrides a file by keeping its own
beside its profile (``cities/<code>/whistle.toml``), and ``WHISTLE_RULES_DIR`` overrides both.

Thresholds live in data, not in code (DESIGN.md); every value is checked when a file is
loaded, so a typo fails at once with the file, the section and the key named.
"""

from __future__ import annotations

import copy
import tomllib
from functools import lru_cache
from pathlib import Path

from geo.errors import ValidationError
from geo.settings import load_settings


def rules_path(name: str) -> Path:
    """Where the rules file ``name`` is read from: ``WHISTLE_RULES_DIR``, the city's folder or the
    national default under ``geo/data``, the first that holds it (:meth:`Settings.data_file`)."""
    return load_settings().data_file(name)


def read_rules(path: Path | str, what: str) -> dict:
    """Parse a TOML rules file.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file holds, for the error message ("whistle rules").

    Raises
    ------
    ValidationError
        When the file cannot be read or is not TOML.
    """
    path = Path(path)
    try:
        # Parsed once per version of the file: the API and the worker read the rules for every
        # batch, and an edited file is read again (its size or time changed).
        status = path.stat()
        return copy.deepcopy(_parsed(path, status.st_mtime_ns, status.st_size))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"cannot read the {what} {path}: {exc}") from None


@lru_cache(maxsize=64)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def section(raw: dict, name: str, where: Path | str) -> dict:
    """The table ``[name]`` of a parsed file (dotted names reach into nested tables)."""
    found: object = raw
    for part in name.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    if not isinstance(found, dict):
        raise ValidationError(f"{where}: no [{name}] section")
    return found


def positive(table: object, key: str, where: str) -> float:
    """A positive number under ``key``; raises naming the place and the value."""
    value = table.get(key) if isinstance(table, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValidationError(f"{where}: {key} was {value!r}; it must be a positive number")
    return float(value)


def whole(table: object, key: str, where: str) -> int:
    """A positive whole number under ``key``."""
    value = positive(table, key, where)
    if value != int(value):
        raise ValidationError(f"{where}: {key} was {value!r}; it must be a whole number")
    return int(value)


def share(table: object, key: str, where: str) -> float:
    """A share between 0 and 1 (both excluded) under ``key``."""
    value = positive(table, key, where)
    if value >= 1:
        raise ValidationError(f"{where}: {key} was {value!r}; it must be a share between 0 and 1")
    return value
