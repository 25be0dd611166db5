"""Borders, for coordinators: the whistle-call queue, one call's two sides, and the actions on it."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.act.users import User
from geo.act.whistle import LEVELS
from geo.errors import WhistleError
from geo.show import dashboard_db as dashboard
from layers.base import frame_bounds
from layers.borders import call_layer, call_legend, case_legend, complaint_layer, line_layer, sides_layer
from views import data, maps, messages
from views.session import require_user
from views.tables import table as show_table

STATES = {"Open (raised)": "raised", "Resolved": "resolved", "Closed": "closed", "All": None}
FLASH = "borders_flash"
MAP_CALLS = 500


def countdown(deadline: datetime, now: datetime) -> str:
    """``"12 min left"`` or ``"late by 1 h 05 min"``."""
    minutes = int((deadline - now).total_seconds() // 60)
    span = abs(minutes)
    text = f"{span // 60} h {span % 60:02d} min" if span >= 60 else f"{span} min"
    return f"{text} left" if minutes >= 0 else f"late by {text}"


def render() -> None:
    """The queue and the selected call."""
    user = require_user()
    st.title("Borders: whistle calls")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    now = data.now()
    state = STATES[st.sidebar.radio("Calls", list(STATES), key="borders_state")]
    queue = dashboard.call_queue(data.engine(), user, now=now, state=state)
    names = data.township_names()
    if queue.empty:
        st.info("No whistle call here. Calls are raised from border cases with `python -m geo whistle raise`.")
        return
    counts = dashboard.call_counts(data.engine(), user, now=now)
    columns = st.columns(4)
    columns[0].metric("Open calls", f"{counts['open']:,}")
    columns[1].metric("Open emergencies", f"{counts['emergencies']:,}")
    columns[2].metric("Open with late addressees", f"{counts['late']:,}")
    columns[3].metric("Clock", f"{now.astimezone(data.zone()):%d %b %H:%M}")

    table = queue.assign(
        townships=[", ".join(names.get(t, t) for t in ts) for ts in queue["townships"]],
        deadline=[countdown(d, now) if s == "raised" else s for d, s in zip(queue["deadline_at"], queue["state"],
                                                                            strict=True)],
        level=queue["escalation"].map(lambda i: LEVELS[int(i)]),
    )
    places = dashboard.call_places(data.engine(), user, queue["id"].head(MAP_CALLS).tolist())
    if len(places):
        shown = places.merge(table, on="id")
        shown = shown.assign(townships_text=shown["townships"], deadline_text=shown["deadline"])
        fmap = maps.new_map(frame_bounds(shown))
        call_layer(gpd.GeoDataFrame(shown, geometry="geom", crs=4326)).add_to(fmap)
        call_legend().add_to(fmap)
        maps.show(fmap, key=f"borders_map_{state}", height=420)
    st.subheader(f"Queue, most urgent first ({len(queue):,} shown)")
    show_table(table[["id", "kind", "state", "townships", "complaints", "addressees", "pending", "late",
                      "deadline", "level"]])

    call_id = st.selectbox("Open a call", queue["id"].tolist(), key="borders_call",
                           format_func=lambda i: _label(table, i))
    try:
        detail = dashboard.call_for(data.engine(), user, int(call_id))
    except WhistleError as exc:
        messages.error(exc)
        return
    _call(user, detail, now, names)


def _label(table: pd.DataFrame, call_id: int) -> str:
    row = table[table["id"] == call_id].iloc[0]
    return f"#{call_id} · {row['kind']} · {row['townships']} · {row['deadline']}"


def _call(user: User, detail, now: datetime, names: dict[str, str]) -> None:
    call = detail.call
    st.subheader(f"Call #{call['id']}: {call['kind']}, {call['state']}, at {LEVELS[call['escalation']]} level")
    towns = data.jurisdictions("township")
    sides = towns[towns["code"].isin(call["townships"])].set_index("code").loc[
        [t for t in call["townships"] if t in set(towns["code"])]].reset_index()
    lines = dashboard.shared_lines(data.engine(), list(call["townships"]))
    points = gpd.GeoDataFrame(
        detail.complaints.assign(received_text=detail.complaints["received_at"].map(
            lambda t: f"{t.astimezone(data.zone()):%d %b %H:%M}") if len(detail.complaints) else []),
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
        countdown=[countdown(d, now) if s == "pending" else s
                   for d, s in zip(detail.addressees["deadline_at"], detail.addressees["state"], strict=True)])
    st.markdown("**Addressees**")
    show_table(addressees[["kind", "code", "name", "state", "countdown", "reported_at", "done_at", "late",
                           "escalation"]])
    st.markdown(f"**Complaints** ({len(detail.complaints):,}; phones masked)")
    show_table(detail.complaints.drop(columns=["lon", "lat"]))
    _actions(user, call, addressees)
    st.markdown("**History**")
    show_table(detail.events)


def _actions(user: User, call: dict, addressees: pd.DataFrame) -> None:
    """Check in for an addressee; resolve, escalate or close the call. Each is an event with the user."""
    mine = addressees if user.city_wide else addressees[addressees["organisation_id"] == user.organisation_id]
    with st.form(f"call_actions_{call['id']}", clear_on_submit=True):
        note = st.text_input("Note (optional)", max_chars=2000, key="call_note")
        who = st.selectbox("Addressee", mine["code"].tolist(), key="call_addressee",
                           format_func=lambda c: f"{c} · {mine.set_index('code').loc[c, 'name']}")
        done = st.checkbox("Report the part done (not only checked in)", key="call_done")
        buttons = st.columns(4)
        pressed = {"check in": buttons[0].form_submit_button("Check in", disabled=mine.empty)}
        if user.city_wide:
            pressed |= {"resolve": buttons[1].form_submit_button("Resolve"),
                        "escalate": buttons[2].form_submit_button("Escalate"),
                        "close": buttons[3].form_submit_button("Close")}
    action = next((name for name, hit in pressed.items() if hit), None)
    if action is None:
        return
    try:
        dashboard.act_on_call(data.engine(), user, call["id"], action, now=data.now(), addressee=who, done=done,
                              note=note or None, expected_version=call["version"])
    except WhistleError as exc:
        messages.error(exc)
        return
    st.session_state[FLASH] = f"Call #{call['id']}: {action} recorded by {user.username}."
    st.rerun()
