"""Projects: remediation projects with their progress, tasks, area and effect."""

from __future__ import annotations

import json

import altair as alt
import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

from geo.errors import WhistleError
from geo.show import dashboard_db as dashboard
from geo.show.text import md_escape
from layers.base import frame_bounds
from layers.cells import cells_frame
from layers.projects import project_layer, project_legend
from views import data, maps, messages
from views.session import require_user
from views.tables import table as show_table

KIND_NAMES = {"problem_of_month": "problem of the month (每月一题)", "governance_plan": "governance plan",
              "proactive": "proactive (主动治理)"}
FLASH = "projects_flash"


def render() -> None:
    """The list, and the selected project."""
    user = require_user()
    st.title("Projects")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    today = data.today()
    listed = dashboard.project_list(data.engine(), user, today=today)
    if listed.empty:
        st.info("No project yet. Open a proactive one from a hot spot on the township page, or with "
                "`python -m geo project create`.")
        return
    columns = st.columns(3)
    columns[0].metric("Projects", f"{len(listed):,}")
    columns[1].metric("Active", f"{int((listed['state'] == 'active').sum()):,}")
    columns[2].metric("On target", f"{int((listed['on_target'] == True).sum()):,}")  # noqa: E712 (None stays out)
    table = listed.assign(kind=listed["kind"].map(KIND_NAMES),
                          target=listed["on_target"].map({True: "on target", False: "off target"}).fillna("—"))
    show_table(table[["id", "title", "kind", "state", "starts_on", "ends_on", "progress", "verdict", "did_pct",
                      "target"]], column_config={
        "progress": st.column_config.ProgressColumn("tasks done", min_value=0.0, max_value=1.0, format="percent"),
        "did_pct": st.column_config.NumberColumn("effect (DiD)", format="%+.0f %%")})
    titles = dict(zip(listed["id"], listed["title"], strict=True))
    project_id = st.selectbox("Open a project", listed["id"].tolist(), key="projects_id",
                              format_func=lambda i: f"#{i} · {titles[i]}")
    try:
        detail = dashboard.project_for(data.engine(), user, int(project_id), today=today)
    except WhistleError as exc:
        messages.error(exc)
        return
    state = listed.set_index("id").loc[project_id, "state"]
    _project(user, detail, state)


def _project(user, detail, state: str) -> None:
    project = detail.project
    st.subheader(f"#{project['id']} · {md_escape(project['title'])}")
    st.caption(f"{KIND_NAMES.get(project['kind'], project['kind'])} · led by {md_escape(project['lead_department'])} · "
               f"{project['starts_on']} – {project['ends_on']} · categories: {', '.join(project['categories'])}")
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
    with st.expander("History"):
        show_table(detail.events[["at", "actor", "action", "note"]])


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
    st.markdown("**Tasks**")
    tasks = detail.tasks
    if tasks.empty:
        st.caption("No task.")
        return
    with st.form(f"tasks_{detail.project['id']}"):
        ticked = {int(row.id): st.checkbox(f"{md_escape(row.title)} · {md_escape(row.owner)} · due {row.due_on}",
                                           value=pd.notna(row.done_at), key=f"task_{row.id}")
                  for row in tasks.itertuples()}
        saved = st.form_submit_button("Save tasks")
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
    st.session_state[FLASH] = f"{len(changed)} task(s) updated by {user.username}."
    st.rerun()


def _effect(effect) -> None:
    st.markdown(f"**Effect: {effect.verdict}**")
    columns = st.columns(3)
    columns[0].metric("Baseline per half-month", "—" if effect.baseline is None else f"{effect.baseline:,.1f}")
    columns[1].metric("Change since", "—" if effect.change_pct is None else f"{effect.change_pct:+.1f} %")
    did = "—" if effect.did_pct is None else f"{effect.did_pct:+.1f} %"
    columns[2].metric("Difference-in-differences", did,
                      None if effect.did_low is None else f"{effect.did_low:+.0f} to {effect.did_high:+.0f} %",
                      delta_color="off")
    table = effect.table
    if table.empty:
        return
    long = table.melt(id_vars=["half_month", "phase"], value_vars=["treated", "control"],
                      var_name="area", value_name="complaints").dropna(subset=["complaints"])
    long["area"] = long["area"].map({"treated": "project area", "control": "untreated neighbours"})
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("half_month:T", title="half-month"), y=alt.Y("complaints:Q", title="complaints"),
        color=alt.Color("area:N", title=None), tooltip=["half_month:T", "phase:N", "area:N", "complaints:Q"])
    chart = lines
    if effect.baseline is not None:
        chart = lines + alt.Chart(pd.DataFrame({"baseline": [effect.baseline]})).mark_rule(
            strokeDash=[6, 4], color="#555").encode(y="baseline:Q")
    st.altair_chart(chart.properties(height=260), width="stretch")
    st.caption("The dashed line is the baseline; the estimate compares the project area's change with its "
               "untreated neighbours' on the log scale, with a Welch interval.")
