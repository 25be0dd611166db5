"""Shared lines and complaints near them, measured in metres."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geo.detect.borders import BorderLines, ping_pong, shared_lines, straddling_clusters
from geo.errors import ValidationError

PAIR = ("110102020", "110106002")  # Guang'anmenwai (Xicheng) and Taipingqiao (Fengtai)


@pytest.fixture(scope="module")
def lines(townships):
    return shared_lines(townships)


@pytest.fixture(scope="module")
def border(townships):
    return BorderLines.build(townships)


TO_WGS = Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)
TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)


def _pair_line(lines, pair=PAIR):
    line = lines[(lines["a"] == pair[0]) & (lines["b"] == pair[1])].geometry.iloc[0]
    parts = [p for p in shapely.get_parts(line) if p.geom_type == "LineString"]
    return shapely.line_merge(max(parts, key=lambda part: part.length))


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


def test_points_near_the_line_name_both_townships(lines, border):
    line = _pair_line(lines)
    near, far = _offset_from_line(line, 20.0), _offset_from_line(line, 200.0)
    found = border.near(np.array([near[0], far[0]]), np.array([near[1], far[1]]))
    assert set(found["point"]) == {0}
    row = found[(found["a"] == PAIR[0]) & (found["b"] == PAIR[1])].iloc[0]
    assert row["distance_m"] == pytest.approx(20.0, abs=0.5)
    whole = border.lines[(border.lines["a"] == PAIR[0]) & (border.lines["b"] == PAIR[1])]["length_m"].iloc[0]
    assert 0 <= row["along_m"] <= whole
    wider = BorderLines.build(border.townships.to_crs(4326), distance_m=250.0)
    found = wider.near(np.array([far[0]]), np.array([far[1]]))
    assert PAIR in set(zip(found["a"], found["b"], strict=True))


def test_every_distance_equals_shapely_to_the_whole_line(lines, border):
    """Random points around many lines, some within a metre of the 50 m mark: the cell
    prefilter and the cut lines lose nothing against shapely's exact distance."""
    rng = np.random.default_rng(4)
    middle = shapely.line_interpolate_point(lines.geometry.values, rng.uniform(0, 1, len(lines)), normalized=True)
    picked = rng.integers(0, len(lines), 20_000)
    x = shapely.get_x(middle)[picked] + rng.normal(0, 80, picked.size)
    y = shapely.get_y(middle)[picked] + rng.normal(0, 80, picked.size)
    lon, lat = TO_WGS.transform(x, y)
    points = shapely.points(*TO_METRIC.transform(lon, lat))
    whole = np.asarray(lines.geometry.values)
    point, line = shapely.STRtree(whole).query(points, predicate="dwithin", distance=51.0)
    distance = shapely.distance(points[point], whole[line])
    assert ((distance > 49) & (distance < 51)).sum() > 100  # the edge is exercised
    keep = distance <= 50.0
    expected = pd.DataFrame({"point": point[keep], "a": lines["a"].to_numpy()[line[keep]],
                             "b": lines["b"].to_numpy()[line[keep]], "distance_m": distance[keep]}
                            ).sort_values(["point", "a", "b"], ignore_index=True)
    found = border.near(lon, lat).sort_values(["point", "a", "b"], ignore_index=True)
    assert len(expected) > 5_000
    pd.testing.assert_frame_equal(found[["point", "a", "b"]], expected[["point", "a", "b"]])
    np.testing.assert_allclose(found["distance_m"], expected["distance_m"], atol=1e-6)


def test_footprints_across_a_line_name_every_township(lines, border, townships):
    line = _pair_line(lines)
    centre = shapely.line_interpolate_point(line, 0.5, normalized=True)
    inside_a = _offset_from_line(line, -300.0)
    square = shapely.box(centre.x - 30, centre.y - 30, centre.x + 30, centre.y + 30)
    road = shapely.LineString([_offset_from_line(line, -80.0), _offset_from_line(line, 80.0)])
    small = shapely.Point(inside_a).buffer(0.0002)
    footprints = np.array([_wgs(square), road, small, None, shapely.Point(116.3, 39.9)], dtype=object)
    found = border.across(footprints)
    assert sorted(set(found["item"])) == [0, 1]
    for item in (0, 1):
        assert set(found.loc[found["item"] == item, "code"]) == set(PAIR)
    square_a = found[(found["item"] == 0) & (found["code"] == PAIR[0])]["measure"].iloc[0]
    exact = shapely.intersection(square, townships.set_index("code").to_crs(32650).geometry[PAIR[0]]).area
    assert square_a == pytest.approx(exact, rel=1e-9)


def _wgs(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(TO_WGS.transform(xy[:, 0], xy[:, 1])))


def _locate(townships, lon, lat):
    polygons = townships.geometry.values
    codes = townships["code"].to_numpy()
    point, poly = shapely.STRtree(polygons).query(shapely.points(lon, lat), predicate="intersects")
    out = np.full(lon.size, None, dtype=object)
    out[point] = codes[poly]
    return out


