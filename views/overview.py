"""Overview, for supervisors: the city's heat map, hot spots, classes and ranking."""

from __future__ import annotations

import folium
import numpy as np
import pandas as pd
import streamlit as st

from geo.act.governance import COUNTS, LATE_RATES, RATES, GovernanceRules, rate_text, rates
from geo.detect.hotspots import SIGNAL_STEPS
from geo.detect.rules import detect_rules
from geo.i18n import N_, _
from geo.show.text import month_label, short_day
from geo.show.words import CLASSES, PATTERNS, STEPS, category_name, theme_name, word, words
from geo.show.words import RATES as RATE_WORDS
from layers.cells import emerging_layer, emerging_legend, gi_layer, gi_legend, heat_layer, heat_legend
from layers.governance import class_layer, class_legend
from views import charts, data, filters, maps, session
from views.session import require_user
from views.tables import table as show_table

MAX_CELLS = 2_500
"""The most hexagons a heat map sends; a larger selection is drawn at a coarser resolution."""
OVERLAYS = {"complaints": N_("Complaints"), "gi": N_("Hot and cold spots"), "emerging": N_("Emerging hot spots"),
            "classes": N_("Township classes")}
"""The overview map's layers, shown one at a time, by key."""


def render() -> None:
    """The supervisor's page."""
    user = require_user()
    st.title(_("Overview"))
    days = data.days(user)
    if days is None:
        st.warning(_("No complaints are stored yet. Load some with `python -m geo ingest` or `python -m geo demo`."))
        return
    selection, resolution = filters.selection(days, key="overview", resolution=detect_rules().hotspots.resolution)
    # The map goes to the browser first, its slowest part to draw; the figures fill in above it.
    figures = st.container()

    overlay = st.radio(_("Map"), list(OVERLAYS), horizontal=True, key="overview_overlay",
                       format_func=lambda o: _(OVERLAYS[o]),
                       help=_("One layer at a time keeps the page light; each has its legend."))
    gi_run, emerging_run = data.latest_run(user, "gi"), data.latest_run(user, "emerging")
    signal = emerging_run is not None and int(emerging_run["steps"]) >= SIGNAL_STEPS
    ranked = data.ranking(user)
    fmap = maps.new_map()
    layer = folium.FeatureGroup(name=_(OVERLAYS[overlay]))
    if overlay == "complaints":
        cells = data.cell_volumes(user, selection, resolution, None, MAX_CELLS)
        shown_resolution = cells.attrs.get("resolution", resolution)
        if shown_resolution != resolution:
            st.caption(_("{cells:,} cells at resolution {shown}: the selection is drawn {levels} level(s) coarser "
                         "than asked to keep the page light.").format(cells=len(cells), shown=shown_resolution,
                                                                      levels=resolution - shown_resolution))
        if len(cells):
            heat_layer(cells).add_to(layer)
            heat_legend(cells, shown_resolution).add_to(layer)
    elif overlay == "gi" and gi_run is not None:
        gi_layer(data.hotspot_cells(user, gi_run["id"], None).query("bin != 0")).add_to(layer)
        gi_legend().add_to(layer)
    elif overlay == "emerging" and emerging_run is not None and not signal:
        st.info(_(NO_SIGNAL).format(steps=emerging_run["steps"], needed=SIGNAL_STEPS))
    elif overlay == "emerging" and emerging_run is not None:
        emerging = data.hotspot_cells(user, emerging_run["id"], None)
        emerging_layer(emerging).add_to(layer)
        emerging_legend(list(emerging["pattern"].unique())).add_to(layer)
    elif overlay == "classes" and len(ranked) and len(towns := data.jurisdictions("township")):
        month = month_label(pd.Timestamp(ranked["month"].iloc[0]).date())
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
        st.subheader(_("Emerging hot spots"))
        emerging = data.hotspot_cells(user, emerging_run["id"], None) if emerging_run and signal else pd.DataFrame()
        if emerging_run is not None and not signal:
            st.caption(_(NO_SIGNAL).format(steps=emerging_run["steps"], needed=SIGNAL_STEPS))
        elif len(emerging):
            counts = (emerging[emerging["pattern"] != "no pattern"].groupby("pattern").size()
                      .rename("cells").sort_values(ascending=False).reset_index())
            show_table(counts.assign(pattern=words(PATTERNS, counts["pattern"])))
        else:
            st.caption(_("No emerging hot-spot run yet (`python -m geo detect`)."))
        st.subheader(_("Categories"))
        cats = data.category_volumes(user, selection, None)
        named = cats.assign(name=[category_name(c) for c in cats["category"]],
                            theme=[theme_name(t) for t in cats["theme"]])
        show_table(named[["name", "theme", "volume", "before", "change_pct"]].head(15), column_config={
                         "change_pct": st.column_config.NumberColumn(format="%+.0f %%")})
    ranking_table(ranked)


