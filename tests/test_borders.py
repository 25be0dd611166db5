"""Shared lines and complaints near them, measured in metres."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geo.borders import near_lines, shared_lines
from geo.errors import ValidationError

PAIR = ("110102020", "110106002")  # Guang'anmenwai (Xicheng) and Taipingqiao (Fengtai)


@pytest.fixture(scope="module")
def lines(townships):
    return shared_lines(townships)


def _offset_from_line(line, metres: float) -> tuple[float, float]:
    """A WGS84 point ``metres`` from the middle of a metric line, perpendicular to it."""
    middle = shapely.line_interpolate_point(line, 0.5, normalized=True)
    ahead = shapely.line_interpolate_point(line, 0.5 + 1 / max(line.length, 2), normalized=True)
    dx, dy = ahead.x - middle.x, ahead.y - middle.y
    norm = np.hypot(dx, dy)
    x, y = middle.x - dy / norm * metres, middle.y + dx / norm * metres
    return Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True).transform(x, y)


def test_neighbours_share_lines_and_district_lines_are_township_lines(lines, townships):
    pair = lines[(lines["a"] == PAIR[0]) & (lines["b"] == PAIR[1])]
    assert len(pair) == 1
    assert 2_000 < pair["length_m"].iloc[0] < 10_000
    assert (lines["a"] < lines["b"]).all()
    parents = dict(zip(townships["code"], townships["parent_code"], strict=True))
    across = lines[[parents[a] != parents[b] for a, b in zip(lines["a"], lines["b"], strict=True)]]
    assert len(across) > 30  # every district line is shared by townships of both districts


def test_points_near_the_line_name_both_townships(lines):
    line = lines[(lines["a"] == PAIR[0]) & (lines["b"] == PAIR[1])].geometry.iloc[0]
    line = max(shapely.get_parts(line), key=lambda part: part.length) if line.geom_type.startswith("Multi") else line
    near, far = _offset_from_line(line, 20.0), _offset_from_line(line, 200.0)
    found = near_lines(np.array([near[0], far[0]]), np.array([near[1], far[1]]), lines, 50.0)
    assert set(found["point"]) == {0}
    row = found[(found["a"] == PAIR[0]) & (found["b"] == PAIR[1])].iloc[0]
    assert row["distance_m"] == pytest.approx(20.0, abs=0.5)
    wider = near_lines(np.array([far[0]]), np.array([far[1]]), lines, 250.0)
    assert PAIR in set(zip(wider["a"], wider["b"], strict=True))


def test_bad_parameters(lines):
    with pytest.raises(ValidationError, match="positive"):
        near_lines(np.array([116.3]), np.array([39.9]), lines, 0)
    with pytest.raises(ValidationError, match="projected"):
        near_lines(np.array([116.3]), np.array([39.9]), lines.to_crs(4326))
