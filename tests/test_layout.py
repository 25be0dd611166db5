"""The separation DESIGN.md asks for: geo/ is the engine, layers/ draws, views/ show; pure modules
of the engine never reach the database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

STAGES = ("ingest", "locate", "detect", "act", "store", "show", "api", "worker")
DATABASE = {"sqlalchemy", "geoalchemy2", "psycopg", "psycopg2", "alembic", "procrastinate"}
# Where the database may be reached: the store itself, the app's queries, the command line,
# the API's app and the worker's queue (entry points, as the command line is), and every
# module named *_db beside the pure module of its stage.
DATABASE_SIDE = ("geo/store/", "geo/show/", "geo/cli/", "geo/api/app.py", "geo/worker/tasks.py")


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
    assert flat == ["__init__.py", "__main__.py", "city.py", "clock.py", "errors.py", "i18n.py", "rules.py",
                    "settings.py", "strings.py"]


# What the pages may read without a user: boundary data and the clock, nothing derived from complaints.
PUBLIC = {"jurisdictions", "boundary_set_list", "shared_lines", "app_clock"}


def test_every_query_of_the_app_passes_the_access_hook():
    """Each function of geo/show/dashboard_db.py that reaches the database takes the user and
    calls the one hook (geo.show.access.restrict), directly or through a function that does."""
    tree = ast.parse((ROOT / "geo" / "show" / "dashboard_db.py").read_text(encoding="utf-8"))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    public = {name: node for name, node in functions.items() if not name.startswith("_")
              and "bind" in {a.arg for a in node.args.args}}
    assert len(public) > 15

    def calls(node: ast.FunctionDef) -> set[str]:
        return {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}

    unchecked = {name for name, node in public.items() if name not in PUBLIC
                 and ("user" not in {a.arg for a in node.args.args} or not calls(node) & {"restrict", *public})}
    # A function calling another public query is checked by that one only if that one checks.
    hooked = {name for name in public if "restrict" in calls(public[name])}
    through = {name for name in public if name not in hooked and calls(public[name]) & hooked}
    assert unchecked == set()
    assert set(public) - PUBLIC <= hooked | through


def test_pages_read_the_database_only_through_the_hooked_queries():
    # The queries, the sign-in itself, and the engine they are handed.
    allowed = {"geo.show.dashboard_db", "geo.act.users_db", "geo.store.engine"}
    offenders = {}
    for path, names in imported_modules(ROOT / "views").items():
        bad = {n for n in _reaches_database(names) if n.rsplit(".", 1)[0] not in allowed and n not in allowed
               and not n.startswith("sqlalchemy.engine")}
        if bad:
            offenders[path] = sorted(bad)
    assert offenders == {}
    for path in (ROOT / "views").glob("*.py"):
        assert "sa.text(" not in path.read_text(encoding="utf-8"), path