def key_figures(user, selection, township: str | None = None) -> None:
    """Complaints and the three rates of the selection, against the period before."""
    now = data.daily_counts(user, selection, township)
    before = data.daily_counts(user, selection, township, before=True)
    rules = GovernanceRules.load()
    totals = pd.DataFrame([now[list(COUNTS)].sum(), before[list(COUNTS)].sum()])
    found = rates(totals, rules)
    columns = st.columns(4)
    change = (_("{change:+.1f} % on the period before").format(
        change=100 * (totals["volume"][0] / totals["volume"][1] - 1)) if totals["volume"][1] else None)
    columns[0].metric(_("Complaints"), f"{int(totals['volume'][0]):,}", change, delta_color="inverse")
    for column, name in zip(columns[1:], RATES, strict=True):
        value, previous = found[name][0], found[name][1]
        column.metric(word(RATE_WORDS, name), rate_text(value, totals[RATES[name][1]][0]),
                      None if pd.isna(value) or pd.isna(previous)
                      else _("{points:+.1f} points").format(points=100 * (value - previous)))


def trend(user, selection, township: str | None = None) -> None:
    """Complaints per day (with the city's mean per township beside one township's)."""
    daily = data.daily_counts(user, selection, township)
    st.subheader(_("Complaints per day"))
    if daily.empty:
        st.caption(_("No complaints in this period."))
        return
    chart = daily.set_index("day")[["volume"]].rename(columns={"volume": _("complaints")})
    if township is not None:
        chart[_("city mean per township")] = daily.set_index("day")["city_per_township"].round(1)
    charts.line_chart(chart, height=240, y_title=_("complaints"))
    rules = GovernanceRules.load()
    found = rates(daily.set_index("day")[list(COUNTS)], rules)
    # The outcomes and callbacks of the last days are still coming in: their rates would seem to drop.
    provisional = rules.provisional_from(data.days(user)[1])
    found.loc[pd.to_datetime(found.index).date >= provisional, list(LATE_RATES)] = np.nan
    st.caption(_("The three rates (三率) per day (a day with too few answers is left out)"),
               help=_("Resolution and satisfaction are left out from {day} on: the outcomes and callbacks of the "
                      "last {days} days are still coming in.").format(day=short_day(provisional),
                                                                      days=rules.provisional_days))
    charts.line_chart((100 * found[list(RATES)]).rename(columns=lambda r: word(RATE_WORDS, r)).round(1),
                      height=200, y_title="%")
    if (pd.to_datetime(daily["day"]).dt.date >= provisional).any():
        st.caption(_("Provisional from {day}: resolution and satisfaction rates of the last {days} days are left "
                     "out while their outcomes and callbacks come in.").format(day=short_day(provisional),
                                                                             days=rules.provisional_days))


def ranking_table(ranked: pd.DataFrame) -> None:
    """The month's ranking with the three rates and the classes."""
    month = month_label(pd.Timestamp(ranked["month"].iloc[0]).date()) if len(ranked) else ""
    st.subheader(_("Ranking, {month}").format(month=month) if month else _("Ranking"))
    if ranked.empty:
        st.caption(_("No month is classified yet (`python -m geo governance run`)."))
        return
    table = ranked.assign(label=words(CLASSES, ranked["label"]))[
        ["composite_rank", "name", "district", "label", "volume", "volume_rank", "response_rate",
         "resolution_rate", "satisfaction_rate", "composite", "whistles", "whistle_rate"]]
    percent = {name: st.column_config.NumberColumn(format="percent") for name in RATES}
    st.caption(_("Click a township's row to open its page. Whistles: the calls raised on a township in the month "
                 "(by the rules, or blown from a proposal), per 1,000 of its complaints; the city's median is "
                 "{median:.1f}, and a rate far above or below it is worth a look.").format(
        median=float(pd.Series(ranked["whistle_rate"]).median()) if ranked["whistle_rate"].notna().any() else 0.0))
    picked = show_table(table, column_config={"composite": st.column_config.NumberColumn(format="%.1f"),
                                              "whistle_rate": st.column_config.NumberColumn(format="%.2f"), **percent},
                        select_key="overview_ranking_pick")
    if picked is not None:
        session.open_township(str(ranked["township_code"].iloc[picked]))


def _runs_caption(gi_run: dict | None, emerging_run: dict | None) -> None:
    parts = []
    if gi_run is not None:
        parts.append(_("hot and cold spots of {start} – {end}").format(
            start=short_day(gi_run["period_start"]), end=short_day(gi_run["period_end"])))
    if emerging_run is not None:
        parts.append(_("emerging hot spots over {steps} periods of a {step}").format(
            steps=emerging_run["steps"], step=word(STEPS, emerging_run["step"])))
    if parts:
        st.caption(_("Hot-spot layers: {layers}.").format(layers=_("; ").join(parts)),
                   help=_(METHOD_HELP).format(**({"resolution": gi_run["resolution"], "k": gi_run["k"],
                                                  "alpha": gi_run["alpha"]} if gi_run else
                                                 {"resolution": "", "k": "", "alpha": ""})))


NO_SIGNAL = N_("The latest emerging hot-spot run covers {steps} periods: too few for a trend (at least {needed}), "
                "so it shows no pattern yet.")
METHOD_HELP = N_("Hot and cold spots: the Getis-Ord Gi* statistic of each H3 cell's complaints (resolution "
                 "{resolution}, neighbours within {k} ring), corrected for many cells at once (false discovery "
                 "rate {alpha}); confidence 90/95/99 %. Emerging hot spots: Gi* per period and the trend of "
                 "its z-scores (Mann-Kendall test), as in ArcGIS's Emerging Hot Spot Analysis.")
