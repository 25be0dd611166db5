"""Whistle calls (街乡吹哨、部门报到): the live queue, one call's two sides, and the actions on it.

Everything a person picks here is kept by its code or id, never by a label: the call chosen stays
chosen while the countdowns tick and the queue refreshes by itself (a fragment), and a click is
never dropped because a label changed between two runs.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.act.categories import departments
from geo.act.users import User
from geo.act.whistle import KINDS, LEVELS, QueueFilter, TransitionError, WhistleRules
from geo.errors import WhistleError
from geo.i18n import N_, _, ngettext
from geo.show import dashboard_db as dashboard
from geo.show.text import TIME_FORMAT, md_escape, short_day
from geo.show.words import (
    ADDRESSEE_KINDS,
    ADDRESSEE_STATES,
    CALL_ACTIONS,
    CALL_KINDS,
    CALL_STATES,
    category_name,
    department_name,
    word,
    words,
)
from geo.show.words import LEVELS as LEVEL_WORDS
from layers.base import frame_bounds
from layers.borders import call_layer, call_legend, case_legend, complaint_layer, line_layer, sides_layer
from views import data, maps, messages
from views.session import require_user
from views.tables import table as show_table

STATES = {"raised": N_("Open"), "proposed": N_("Proposed"), "resolved": N_("Resolved"), "closed": N_("Closed"),
          "dismissed": N_("Dismissed"), "all": N_("All")}
ACTIONS = {"check in": N_("Check in"), "done": N_("Report done"), "resolve": N_("Resolve"),
           "escalate": N_("Escalate"), "close": N_("Close"), "blow": N_("Blow the whistle"), "dismiss": N_("Dismiss")}
"""The actions offered, by their code (:data:`geo.show.dashboard_db.CALL_ACTIONS`)."""
ADDRESSEE_ACTIONS = ("check in", "done")
CONFIRMED = ("escalate", "close")
"""Actions that ask to be confirmed: they move a call for everyone on it."""
ALL = "all"
FLASH = "borders_flash"
PICKED = "borders_call"
"""The chosen call's id (the picker's key): kept across refreshes, pages and filters."""
ROWS = "borders_queue_rows"
CLICKED = "borders_clicked"
"""A call clicked in the queue's table, taken by the picker on the next run."""
OFFER = "borders_offer"
"""After a refusal: the steps that would do what was asked, offered as one button."""


