"""Overview, for supervisors: the city's heat map, hot spots, classes and ranking."""

from __future__ import annotations

import folium
import pandas as pd
import streamlit as st

from geo.act.governance import COUNTS, RATES, GovernanceRules, rate_text, rates
from geo.detect.rules import detect_rules
from layers.cells import emerging_layer, emerging_legend, gi_layer, gi_legend, heat_layer, heat_legend
from layers.governance import LABEL_NAMES, class_layer, class_legend
from views import charts, data, filters, maps
from views.session import require_user
from views.tables import table as show_table

MAX_CELLS = 2_500
"""The most hexagons a heat map sends; a larger selection is drawn at a coarser resolution."""
OVERLAYS = ("Complaints", "Gi* hot spots", "Emerging hot spots", "Township classes")
"""The overview map's layers, shown one at a time."""
RATE_NAMES = {"response_rate": "Response rate", "resolution_rate": "Resolution rate",
              "satisfaction_rate": "Satisfaction rate"}


def render() -> None:
    """The supervisor's page."""
    user = require_user()
    st.title("Overview")
    days = data.days(user)
    if days is None:
        st.warning("No complaints are stored yet. Load some with `python -m geo ingest` or `python -m geo demo`.")
        return
    selection, resolution = filters.selection(days, key="overview", resolution=detect_rules().hotspots.resolution)
    # The map goes to the browser first, its slowest part to draw; the figures fill in above it.
    figures = st.container()

    overlay = st.radio("Map", list(OVERLAYS), horizontal=True, key="overview_overlay",
                       help="One layer at a time keeps the page light; each has its legend.")
    gi_run, emerging_run = data.latest_run(user, "gi"), data.latest_run(user, "emerging")
    ranked = data.ranking(user)
    fmap = maps.new_map()
    layer = folium.FeatureGroup(name=overlay)
    if overlay == "Complaints":
        cells = data.cell_volumes(user, selection, resolution, None, MAX_CELLS)
        shown_resolution = cells.attrs.get("resolution", resolution)
        if shown_resolution != resolution:
            st.caption(f"{len(cells):,} cells at resolution {shown_resolution}: the selection is drawn "
                       f"{resolution - shown_resolution} level(s) coarser than asked to keep the page light.")
        if len(cells):
            heat_layer(cells).add_to(layer)
            heat_legend(cells, shown_resolution).add_to(layer)
    elif overlay == "Gi* hot spots" and gi_run is not None:
        gi_layer(data.hotspot_cells(user, gi_run["id"], None).query("bin != 0")).add_to(layer)
        gi_legend().add_to(layer)
    elif overlay == "Emerging hot spots" and emerging_run is not None:
        emerging = data.hotspot_cells(user, emerging_run["id"], None)
        emerging_layer(emerging).add_to(layer)
        emerging_legend(list(emerging["pattern"].unique())).add_to(layer)
    elif overlay == "Township classes" and len(ranked) and len(towns := data.jurisdictions("township")):
        month = pd.Timestamp(ranked["month"].iloc[0]).strftime("%B %Y")
        classed = towns.merge(ranked.drop(columns=["name"]), left_on="code", right_on="township_code", how="left")
        class_layer(classed).add_to(layer)
        class_legend(month).add_to(layer)
    maps.show(fmap, key="overview_map", height=620, layer_control=False, overlay=layer)
    _runs_caption(gi_run, emerging_run)
    with figures:
        key_figures(user, selection)

    left, right = st.columns(2)
    with left:
        trend(user, selection)
    with right:
        st.subheader("Emerging hot spots")
        emerging = data.hotspot_cells(user, emerging_run["id"], None) if emerging_run else pd.DataFrame()
        if len(emerging):
            counts = (emerging[emerging["pattern"] != "no pattern"].groupby("pattern").size()
                      .rename("cells").sort_values(ascending=False).reset_index())
            show_table(counts)
        else:
            st.caption("No emerging hot-spot run yet (`python -m geo detect`).")
        st.subheader("Categories")
        cats = data.category_volumes(user, selection, None)
        show_table(cats[["name", "theme", "volume", "before", "change_pct"]].head(15), column_config={
                         "before": st.column_config.NumberColumn("period before"),
                         "change_pct": st.column_config.NumberColumn("change", format="%+.0f %%")})
    ranking_table(ranked)


