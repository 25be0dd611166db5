"""The separation DESIGN.md asks for: geo/ is the engine, layers/ draws, views/ show."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT


def imported_modules(folder: Path) -> dict[str, set[str]]:
    found = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("geo", {"streamlit", "folium", "streamlit_folium", "branca", "layers", "views"}),
    ("layers", {"streamlit", "streamlit_folium", "views"}),
    ("boundaries", {"streamlit", "folium", "layers", "views"}),
])
def test_folder_does_not_import(folder, forbidden):
    offenders = {path: names & forbidden for path, names in imported_modules(ROOT / folder).items()
                 if names & forbidden}
    assert offenders == {}
