"""Projects: remediation projects with their progress, tasks, area and effect."""

from __future__ import annotations

import json
from datetime import timedelta

import altair as alt
import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

from geo.act.categories import categories, departments
from geo.act.projects import ProjectSpec
from geo.errors import WhistleError
from geo.i18n import N_, _
from geo.show import dashboard_db as dashboard
from geo.show.text import DAY_FORMAT, chart_day_format, md_escape, period_label
from geo.show.words import (
    PROJECT_ACTIONS,
    PROJECT_KINDS,
    PROJECT_STATES,
    VERDICTS,
    category_name,
    department_name,
    word,
    words,
)
from layers.base import frame_bounds
from layers.cells import cells_frame
from layers.projects import project_layer, project_legend
from views import data, maps, messages
from views.session import require_user
from views.tables import table as show_table

FLASH = "projects_flash"


def render() -> None:
    """The list, and the selected project."""
    user = require_user()
    st.title(_("Projects: problem of the month (每月一题) and proactive governance"))
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    today = data.today()
    listed = dashboard.project_list(data.engine(), user, today=today)
    if user.city_wide:
        _new_problem_of_the_month(user, today)
    if listed.empty:
        st.info(_("No project yet. Open a proactive one from a hot spot on the township page, or with "
                  "`python -m geo project create`."))
        return
    columns = st.columns(3)
    columns[0].metric(_("Projects"), f"{len(listed):,}")
    columns[1].metric(_("Active"), f"{int((listed['state'] == 'active').sum()):,}")
    columns[2].metric(_("On target"), f"{int((listed['on_target'] == True).sum()):,}")  # noqa: E712 (None stays out)
    table = listed.assign(kind=words(PROJECT_KINDS, listed["kind"]), state=words(PROJECT_STATES, listed["state"]),
                          verdict=words(VERDICTS, listed["verdict"]),
                          target=listed["on_target"].map({True: _("on target"), False: _("off target")}).fillna("—"))
    show_table(table[["id", "title", "kind", "state", "starts_on", "ends_on", "progress", "verdict", "did_pct",
                      "target"]], column_config={
        "progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
        "did_pct": st.column_config.NumberColumn(format="%+.0f %%")})
    titles = dict(zip(listed["id"], listed["title"], strict=True))
    project_id = st.selectbox(_("Open a project"), listed["id"].tolist(), key="projects_id",
                              format_func=lambda i: f"#{i} · {titles[i]}")
    try:
        detail = dashboard.project_for(data.engine(), user, int(project_id), today=today)
    except WhistleError as exc:
        messages.error(exc)
        return
    state = listed.set_index("id").loc[project_id, "state"]
    _project(user, detail, state)


def _new_problem_of_the_month(user, today) -> None:
    """每月一题: a supervisor names the month's problem, where it is, who leads and who joins, the
    target and the tasks; the project is stored with its tasks and appears in the list."""
    cats, depts = categories(), departments()
    towns = data.jurisdictions("township")
    names = dict(zip(towns["code"], towns["name"], strict=True))
    with st.expander(_("🗂️ New problem of the month (每月一题)"), expanded=False), \
            st.form("new_problem_of_month", clear_on_submit=True):
        title = st.text_input(_("The problem"), max_chars=200, key="pom_title",
                              placeholder=_("e.g. heating too cold in old residential compounds"))
        wanted = st.multiselect(_("Categories"), sorted(cats), key="pom_categories", format_func=category_name)
        where = st.multiselect(_("Townships"), sorted(names, key=lambda c: names[c]), key="pom_townships",
                               format_func=names.get)
        left, right = st.columns(2)
        lead = left.selectbox(_("Lead department"), sorted(depts), key="pom_lead", format_func=department_name)
        partners = right.multiselect(_("Partner departments"), sorted(depts), key="pom_partners",
                                     format_func=department_name)
        starts = left.date_input(_("Starts on"), value=today, key="pom_starts", format="YYYY-MM-DD")
        ends = right.date_input(_("Ends on"), value=today + timedelta(days=90), key="pom_ends", format="YYYY-MM-DD")
        target = st.number_input(_("Target: fewer complaints by (%)"), 1, 100, 30, key="pom_target")
        tasks = st.text_area(_("Tasks, one per line"), key="pom_tasks", max_chars=4000,
                             placeholder=_("e.g. inspect every compound with the heating company"))
        sent = st.form_submit_button(_("Open the project"), type="primary", key="pom_submit")
    if not sent:
        return
    lines = [line.strip() for line in tasks.splitlines() if line.strip()]
    spec = ProjectSpec(kind="problem_of_month", title=title, lead_department=lead, categories=wanted,
                       starts_on=starts, ends_on=ends, townships=where, partners=partners,
                       targets={"reduction_pct": float(target)},
                       tasks=[{"title": line, "owner": department_name(lead), "due_on": min(ends, starts +
                                                                                          timedelta(days=14))}
                              for line in lines])
    try:
        project_id = dashboard.open_city_project(data.engine(), user, spec, now=data.now())
    except WhistleError as exc:
        messages.error(exc)
        return
    st.session_state[FLASH] = _("Project {id} is open; it is listed under Projects.").format(id=project_id)
    st.rerun()