def key_figures(user, selection, township: str | None = None) -> None:
    """Complaints and the three rates of the selection, against the period before."""
    now = data.daily_counts(user, selection, township)
    before = data.daily_counts(user, selection, township, before=True)
    rules = GovernanceRules.load()
    totals = pd.DataFrame([now[list(COUNTS)].sum(), before[list(COUNTS)].sum()])
    found = rates(totals, rules)
    columns = st.columns(4)
    change = (f"{100 * (totals['volume'][0] / totals['volume'][1] - 1):+.1f} % on the period before"
              if totals["volume"][1] else None)
    columns[0].metric("Complaints", f"{int(totals['volume'][0]):,}", change, delta_color="inverse")
    for column, name in zip(columns[1:], RATES, strict=True):
        value, previous = found[name][0], found[name][1]
        column.metric(RATE_NAMES[name], rate_text(value, totals[RATES[name][1]][0]),
                      None if pd.isna(value) or pd.isna(previous) else f"{100 * (value - previous):+.1f} pts")


def trend(user, selection, township: str | None = None) -> None:
    """Complaints per day (with the city's mean per township beside one township's)."""
    daily = data.daily_counts(user, selection, township)
    st.subheader("Complaints per day")
    if daily.empty:
        st.caption("No complaints in this period.")
        return
    chart = daily.set_index("day")[["volume"]].rename(columns={"volume": "complaints"})
    if township is not None:
        chart["city mean per township"] = daily.set_index("day")["city_per_township"].round(1)
    charts.line_chart(chart, height=240, y_title="complaints")
    found = rates(daily.set_index("day")[list(COUNTS)], GovernanceRules.load())
    st.caption("The three rates per day (a day with too few answers is left out)")
    charts.line_chart((100 * found[list(RATES)]).rename(columns=RATE_NAMES).round(1), height=200, y_title="%")


def ranking_table(ranked: pd.DataFrame) -> None:
    """The month's ranking with the three rates and the classes."""
    st.subheader("Ranking" + (f", {pd.Timestamp(ranked['month'].iloc[0]):%B %Y}" if len(ranked) else ""))
    if ranked.empty:
        st.caption("No month is classified yet (`python -m geo governance run`).")
        return
    table = ranked.assign(label=ranked["label"].map(LABEL_NAMES))[
        ["composite_rank", "name", "district", "label", "volume", "volume_rank", "response_rate",
         "resolution_rate", "satisfaction_rate", "composite"]]
    percent = {name: st.column_config.NumberColumn(RATE_NAMES[name], format="percent") for name in RATES}
    show_table(table, column_config={
        "composite_rank": st.column_config.NumberColumn("rank"), "label": "class",
        "volume_rank": st.column_config.NumberColumn("volume rank"),
        "composite": st.column_config.NumberColumn("composite", format="%.1f"), **percent})


def _runs_caption(gi_run: dict | None, emerging_run: dict | None) -> None:
    parts = []
    if gi_run is not None:
        parts.append(f"Gi* of {gi_run['period_start']:%d %b} – {gi_run['period_end']:%d %b %Y} "
                     f"(resolution {gi_run['resolution']}, k = {gi_run['k']}, FDR α = {gi_run['alpha']})")
    if emerging_run is not None:
        parts.append(f"emerging hot spots over {emerging_run['steps']} {emerging_run['step']}s")
    if parts:
        st.caption("Hot-spot layers: " + "; ".join(parts) + ".")