def test_a_dense_group_on_the_line_is_a_cluster_and_one_side_is_not(lines, townships):
    rng = np.random.default_rng(8)
    line = _pair_line(lines)
    on_line = shapely.line_interpolate_point(line, 0.5, normalized=True)
    one_side = _offset_from_line(line, -400.0)
    one_side = TO_METRIC.transform(*one_side)
    x = np.concatenate([on_line.x + rng.normal(0, 30, 40), one_side[0] + rng.normal(0, 30, 40),
                        on_line.x + rng.uniform(-3000, 3000, 3000)])
    y = np.concatenate([on_line.y + rng.normal(0, 30, 40), one_side[1] + rng.normal(0, 30, 40),
                        on_line.y + rng.uniform(-3000, 3000, 3000)])
    lon, lat = TO_WGS.transform(x, y)
    town = _locate(townships, lon, lat)
    found = straddling_clusters(lon, lat, town)
    assert found["cluster"].nunique() == 1
    members = found["point"].to_numpy()
    assert (members < 40).mean() > 0.9  # the group on the line
    assert (members < 40).sum() >= 35
    assert set(town[members]) >= set(PAIR)


def test_uniform_density_makes_no_cluster_however_dense(townships, lines):
    """The city's dense core is not a cluster: a core point must stand out from its ring."""
    rng = np.random.default_rng(9)
    centre = shapely.line_interpolate_point(_pair_line(lines), 0.5, normalized=True)
    x = centre.x + rng.uniform(-1500, 1500, 60_000)
    y = centre.y + rng.uniform(-1500, 1500, 60_000)
    lon, lat = TO_WGS.transform(x, y)
    found = straddling_clusters(lon, lat, _locate(townships, lon, lat))
    assert found.empty


def test_ping_pong_counts_hand_offs_between_neighbours(border):
    a, b = PAIR
    far = next(code for code in border.townships["code"] if (min(a, code), max(a, code)) not in border.pairs
               and code != a)

    def steps(*units):
        out = [{"at": "2026-11-01 08:00:00", "unit": units[0], "action": "dispatched"}]
        for hour, unit in enumerate(units[1:], start=9):
            out.append({"at": f"2026-11-01 {hour:02d}:00:00", "unit": out[-1]["unit"], "action": "returned"})
            out.append({"at": f"2026-11-01 {hour:02d}:10:00", "unit": unit, "action": "redispatched"})
        return out

    found = ping_pong([steps(a, b, a), steps(a, b), steps(a, far, a), None, [], steps(a, "city_management", a),
                       steps(b, a, b, a)], border.pairs)
    assert found["item"].tolist() == [0, 6]
    assert found["townships"].tolist() == [tuple(sorted(PAIR))] * 2
    assert found["handoffs"].tolist() == [2, 3]
    assert found["last_at"].iloc[1] == "2026-11-01 11:10:00"


def test_bad_parameters(border, townships):
    with pytest.raises(ValidationError, match="positive"):
        BorderLines.build(townships, distance_m=0)
    with pytest.raises(ValidationError, match="projected"):
        BorderLines.build(townships, metric_crs="EPSG:4326")
    with pytest.raises(ValidationError, match="latitudes"):
        border.near(np.array([116.3, 116.4]), np.array([39.9]))
    with pytest.raises(ValidationError, match="one township per point"):
        straddling_clusters(np.array([116.3]), np.array([39.9]), np.array(["a", "b"]))
    with pytest.raises(ValidationError, match="min_ratio"):
        straddling_clusters(np.array([116.3]), np.array([39.9]), np.array(["a"]), min_ratio=0.5)


def test_a_point_is_near_a_line_only_when_its_uncertainty_reaches_it(lines, border):
    """40 m inside with a 10 m GPS fix is its township's; the same point sent with a 60 m accuracy
    (capped at distance_m) is in doubt; a converted point's default is wider than a GPS one's."""
    from geo.detect.cases import near_cases, uncertainty_m
    from geo.detect.rules import detect_rules
    from geo.locate.cells import h3_cells

    defaults = detect_rules().borders.uncertainty
    line = _pair_line(lines)
    points = [_offset_from_line(line, metres) for metres in (40.0, 40.0, 8.0, 13.0, 13.0)]
    lon, lat = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    crs = np.array([None, None, None, "gcj02", None], dtype=object)
    accuracy = np.array([np.nan, 60.0, np.nan, np.nan, np.nan])
    reach = uncertainty_m(np.full(5, "point", dtype=object), crs, accuracy, defaults)
    assert reach.tolist() == [defaults["wgs84"], 60.0, defaults["wgs84"], defaults["gcj02"], defaults["wgs84"]]
    assert uncertainty_m(np.array(["community", "township"], dtype=object), np.array([None, None]),
                         np.array([np.nan, np.nan]), defaults).tolist() == [defaults["community"],
                                                                             defaults["township"]]
    frame = pd.DataFrame({"id": np.arange(5), "received_us": np.zeros(5, dtype=np.int64), "category": "noise",
                          "theme": "environment", "lon": lon, "lat": lat,
                          "h3": h3_cells(lon, lat, border.resolution), "uncertainty_m": reach})
    found = near_cases(border, frame, 250.0, skip=set())
    assert sorted(found["complaint_id"]) == [1, 2, 3]  # not 0 (10 m fix, 40 m in) nor 4 (10 m fix, 13 m in)
    assert sorted(near_cases(border, frame.drop(columns="uncertainty_m"), 250.0, skip=set())["complaint_id"]) == [
        0, 1, 2, 3, 4]
