"""The separation DESIGN.md asks for: geo/ is the engine, layers/ draws, views/ show; pure modules
of the engine never reach the database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

STAGES = ("ingest", "locate", "detect", "act", "store", "show")
DATABASE = {"sqlalchemy", "geoalchemy2", "psycopg", "psycopg2", "alembic", "procrastinate"}
# Where the database may be reached: the store itself, the app's queries, the command line,
# and every module named *_db beside the pure module of its stage.
DATABASE_SIDE = ("geo/store/", "geo/show/", "geo/cli/")


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """Every module's imports, as full dotted names (``geo.store.engine``, ``sqlalchemy.orm``)."""
    found = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
        found[str(path.relative_to(ROOT))] = names
    return found


def _tops(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("geo", {"streamlit", "folium", "streamlit_folium", "branca", "layers", "views"}),
    ("layers", {"streamlit", "streamlit_folium", "views"}),
    ("boundaries", {"streamlit", "folium", "layers", "views"}),
])
def test_folder_does_not_import(folder, forbidden):
    offenders = {path: _tops(names) & forbidden for path, names in imported_modules(ROOT / folder).items()
                 if _tops(names) & forbidden}
    assert offenders == {}


def _reaches_database(names: set[str]) -> set[str]:
    return {name for name in names
            if name.split(".")[0] in DATABASE or name.startswith("geo.store")
            or any(part.endswith("_db") for part in name.split("."))}


def test_pure_modules_never_reach_the_database():
    pure = {path: names for path, names in imported_modules(ROOT / "geo").items()
            if not path.startswith(DATABASE_SIDE) and not path.removesuffix(".py").endswith("_db")}
    assert len(pure) > 20
    offenders = {path: sorted(_reaches_database(names)) for path, names in pure.items()
                 if _reaches_database(names)}
    assert offenders == {}


def test_the_flow_reads_in_the_engine_folder():
    packages = {path.name for path in (ROOT / "geo").iterdir() if (path / "__init__.py").is_file()}
    assert set(STAGES) <= packages
    flat = sorted(path.name for path in (ROOT / "geo").glob("*.py"))
    # Only what every stage shares sits beside the stage packages.
    assert flat == ["__init__.py", "__main__.py", "clock.py", "errors.py", "rules.py", "settings.py"]
