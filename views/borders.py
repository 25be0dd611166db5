"""Borders, for coordinators: the whistle-call queue, one call's two sides, and the actions on it."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.act.users import User
from geo.act.whistle import LEVELS
from geo.errors import WhistleError
from geo.i18n import N_, _
from geo.show import dashboard_db as dashboard
from geo.show.text import TIME_FORMAT, short_day
from geo.show.words import (
    ADDRESSEE_KINDS,
    ADDRESSEE_STATES,
    CALL_ACTIONS,
    CALL_KINDS,
    CALL_STATES,
    category_name,
    word,
    words,
)
from geo.show.words import LEVELS as LEVEL_WORDS
from layers.base import frame_bounds
from layers.borders import call_layer, call_legend, case_legend, complaint_layer, line_layer, sides_layer
from views import data, maps, messages
from views.session import require_user
from views.tables import table as show_table

STATES = {"raised": N_("Open"), "resolved": N_("Resolved"), "closed": N_("Closed"), "all": N_("All")}
ACTIONS = {"check in": N_("Check in"), "resolve": N_("Resolve"), "escalate": N_("Escalate"), "close": N_("Close")}
FLASH = "borders_flash"
MAP_CALLS = 500


def countdown(deadline: datetime, now: datetime) -> str:
    """``"12 min left"`` or ``"late by 1 h 05 min"`` (in the current language)."""
    minutes = int((deadline - now).total_seconds() // 60)
    span = abs(minutes)
    text = (_("{hours} h {minutes:02d} min").format(hours=span // 60, minutes=span % 60) if span >= 60
            else _("{minutes} min").format(minutes=span))
    return (_("{span} left") if minutes >= 0 else _("late by {span}")).format(span=text)


def render() -> None:
    """The queue and the selected call."""
    user = require_user()
    st.title(_("Whistle calls (街乡吹哨、部门报到)"))
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    now = data.now()
    chosen = st.sidebar.radio(_("Calls"), list(STATES), key="borders_state", format_func=lambda k: _(STATES[k]))
    state = None if chosen == "all" else chosen
    queue = dashboard.call_queue(data.engine(), user, now=now, state=state)
    names = data.township_names()
    if queue.empty:
        st.info(_("No whistle call here. Calls are raised from border cases with `python -m geo whistle raise`."))
        return
    counts = dashboard.call_counts(data.engine(), user, now=now)
    columns = st.columns(4)
    columns[0].metric(_("Open calls"), f"{counts['open']:,}")
    columns[1].metric(_("Open emergencies"), f"{counts['emergencies']:,}")
    columns[2].metric(_("Open with late addressees"), f"{counts['late']:,}")
    local = now.astimezone(data.zone())
    columns[3].metric(_("Clock, {day}").format(day=short_day(local.date())), f"{local:%H:%M}")

    table = queue.assign(
        townships=[_(", ").join(names.get(t, t) for t in ts) for ts in queue["townships"]],
        deadline=[countdown(d, now) if s == "raised" else word(CALL_STATES, s)
                  for d, s in zip(queue["deadline_at"], queue["state"], strict=True)],
        level=queue["escalation"].map(lambda i: word(LEVEL_WORDS, LEVELS[int(i)])),
        kind=words(CALL_KINDS, queue["kind"]), state=words(CALL_STATES, queue["state"]),
        kind_code=queue["kind"], state_code=queue["state"],
    )
    places = dashboard.call_places(data.engine(), user, queue["id"].head(MAP_CALLS).tolist())
    if len(places):
        shown = places.merge(table, on="id")
        shown = shown.assign(townships_text=shown["townships"], deadline_text=shown["deadline"])
        fmap = maps.new_map(frame_bounds(shown))
        call_layer(gpd.GeoDataFrame(shown.assign(kind_text=shown["kind"], state_text=shown["state"],
                                                 kind=shown["kind_code"], state=shown["state_code"]),
                                    geometry="geom", crs=4326)).add_to(fmap)
        call_legend().add_to(fmap)
        maps.show(fmap, key=f"borders_map_{state}", height=420)
    st.subheader(_("Queue, most urgent first ({count:,} shown)").format(count=len(queue)))
    show_table(table[["id", "kind", "state", "townships", "complaints", "addressees", "pending", "late",
                      "deadline", "level"]])

    call_id = st.selectbox(_("Open a call"), queue["id"].tolist(), key="borders_call",
                           format_func=lambda i: _label(table, i))
    try:
        detail = dashboard.call_for(data.engine(), user, int(call_id))
    except WhistleError as exc:
        messages.error(exc)
        return
    _call(user, detail, now, names)


_ANY_STATE = {**CALL_STATES, **ADDRESSEE_STATES}


def _label(table: pd.DataFrame, call_id: int) -> str:
    row = table[table["id"] == call_id].iloc[0]
    return f"#{call_id} · {row['kind']} · {row['townships']} · {row['deadline']}"


def _call(user: User, detail, now: datetime, names: dict[str, str]) -> None:
    call = detail.call
    st.subheader(_("Call #{id}: {kind}, {state}, {level}").format(
        id=call["id"], kind=word(CALL_KINDS, call["kind"]), state=word(CALL_STATES, call["state"]),
        level=word(LEVEL_WORDS, LEVELS[call["escalation"]])))
    towns = data.jurisdictions("township")
    sides = towns[towns["code"].isin(call["townships"])].set_index("code").loc[
        [t for t in call["townships"] if t in set(towns["code"])]].reset_index()
    lines = dashboard.shared_lines(data.engine(), list(call["townships"]))
    points = gpd.GeoDataFrame(
        detail.complaints.assign(received_text=detail.complaints["received_at"].map(
            lambda t: f"{t.astimezone(data.zone()):{TIME_FORMAT}}") if len(detail.complaints) else [],
        category=[category_name(c) for c in detail.complaints["category"]]),
        geometry=gpd.points_from_xy(detail.complaints["lon"], detail.complaints["lat"]), crs=4326)
    fmap = maps.new_map(frame_bounds(sides) if len(sides) else None)
    if len(sides):
        sides_layer(sides).add_to(fmap)
    if len(lines):
        line_layer(lines).add_to(fmap)
    if len(points):
        complaint_layer(points, list(sides["code"])).add_to(fmap)
    case_legend(list(sides["name"])).add_to(fmap)
    maps.show(fmap, key=f"call_map_{call['id']}", height=460)

    addressees = detail.addressees.assign(
        name=detail.addressees["organisation"],
        countdown=[countdown(d, now) if s == "pending" else word(ADDRESSEE_STATES, s)
                   for d, s in zip(detail.addressees["deadline_at"], detail.addressees["state"], strict=True)])
    st.markdown("**" + _("Addressees") + "**")
    show_table(addressees.assign(kind=words(ADDRESSEE_KINDS, addressees["kind"]),
                                 state=words(ADDRESSEE_STATES, addressees["state"]))[
        ["name", "kind", "state", "countdown", "reported_at", "done_at", "late", "escalation", "code"]])
    st.markdown(_("**Complaints** ({count:,}; phones masked)").format(count=len(detail.complaints)))
    show_table(points.drop(columns=["lon", "lat", "received_text", "geometry"]))
    _actions(user, call, addressees)
    st.markdown("**" + _("History") + "**")
    events = detail.events
    show_table(events.assign(**{name: words(table, events[name]) for name, table in
                                (("action", CALL_ACTIONS), ("from_state", _ANY_STATE), ("to_state", _ANY_STATE))
                                if name in events}))


def _actions(user: User, call: dict, addressees: pd.DataFrame) -> None:
    """Check in for an addressee; resolve, escalate or close the call. Each is an event with the user."""
    mine = addressees if user.city_wide else addressees[addressees["organisation_id"] == user.organisation_id]
    form = f"call_actions_{call['id']}"
    with st.form(form, clear_on_submit=True):
        note = st.text_input(_("Note (optional)"), max_chars=2000, key="call_note")
        who = st.selectbox(_("Addressee"), mine["code"].tolist(), key="call_addressee",
                           format_func=lambda c: str(mine.set_index("code").loc[c, "name"]))
        done = st.checkbox(_("Report the part done (not only checked in)"), key="call_done")
        buttons = st.columns(4)
        # Keys, not labels, name the buttons: a click survives a change of language.
        offered = ["check in", *(("resolve", "escalate", "close") if user.city_wide else ())]
        pressed = {name: buttons[i].form_submit_button(_(ACTIONS[name]), key=f"{form}_{name.replace(' ', '_')}",
                                                       disabled=name == "check in" and mine.empty)
                   for i, name in enumerate(offered)}
    action = next((name for name, hit in pressed.items() if hit), None)
    if action is None:
        return
    try:
        dashboard.act_on_call(data.engine(), user, call["id"], action, now=data.now(), addressee=who, done=done,
                              note=note or None, expected_version=call["version"])
    except WhistleError as exc:
        messages.error(exc)
        return
    st.session_state[FLASH] = _("Call #{id}: “{action}” recorded by {user}.").format(
        id=call["id"], action=_(ACTIONS[action]), user=user.username)
    st.rerun()
