"""A map legend drawn as a Leaflet control, with no script from outside the page.

branca's colormap legends need d3 from a CDN (streamlit-folium adds it for any colormap);
this legend is plain HTML inside a Leaflet control.
"""

from __future__ import annotations

from dataclasses import dataclass

from branca.element import MacroElement
from jinja2 import Template

from layers.escape import text


@dataclass(frozen=True)
class LegendItem:
    """One line of a legend: a swatch and its label."""

    label: str
    color: str
    shape: str = "fill"  # "fill" (an area) or "line" (an outline)
    fill_opacity: float = 0.5


class Legend(MacroElement):
    """A titled list of swatches in a corner of the map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'whistle-legend');
                div.innerHTML = {{ this.inner_html|tojson }};
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            var parent = {{ this._parent.get_name() }};
            if (parent instanceof L.Map) {
                legend.addTo(parent);
            } else {
                // In a layer group (a map's swappable overlay): shown while the group is.
                parent.on('add', function () { legend.addTo(parent._map); });
                parent.on('remove', function () { legend.remove(); });
                if (parent._map) { legend.addTo(parent._map); }
            }
        })();
        {% endmacro %}
    """)

    def __init__(self, inner_html: str, position: str = "bottomright") -> None:
        super().__init__()
        self._name = "Legend"
        self.inner_html = inner_html
        self.position = position


_BOX = ("background: rgba(255,255,255,0.92); padding: 8px 10px; border-radius: 4px; "
        "box-shadow: 0 1px 4px rgba(0,0,0,0.3); font: 12px/1.4 sans-serif; max-height: 320px; "
        "overflow-y: auto; color: #222;")


def legend(title: str, items: list[LegendItem], *, note: str | None = None,
           position: str = "bottomright") -> Legend:
    """Build a legend control; every label is escaped.

    Parameters
    ----------
    title : str
        Heading of the legend.
    items : list of LegendItem
        The swatches, in order.
    note : str, optional
        A line in italics under the items (e.g. "approximate township boundaries").
    position : str
        Leaflet control position.

    Returns
    -------
    Legend
        Add it to a map with ``.add_to(map)``.
    """
    rows = "".join(_row(item) for item in items)
    foot = f'<div style="margin-top:6px;font-style:italic">{text(note)}</div>' if note else ""
    inner = (f'<div style="{_BOX}"><div style="font-weight:bold;margin-bottom:4px">'
             f"{text(title)}</div>{rows}{foot}</div>")
    return Legend(inner, position=position)


def _row(item: LegendItem) -> str:
    if item.shape == "line":
        swatch = (f"border-top: 3px solid {item.color}; height: 0; margin-top: 7px; "
                  "outline: 1px solid #bbb;")
    else:
        swatch = (f"background: {item.color}; opacity: {0.3 + 0.7 * item.fill_opacity:.2f}; "
                  "height: 12px; border: 1px solid #555;")
    return (f'<div style="display:flex;gap:6px;align-items:flex-start">'
            f'<span style="display:inline-block;width:18px;flex:none;{swatch}"></span>'
            f"<span>{text(item.label)}</span></div>")
