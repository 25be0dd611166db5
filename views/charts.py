"""Small charts as plain Vega-Lite specs: st.line_chart builds and validates an Altair chart on
every rerun, which took half of a warm overview's script time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo.show.text import chart_day_format


def line_chart(wide: pd.DataFrame, *, height: int = 240, y_title: str = "", key: str | None = None) -> None:
    """Draw one line per column of ``wide`` (indexed by day), with a shared legend and tooltips."""
    long = wide.rename_axis("day").reset_index().melt(id_vars="day", var_name="series", value_name="value")
    long = long.dropna(subset=["value"]).assign(day=lambda f: pd.to_datetime(f["day"]).dt.strftime("%Y-%m-%d"))
    spec = {
        "mark": {"type": "line", "point": len(wide) <= 31, "tooltip": True},
        "encoding": {
            "x": {"field": "day", "type": "temporal", "title": None, "axis": {"format": chart_day_format()}},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {"field": "series", "type": "nominal", "title": None, "legend": {"orient": "bottom"}},
        },
        "height": height,
    }
    st.vega_lite_chart(long, spec, width="stretch", key=key)
