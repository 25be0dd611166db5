"""A map as a picture: polygons drawn as SVG, for the printed reports (no tiles, no script).

Pure. Longitude and latitude are drawn in an equirectangular projection scaled by the cosine of
the map's middle latitude (true to shape at a city's scale); every name is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import shapely


def svg_map(shapes: Sequence[shapely.Geometry], fills: Sequence[str], *, width: int = 640, height: int = 440,
            stroke: str = "#ffffff", stroke_width: float = 0.6, titles: Sequence[str] | None = None,
            under: Sequence[shapely.Geometry] = ()) -> str:
    """Draw polygons (WGS84) filled with ``fills`` on a light ground, fitted to the picture.

    Parameters
    ----------
    shapes : sequence of shapely geometries
        The polygons drawn, in order (later ones on top).
    fills : sequence of str
        One CSS colour per shape (``"none"`` for an outline).
    titles : sequence of str, optional
        A name per shape, shown by viewers on hover (escaped).
    under : sequence of shapely geometries
        Outlines drawn first, in grey, for context (the townships under the cells).

    Returns
    -------
    str
        A standalone ``<svg>`` element.
    """
    if len(shapes) != len(fills):
        raise ValueError(f"{len(shapes)} shapes but {len(fills)} fills")
    every = [*under, *shapes]
    if not every:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    west, south, east, north = shapely.total_bounds(np.array(every, dtype=object))
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x, span_y = max((east - west) * squeeze, 1e-9), max(north - south, 1e-9)
    scale = 0.96 * min(width / span_x, height / span_y)
    left = (width - span_x * scale) / 2
    top = (height - span_y * scale) / 2

    def path(shape: shapely.Geometry) -> str:
        parts = []
        for polygon in getattr(shape, "geoms", [shape]):
            rings = [polygon.exterior, *polygon.interiors] if hasattr(polygon, "exterior") else [polygon]
            for ring in rings:
                xy = np.asarray(ring.coords)[:, :2]
                x = left + (xy[:, 0] - west) * squeeze * scale
                y = top + (north - xy[:, 1]) * scale
                parts.append("M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True)) + "Z")
        return "".join(parts)

    body = [f'<path d="{path(s)}" fill="none" stroke="#9aa3ad" stroke-width="0.5"/>' for s in under]
    for i, (shape, fill) in enumerate(zip(shapes, fills, strict=True)):
        title = f"<title>{html.escape(str(titles[i]))}</title>" if titles is not None else ""
        body.append(f'<path d="{path(shape)}" fill="{html.escape(fill)}" stroke="{stroke}" '
                    f'stroke-width="{stroke_width}" fill-rule="evenodd">{title}</path>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" style="background:#eef1f4">{"".join(body)}</svg>')
