"""One place for every rule: change a value in a rules file and the CLI, the store and the report follow."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from geo.detect.rules import RULES_FILE, DetectRules, detect_rules
from geo.errors import ValidationError
from geo.settings import DATA_DIR
from tests.helpers import geo
from tests.test_reports import city  # noqa: F401  (a fixture)
from tests.test_whistle import db  # noqa: F401  (a fixture)


def _rules_dir(tmp_path, **changes: tuple[str, str]):
    """A copy of the shipped rules with lines replaced: ``{"detect.toml": (old, new)}``."""
    folder = tmp_path / "rules"
    folder.mkdir(parents=True)
    for path in DATA_DIR.glob("*.toml"):
        shutil.copy(path, folder / path.name)
    for name, (old, new) in changes.items():
        target = folder / name.replace("_", ".")
        text = target.read_text(encoding="utf-8")
        assert old in text
        target.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_the_shipped_detect_rules_are_read_and_checked(tmp_path, monkeypatch):
    rules = DetectRules.load(RULES_FILE)
    assert (rules.hotspots.resolution, rules.hotspots.k, rules.hotspots.alpha) == (8, 1, 0.05)
    assert (rules.borders.distance_m, rules.emerging.step, rules.emerging.min_rise) == (50.0, "week", 2.0)
    folder = _rules_dir(tmp_path, detect_toml=("alpha = 0.05", "alpha = 1.5"))
    with pytest.raises(ValidationError, match=r"\[hotspots\]: alpha was 1.5; it must be a share"):
        DetectRules.load(folder / "detect.toml")
    off = _rules_dir(tmp_path / "off", detect_toml=("min_rise = 2.0", "min_rise = 0"))
    monkeypatch.setenv("WHISTLE_RULES_DIR", str(off))
    assert detect_rules().emerging.min_rise is None


@pytest.mark.db
@pytest.mark.slow
def test_one_value_changed_is_followed_by_the_cli_the_store_and_the_report(city, complaints_db_url,  # noqa: F811
                                                                           tmp_path):
    folder = _rules_dir(tmp_path, detect_toml=("distance_m = 50.0", "distance_m = 120.0"),
                        governance_toml=("top = 10", "top = 7"))
    env = {"DATABASE_URL": complaints_db_url, "WHISTLE_RULES_DIR": str(folder), "COLUMNS": "200"}
    done = geo("detect", "borders", "--from", "2026-09-01", "--to", "2026-11-21", env=env)
    assert done.returncode == 0, done.stderr
    assert "within 120 m" in done.stdout
    engine = sa.create_engine(complaints_db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT params FROM border_run ORDER BY id DESC LIMIT 1")).scalar_one()
    finally:
        engine.dispose()
    assert stored["distance_m"] == 120.0
    assert stored["window_days"] == 30  # the values not changed stay the shipped ones
    done = geo("report", "monthly", "--date", "2026-10-09", "--out", str(tmp_path / "out"), env=env)
    assert done.returncode == 0, done.stderr
    text = next((tmp_path / "out").glob("*monthly*.md")).read_text(encoding="utf-8")
    assert "诉求量前 7 名" in text  # "top 7 by volume", in Beijing's language
    assert "前 10 名" not in text