def _project(user, detail, state: str) -> None:
    project = detail.project
    st.subheader(f"#{project['id']} · {md_escape(project['title'])}")
    st.caption(_("{kind} · led by {lead} · {period} · categories: {categories}").format(
        kind=word(PROJECT_KINDS, project["kind"]), lead=md_escape(department_name(project["lead_department"])),
        period=period_label(project["starts_on"], project["ends_on"]),
        categories=md_escape(_(", ").join(category_name(c) for c in project["categories"]))))
    area = _area(project, state)
    if len(area):
        fmap = maps.new_map(frame_bounds(area))
        project_layer(area).add_to(fmap)
        project_legend().add_to(fmap)
        maps.show(fmap, key=f"project_map_{project['id']}", height=380, layer_control=False)
    left, right = st.columns([2, 3])
    with left:
        _tasks(user, detail)
    with right:
        _effect(detail.effect)
    with st.expander(_("History")):
        events = detail.events
        show_table(events.assign(action=words(PROJECT_ACTIONS, events["action"]))[["at", "actor", "action", "note"]])


def _area(project: dict, state: str) -> gpd.GeoDataFrame:
    """The project's target as one row: its townships, its cells, or its drawn polygon."""
    if project["townships"]:
        towns = data.jurisdictions("township")
        shape = shapely.union_all(towns[towns["code"].isin(project["townships"])].geometry.values)
    elif project["cells"]:
        shape = shapely.union_all(cells_frame(pd.DataFrame({"h3": project["cells"]})).geometry.values)
    elif project.get("area"):
        shape = shapely.from_geojson(project["area"] if isinstance(project["area"], str)
                                     else json.dumps(project["area"]))
    else:
        return gpd.GeoDataFrame()
    return gpd.GeoDataFrame({"id": [project["id"]], "title": [project["title"]], "kind": [project["kind"]],
                             "state": [state], "progress_text": [""]}, geometry=[shape], crs=4326)


def _tasks(user, detail) -> None:
    st.markdown("**" + _("Tasks") + "**")
    tasks = detail.tasks
    if tasks.empty:
        st.caption(_("No task."))
        return
    form = f"tasks_{detail.project['id']}"
    with st.form(form):
        ticked = {int(row.id): st.checkbox(_("{title} · {owner} · due {day}").format(
                      title=md_escape(row.title), owner=md_escape(row.owner), day=f"{row.due_on:{DAY_FORMAT}}"),
                      value=pd.notna(row.done_at), key=f"task_{row.id}")
                  for row in tasks.itertuples()}
        saved = st.form_submit_button(_("Save tasks"), key=f"{form}_save")
    if not saved:
        return
    was = {int(i): pd.notna(d) for i, d in zip(tasks["id"], tasks["done_at"], strict=True)}
    changed = [(i, v) for i, v in ticked.items() if v != was[i]]
    try:
        for task_id, done in changed:
            dashboard.tick_task(data.engine(), user, int(detail.project["id"]), task_id, done=done, now=data.now())
    except WhistleError as exc:
        messages.error(exc)
        return
    st.session_state[FLASH] = _("{count} task(s) updated by {user}.").format(count=len(changed), user=user.username)
    st.rerun()


def _effect(effect) -> None:
    st.markdown(_("**Effect: {verdict}**").format(verdict=word(VERDICTS, effect.verdict)))
    columns = st.columns(3)
    columns[0].metric(_("Baseline per half-month"), "—" if effect.baseline is None else f"{effect.baseline:,.1f}")
    columns[1].metric(_("Change since"), "—" if effect.change_pct is None else f"{effect.change_pct:+.1f} %")
    did = "—" if effect.did_pct is None else f"{effect.did_pct:+.1f} %"
    columns[2].metric(_("Against untreated neighbours"), did,
                      None if effect.did_low is None else _("{low:+.0f} to {high:+.0f} %").format(
                          low=effect.did_low, high=effect.did_high),
                      delta_color="off", help=_(DID_HELP))
    table = effect.table
    if table.empty:
        return
    long = table.melt(id_vars=["half_month", "phase"], value_vars=["treated", "control"],
                      var_name="area", value_name="complaints").dropna(subset=["complaints"])
    long["area"] = long["area"].map({"treated": _("project area"), "control": _("untreated neighbours")})
    long["phase"] = long["phase"].map(lambda p: _(PHASES.get(p, p)))
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("half_month:T", title=_("half-month"), axis=alt.Axis(format=chart_day_format())),
        y=alt.Y("complaints:Q", title=_("complaints")),
        color=alt.Color("area:N", title=None),
        tooltip=[alt.Tooltip("half_month:T", title=_("half-month")), alt.Tooltip("phase:N", title=_("phase")),
                 alt.Tooltip("area:N", title=_("area")), alt.Tooltip("complaints:Q", title=_("complaints"))])
    chart = lines
    if effect.baseline is not None:
        chart = lines + alt.Chart(pd.DataFrame({"baseline": [effect.baseline]})).mark_rule(
            strokeDash=[6, 4], color="#555").encode(y="baseline:Q")
    st.altair_chart(chart.properties(height=260), width="stretch")
    st.caption(_("The dashed line is the baseline: the project area's complaints per half-month before it began."))


DID_HELP = N_("The change in the project area set against the change in its untreated neighbours over the same "
              "half-months (a difference-in-differences on the log scale, with a Welch 95 % interval).")
PHASES = {"baseline": N_("baseline"), "transition": N_("transition"), "during": N_("during"),
          "after the end": N_("after the end"), "earlier": N_("earlier")}
