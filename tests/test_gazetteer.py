"""The address gazetteer on real township and community names."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.demo.synth import COMMUNITIES_FILE
from geo.locate.gazetteer import geocode


def one(address):
    match = geocode(pd.Series([address], dtype="string"))
    return match.precision[0], match.township_code[0], match.reason[0], (match.lon[0], match.lat[0])


def test_a_community_gives_its_point():
    communities = pd.read_csv(COMMUNITIES_FILE)
    row = communities[communities["name"] == "多福巷社区居委会"].iloc[0]
    precision, _, reason, point = one("北京市东城区东华门街道多福巷社区5号楼")
    assert precision == "community"
    assert reason is None
    assert point == pytest.approx((row["lon"], row["lat"]))


@pytest.mark.parametrize("address", ["景山街道某胡同", "东城区景山", "景山街道办事处门口"])
def test_a_township_with_or_without_its_suffix(address):
    precision, township, reason, _ = one(address)
    assert (precision, township, reason) == ("township", "110101002", None)


def test_an_ambiguous_community_is_rejected_with_the_candidates():
    precision, _, reason, _ = one("大郊亭")
    assert precision is None
    assert "ambiguous" in reason
    assert "南磨房地区" in reason
    assert "劲松街道" in reason


def test_the_township_in_the_address_resolves_an_ambiguous_community():
    precision, _, reason, point = one("朝阳区劲松街道大郊亭社区")
    communities = pd.read_csv(COMMUNITIES_FILE)
    row = communities[communities["name"].str.startswith("大郊亭") & communities["town_name"].str.startswith("劲松")]
    assert precision == "community"
    assert reason is None
    assert point == pytest.approx((row["lon"].iloc[0], row["lat"].iloc[0]))


def test_the_district_resolves_a_community_name_shared_across_districts():
    communities = pd.read_csv(COMMUNITIES_FILE)
    stems = communities["name"].str.replace(r"(社区居委会|居委会|村委会)$", "", regex=True)
    shared = communities.assign(stem=stems).groupby("stem").filter(lambda g: g["district"].nunique() == 2)
    stem = shared["stem"].iloc[0]
    row = shared[shared["stem"] == stem].iloc[0]
    assert one(stem)[0] is None
    precision, _, _, point = one(f"{row['district']}{stem}")
    assert precision == "community"
    assert point == pytest.approx((row["lon"], row["lat"]))


def test_unknown_and_missing_addresses_are_named():
    assert "names no known township or community" in one("火星基地一号")[2]
    assert one(None)[2] == "address is missing"


def test_every_address_is_looked_up_once_and_in_order():
    addresses = pd.Series(["景山街道", None, "景山街道", "火星"] * 1000, dtype="string")
    match = geocode(addresses)
    assert match.precision[:4].tolist() == ["township", None, "township", None]
    assert (match.precision[4:8] == match.precision[:4]).all()