def countdown(deadline: datetime, now: datetime) -> str:
    """``"12 min left"`` or ``"late by 1 h 05 min"`` (in the current language)."""
    minutes = int((deadline - now).total_seconds() // 60)
    span = abs(minutes)
    text = (_("{hours} h {minutes:02d} min").format(hours=span // 60, minutes=span % 60) if span >= 60
            else _("{minutes} min").format(minutes=span))
    return (_("{span} left") if minutes >= 0 else _("late by {span}")).format(span=text)


def render() -> None:
    """The filters, the live queue, the chosen call and the actions on one call or several."""
    user = require_user()
    st.title(_("Whistle calls (街乡吹哨、部门报到)"))
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    rules = WhistleRules.load().queue
    where = _filters()
    if st.session_state.get("borders_where") != where:
        st.session_state["borders_where"] = where
        st.session_state["borders_page"] = 1  # other filters, other pages: back to the first
    page = int(st.session_state.get("borders_page", 1))
    queue = dashboard.call_queue(data.engine(), user, now=data.now(), where=where, limit=rules.page_size,
                                 offset=(page - 1) * rules.page_size)
    if queue.empty and page > 1:  # the calls of the last pages were closed meanwhile
        st.session_state["borders_page"] = page = 1
        queue = dashboard.call_queue(data.engine(), user, now=data.now(), where=where, limit=rules.page_size)
    _live_queue(user, where, page, rules.page_size, run_every=rules.refresh_seconds)
    names = data.township_names()
    labels = _labels(queue, names)
    if CLICKED in st.session_state:
        st.session_state[PICKED] = st.session_state.pop(CLICKED)
    kept = st.session_state.get(PICKED)
    options = queue["id"].tolist()
    fetched = {}
    if kept is not None and kept not in options:
        options.insert(0, kept)  # chosen before: it stays chosen when the page or a filter moves on
        try:
            # Labelled as the queue's calls are (its kind and townships), not by its number alone.
            fetched[kept] = dashboard.call_for(data.engine(), user, int(kept))
            labels.update(_labels(pd.DataFrame([dict(fetched[kept].call)]), names))
        except WhistleError:
            pass  # no longer the user's to see: said below, when it is opened
    if not options:
        return
    _map(user, queue, names, rules.map_calls)
    call_id = st.selectbox(_("Open a call"), options, key=PICKED,
                           format_func=lambda i: labels.get(i, f"#{i}"))
    try:
        detail = fetched.get(call_id) or dashboard.call_for(data.engine(), user, int(call_id))
    except WhistleError as exc:
        st.session_state.pop(PICKED, None)
        messages.error(exc)
        return
    _call(user, detail, names, run_every=rules.refresh_seconds)
    _bulk(user, queue, labels)


def _filters() -> QueueFilter:
    """The queue's filters in the sidebar; every option is a code, every label a word."""
    towns = data.jurisdictions("township")
    districts = data.jurisdictions("district")
    district_names = dict(zip(districts["code"], districts["name"], strict=True))
    with st.sidebar:
        st.markdown("#### " + _("Whistle calls"))
        state = st.radio(_("Calls"), list(STATES), key="borders_state", format_func=lambda k: _(STATES[k]))
        kind = st.selectbox(_("Kind"), [ALL, *KINDS], key="borders_kind",
                            format_func=lambda k: _("All kinds") if k == ALL else word(CALL_KINDS, k))
        district = st.selectbox(_("District"), [ALL, *sorted(district_names, key=district_names.get)],
                                key="borders_district",
                                format_func=lambda c: _("All districts") if c == ALL else district_names[c])
        inside = towns if district == ALL else towns[towns["parent_code"] == district]
        town_names = dict(zip(inside["code"], inside["name"], strict=True))
        if st.session_state.get("borders_township", ALL) not in (ALL, *town_names):
            st.session_state["borders_township"] = ALL  # a township of the district no longer chosen
        township = st.selectbox(_("Township"), [ALL, *sorted(town_names, key=town_names.get)],
                                key="borders_township",
                                format_func=lambda c: _("All townships") if c == ALL else town_names[c])
        late = st.checkbox(_("Only calls with a late addressee"), key="borders_late")
        search = st.text_input(_("Search: call no., complaint id or address"), key="borders_search", max_chars=200)
    try:
        return QueueFilter(state=None if state == ALL else state, kind=None if kind == ALL else kind,
                           district=None if district == ALL else district,
                           township=None if township == ALL else township, late=late, search=search or None)
    except WhistleError as exc:
        messages.error(exc)
        return QueueFilter(state=None if state == ALL else state)


def _labels(queue: pd.DataFrame, names: dict[str, str]) -> dict[int, str]:
    """A call's label in the picker: its number, kind and townships, nothing that changes by the minute."""
    return {int(i): f"#{i} · {word(CALL_KINDS, k)} · {_(', ').join(names.get(t, t) for t in ts)}"
            for i, k, ts in zip(queue["id"], queue["kind"], queue["townships"], strict=True)}


def _urgency(row) -> str:
    # Late rows stand out in words and a mark, not in a colour alone.
    if row["state"] == "raised" and row["late"] > 0:
        return "🔴 " + _("late")
    if row["state"] == "raised" and row["kind"] == "emergency":
        return "🟠 " + _("emergency")
    return "🟢 " + _("on time") if row["state"] == "raised" else "⚪ " + word(CALL_STATES, row["state"])


def _queue_table(queue: pd.DataFrame, names: dict[str, str], now: datetime, user: User) -> pd.DataFrame:
    table = queue.assign(
        urgency=[_urgency(row) for _i, row in queue.iterrows()],
        townships=[_(", ").join(names.get(t, t) for t in ts) for ts in queue["townships"]],
        deadline=[countdown(d, now) if s == "raised" else word(CALL_STATES, s)
                  for d, s in zip(queue["deadline_at"], queue["state"], strict=True)],
        level=queue["escalation"].map(lambda i: word(LEVEL_WORDS, LEVELS[int(i)])),
        kind=words(CALL_KINDS, queue["kind"]), state=words(CALL_STATES, queue["state"]),
        mine=[word(ADDRESSEE_STATES, m) if isinstance(m, str) else "" for m in queue["mine"]],
    )
    shown = ["urgency", "id", "kind", "state", "townships", "complaints", "addressees", "pending", "late",
             "deadline", "level"]
    return table[["mine", *shown] if not user.city_wide else shown]


def _live_queue(user: User, where: QueueFilter, page: int, size: int, *, run_every: float) -> None:
    """The counts, the clock and the page of the queue, redrawn every ``run_every`` seconds by
    themselves (a new call, an escalation, a countdown) without touching the chosen call."""

    @st.fragment(run_every=run_every)
    def draw() -> None:
        now = data.now()
        engine = data.engine()
        counts = dashboard.call_counts(engine, user, now=now)
        columns = st.columns(4)
        columns[0].metric(_("Open calls"), f"{counts['open']:,}")
        columns[1].metric(_("Open emergencies"), f"{counts['emergencies']:,}")
        columns[2].metric(_("Open with late addressees"), f"{counts['late']:,}")
        local = now.astimezone(data.zone())
        columns[3].metric(_("Clock, {day}").format(day=short_day(local.date())), f"{local:%H:%M}")
        queue = dashboard.call_queue(engine, user, now=now, where=where, limit=size, offset=(page - 1) * size)
        total = int(queue["total"].iloc[0]) if len(queue) else 0
        if not total:
            st.info(_("No whistle call matches these filters. Calls are raised by the rules as complaints "
                      "arrive (the worker), or with `python -m geo whistle raise`."))
            return
        pages = -(-total // size)
        st.subheader(_("Queue, most urgent first: {first:,}–{last:,} of {total:,}").format(
            first=(page - 1) * size + 1, last=min(page * size, total), total=total))
        if not user.city_wide:
            st.caption(_("The calls addressed to your office that it has not answered yet come first."))
        names = data.township_names()
        picked = show_table(_queue_table(queue, names, now, user), select_key=ROWS)
        if picked is not None:
            # A row clicked opens its call. The table's selection is a position, which a refresh
            # could give to another call: it is taken at once, by id, and cleared.
            st.session_state[CLICKED] = int(queue["id"].iloc[picked])
            st.session_state.pop(ROWS, None)
            st.rerun(scope="app")
        if pages > 1:
            st.number_input(_("Page (of {pages:,})").format(pages=pages), min_value=1, max_value=pages,
                            key="borders_page", step=1)
            if page != st.session_state.get("borders_page", 1):
                st.rerun(scope="app")  # a new page is a new set of calls to choose from
        with st.expander(_("By township pair")):
            pairs = dashboard.call_pairs(engine, user, now=now, where=where)
            show_table(pairs.assign(townships=[_(" / ").join(names.get(t, t) for t in ts)
                                               for ts in pairs["townships"]]))

    draw()


def _map(user: User, queue: pd.DataFrame, names: dict[str, str], limit: int) -> None:
    """The page's calls where their cases are, coloured by urgency, over the township lines."""
    places = dashboard.call_places(data.engine(), user, queue["id"].head(limit).tolist())
    if not len(places):
        return
    now = data.now()
    shown = places.merge(queue, on="id")
    shown = shown.assign(townships_text=[_(", ").join(names.get(t, t) for t in ts) for ts in shown["townships"]],
                         deadline_text=[countdown(d, now) if s == "raised" else word(CALL_STATES, s)
                                        for d, s in zip(shown["deadline_at"], shown["state"], strict=True)],
                         kind_text=words(CALL_KINDS, shown["kind"]), state_text=words(CALL_STATES, shown["state"]))
    fmap = maps.new_map(frame_bounds(shown))
    call_layer(gpd.GeoDataFrame(shown, geometry="geom", crs=4326)).add_to(fmap)
    call_legend().add_to(fmap)
    maps.show(fmap, key="borders_map", height=420)


_ANY_STATE = {**CALL_STATES, **ADDRESSEE_STATES}


def _call(user: User, detail, names: dict[str, str], *, run_every: float) -> None:
    call = detail.call
    st.subheader(_("Call #{id}: {kind}").format(id=call["id"], kind=word(CALL_KINDS, call["kind"])))
    _status(user, int(call["id"]), run_every=run_every)
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
    st.markdown(_("**Complaints** ({count:,}, on both sides of the line; phones masked)").format(
        count=len(detail.complaints)))
    show_table(points.assign(township=[names.get(t, t) for t in points["township_code"]]).drop(
        columns=["lon", "lat", "received_text", "geometry", "township_code"]))
    _actions(user, detail)
    st.markdown("**" + _("History") + "**")
    events = detail.events
    show_table(events.assign(**{name: words(table, events[name]) for name, table in
                                (("action", CALL_ACTIONS), ("from_state", _ANY_STATE), ("to_state", _ANY_STATE))
                                if name in events}))


def _status(user: User, call_id: int, *, run_every: float) -> None:
    """The call's state, level, who escalated it and when, and each addressee's countdown: drawn
    apart and refreshed by themselves, so that the minute ticking over changes no label a choice
    hangs on."""

    @st.fragment(run_every=run_every)
    def draw() -> None:
        now = data.now()
        detail = dashboard.call_for(data.engine(), user, call_id)
        call = detail.call
        columns = st.columns(3)
        columns[0].metric(_("State"), word(CALL_STATES, call["state"]))
        columns[1].metric(_("Level"), word(LEVEL_WORDS, LEVELS[call["escalation"]]))
        columns[2].metric(_("Deadline"), countdown(call["deadline_at"], now) if call["state"] == "raised"
                          else word(CALL_STATES, call["state"]))
        escalated = detail.events[detail.events["action"] == "escalated"]
        if len(escalated):
            last = escalated.iloc[-1]
            st.caption(_("Escalated to {level} by {actor} at {at}").format(
                level=word(LEVEL_WORDS, last["to_state"]) if last["to_state"] in LEVEL_WORDS else last["to_state"],
                actor=md_escape(str(last["actor"])),
                at=f"{last['at'].astimezone(data.zone()):{TIME_FORMAT}}"))
        addressees = detail.addressees.assign(
            name=detail.addressees["organisation"],
            countdown=[countdown(d, now) if s == "pending" else word(ADDRESSEE_STATES, s)
                       for d, s in zip(detail.addressees["deadline_at"], detail.addressees["state"], strict=True)],
            kind=words(ADDRESSEE_KINDS, detail.addressees["kind"]),
            state=words(ADDRESSEE_STATES, detail.addressees["state"]),
            level=[word(LEVEL_WORDS, LEVELS[int(i)]) for i in detail.addressees["escalation"]])
        st.markdown("**" + _("Addressees") + "**")
        show_table(addressees[["name", "kind", "state", "countdown", "reported_at", "done_at", "late", "level",
                               "code"]])

    draw()


def _own(user: User, addressees: pd.DataFrame) -> pd.DataFrame:
    return addressees if user.city_wide else addressees[addressees["organisation_id"] == user.organisation_id]


def _actions(user: User, detail) -> None:
    """Check in or report done for addressees (several at once); resolve, escalate or close the
    call. Each is an event with the user; a refusal says what has to happen first and offers it."""
    call = detail.call
    if call["state"] == "proposed":
        _proposal(user, detail)
        return
    mine = _own(user, detail.addressees)
    names = dict(zip(mine["code"], mine["organisation"], strict=True))
    form = f"call_actions_{call['id']}"
    open_codes = mine[mine["state"] != "done"]["code"].tolist()
    with st.form(form, clear_on_submit=True):
        note = st.text_input(_("Note (optional)"), max_chars=2000, key="call_note")
        who = st.multiselect(_("Addressees who report"), list(names), default=open_codes if not user.city_wide else [],
                             key="call_addressee", format_func=names.get,
                             placeholder=_("every one of yours still at work"))
        offered = [*ADDRESSEE_ACTIONS, *(("resolve", "escalate", "close") if user.city_wide else ())]
        confirm = st.checkbox(_("I confirm escalating or closing this call"), key="call_confirm") \
            if user.city_wide else False
        buttons = st.columns(len(offered))
        # Keys, not labels, name the buttons: a click survives a change of language.
        pressed = {name: buttons[i].form_submit_button(_(ACTIONS[name]), key=f"{form}_{name.replace(' ', '_')}",
                                                       disabled=name in ADDRESSEE_ACTIONS and mine.empty)
                   for i, name in enumerate(offered)}
    _offer(user, detail)
    action = next((name for name, hit in pressed.items() if hit), None)
    if action is None:
        return
    if action in CONFIRMED and not confirm:
        st.warning(_("Tick “I confirm escalating or closing this call” to {action} call #{id}.").format(
            action=_(ACTIONS[action]), id=call["id"]))
        return
    _perform(user, detail, [(action, who or None)], note=note or None)


def _proposal(user: User, detail) -> None:
    """A proposed whistle: the street office (or a coordinator) blows it, choosing whom it summons,
    or dismisses it with a reason. Until then no deadline runs."""
    call = detail.call
    st.info(_("The rules propose this whistle; no deadline runs until it is blown. Blow it (街乡吹哨) to "
              "summon the townships and departments below, or dismiss it with the reason."))
    proposed = dict(zip(detail.addressees["code"], detail.addressees["organisation"], strict=True))
    others = {code: department_name(code) for code in departments() if code not in proposed}
    form = f"call_proposal_{call['id']}"
    with st.form(form, clear_on_submit=True):
        summoned = st.multiselect(_("Summon"), [*proposed, *others], default=list(proposed), key="call_summoned",
                                  format_func=lambda c: proposed.get(c) or others.get(c, c))
        kind = st.selectbox(_("Kind"), list(KINDS), index=list(KINDS).index(call["kind"]), key="call_proposal_kind",
                            format_func=lambda k: word(CALL_KINDS, k))
        note = st.text_input(_("Note, or the reason for dismissing (required to dismiss)"), max_chars=2000,
                             key="call_proposal_note")
        buttons = st.columns(2)
        blown, dismissed = (column.form_submit_button(_(ACTIONS[name]), key=f"{form}_{name}",
                                                      type="primary" if name == "blow" else "secondary")
                            for column, name in zip(buttons, ("blow", "dismiss"), strict=True))
    if not (blown or dismissed):
        return
    if dismissed and not (note or "").strip():
        st.warning(_("Say why the whistle is dismissed: the reason is kept with the call."))
        return
    if blown and not summoned:
        st.warning(_("A whistle summons someone: choose at least one township or department."))
        return
    _perform(user, detail, [("blow", summoned)] if blown else [("dismiss", None)], note=note or None, kind=kind)


def _perform(user: User, detail, steps: list[tuple[str, list[str] | None]], *, note: str | None,
             kind: str | None = None) -> None:
    """Take the steps in order, as the user; on a refusal, say what is needed first and offer it.
    ``kind`` is the kind a proposal is blown as."""
    call = detail.call
    version = call["version"]
    for at, (action, codes) in enumerate(steps):
        try:
            # An addressee's report needs no version: the state is checked under the call's lock,
            # and a call escalated by the clock meanwhile still takes its check-in.
            version = dashboard.act_on_call(
                data.engine(), user, call["id"], action, now=data.now(), addressee=codes, note=note,
                expected_version=None if action in ADDRESSEE_ACTIONS else version,
                kind=kind if action == "blow" else None)
        except TransitionError as exc:
            _refused(user, detail, exc, steps[at:], note)
            return
        except WhistleError as exc:
            messages.error(exc)
            return
    st.session_state.pop(OFFER, None)
    done = _(" and ").join(_(ACTIONS[a]) for a, _codes in steps)
    st.session_state[FLASH] = _("Call #{id}: “{action}” recorded by {user}.").format(
        id=call["id"], action=done, user=user.username)
    st.rerun()


def _refused(user: User, detail, exc: TransitionError, remaining: list, note: str | None) -> None:
    call = detail.call
    waiting = list(exc.waiting)
    names = dict(zip(detail.addressees["code"], detail.addressees["organisation"], strict=True))
    if exc.first == "done" and user.city_wide:
        sentence = _("Call #{id} cannot be resolved yet: {names} have not reported their part done. "
                     "Report it done for them first.").format(
            id=call["id"], names=_(", ").join(names.get(c, c) for c in waiting))
        plan = [("done", waiting), *remaining]
    elif exc.first == "resolve" and user.city_wide:
        busy = detail.addressees[detail.addressees["state"] != "done"]["code"].tolist()
        sentence = _("Call #{id} is still open: a call is resolved before it is closed.").format(id=call["id"])
        if busy:
            sentence += " " + _("{names} have not reported their part done yet.").format(
                names=_(", ").join(names.get(c, c) for c in busy))
        plan = [*([("done", busy)] if busy else []), ("resolve", None), *remaining]
    else:
        messages.error(_("Call #{id}: this cannot be done now ({state}). Reload the page to see what changed.").format(
            id=call["id"], state=word(CALL_STATES, call["state"])))
        return
    st.session_state[OFFER] = {"call": int(call["id"]), "sentence": sentence, "plan": plan, "note": note}
    st.rerun()


def _offer(user: User, detail) -> None:
    offer = st.session_state.get(OFFER)
    if not offer or offer["call"] != int(detail.call["id"]):
        return
    st.warning(offer["sentence"])
    label = _(" and ").join(_(ACTIONS[a]) for a, _codes in offer["plan"])
    if st.button(label, key=f"borders_offer_{offer['call']}", type="primary"):
        st.session_state.pop(OFFER, None)
        _perform(user, detail, [(a, c) for a, c in offer["plan"]], note=offer["note"])


def _bulk(user: User, queue: pd.DataFrame, labels: dict[int, str]) -> None:
    """One action on several calls of the page; each call answers for itself."""
    offered = [*ADDRESSEE_ACTIONS, *(("resolve", "escalate", "close") if user.city_wide else ())]
    with st.expander(_("Act on several calls")):
        with st.form("borders_bulk", clear_on_submit=True):
            chosen = st.multiselect(_("Calls"), queue["id"].tolist(), key="borders_bulk_calls",
                                    format_func=lambda i: labels.get(i, f"#{i}"))
            action = st.selectbox(_("Action"), offered, key="borders_bulk_action", format_func=lambda a: _(ACTIONS[a]))
            note = st.text_input(_("Note (optional)"), max_chars=2000, key="borders_bulk_note")
            confirm = st.checkbox(_("I confirm this action on every call chosen"), key="borders_bulk_confirm")
            submitted = st.form_submit_button(_("Apply to the calls chosen"), key="borders_bulk_submit")
        if not submitted:
            return
        if not chosen:
            st.warning(_("Choose the calls to act on."))
            return
        if action in CONFIRMED and not confirm:
            st.warning(_("Tick “I confirm this action on every call chosen” to {action} {count:,} calls.").format(
                action=_(ACTIONS[action]), count=len(chosen)))
            return
        try:
            outcomes = dashboard.act_on_calls(data.engine(), user, chosen, action, now=data.now(), note=note or None)
        except WhistleError as exc:
            messages.error(exc)
            return
        done = [o.call_id for o in outcomes if o.refusal is None]
        refused = [o for o in outcomes if o.refusal is not None]
        if done:
            st.success(ngettext("“{action}” recorded by {user} on {count:,} call.",
                                "“{action}” recorded by {user} on {count:,} calls.", len(done)).format(
                action=_(ACTIONS[action]), user=user.username, count=len(done)))
        for outcome in refused:
            st.warning(_("Call #{id} was not changed: {reason}").format(
                id=outcome.call_id, reason=_refusal_reason(outcome.refusal)))


def _refusal_reason(exc: WhistleError) -> str:
    """A bulk refusal in a sentence of the user's language."""
    if isinstance(exc, TransitionError) and exc.first == "done":
        return _("its addressees have not all reported their part done.")
    if isinstance(exc, TransitionError) and exc.first == "resolve":
        return _("it is resolved before it is closed.")
    if isinstance(exc, TransitionError):
        return _("its state does not allow this.")
    return _("it does not allow this now (its state, or your access to it).")
