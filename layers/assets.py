"""Serve folium's JavaScript and CSS from this project, never from a CDN.

folium (and streamlit-folium, which hands every element's ``default_js``/``default_css`` to
the browser) point at CDNs. With no internet, as here and on many government intranets, one
failed script leaves a blank page. The files live in ``static/vendor/`` (served by
Streamlit at ``/app/static/``; see ``static/vendor/README.md`` for versions and licences)
and :func:`localize` rewrites every element of a map to use them.
"""

from __future__ import annotations

from pathlib import Path

import folium
from branca.element import Element

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# Streamlit serves ./static at /app/static when server.enableStaticServing is on.
STATIC_URL = "/app/static"

# folium's asset names -> files under static/.
LOCAL_ASSETS: dict[str, str] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "jquery": "vendor/jquery/jquery.min.js",
    "bootstrap": "vendor/bootstrap/bootstrap.bundle.min.js",
    "bootstrap_css": "vendor/bootstrap/bootstrap.min.css",
    "awesome_markers": "vendor/awesome-markers/leaflet.awesome-markers.min.js",
    "awesome_markers_css": "vendor/awesome-markers/leaflet.awesome-markers.css",
}
# Icon fonts for marker glyphs: megabytes that no Whistle layer uses. Dropped rather than
# fetched; a marker without a glyph still draws.
DROPPED_ASSETS = frozenset({"glyphicons_css", "awesome_markers_font_css", "awesome_rotate_css"})
# folium's map loads these for popups (jQuery) and icons (Bootstrap, awesome-markers), which
# Whistle's layers do not use: streamlit-folium loads a map's scripts one after another, and
# these three were a quarter of a second before the first shape was drawn. A map that holds a
# popup or an icon keeps them.
ASSETS_FOR = {
    "jquery": (folium.Popup,),
    "bootstrap": (folium.Icon,),
    "bootstrap_css": (folium.Icon,),
    "awesome_markers": (folium.Icon,),
    "awesome_markers_css": (folium.Icon,),
}


def local_url(name: str, static_url: str = STATIC_URL) -> str:
    """Return the local URL of one of folium's assets, by folium's name for it."""
    return f"{static_url}/{LOCAL_ASSETS[name]}"


def localize(root: Element, static_url: str = STATIC_URL, *, also: tuple[Element, ...] = ()) -> Element:
    """Point every element under ``root`` at the local copies of its scripts and styles, and
    leave out the ones no element needs (:data:`ASSETS_FOR`).

    Parameters
    ----------
    root : branca.element.Element
        A folium map (or any element); changed in place.
    static_url : str
        Where ``static/`` is served.
    also : tuple of Element
        Layers that will be added to the map after it is rendered (streamlit-folium's
        feature group): their elements count as needing assets too.

    Returns
    -------
    branca.element.Element
        ``root``, for chaining.

    Raises
    ------
    ValueError
        If an element needs a remote asset that has no local copy: add the file to
        ``static/vendor`` and to ``LOCAL_ASSETS`` rather than let the page fetch it.
    """
    elements = list(_walk(root))
    present = tuple({type(e) for tree in (elements, *map(_walk, also)) for e in tree})
    unused = {name for name, users in ASSETS_FOR.items() if not any(issubclass(t, users) for t in present)}
    for element in elements:
        for attribute in ("default_js", "default_css"):
            assets = getattr(element, attribute, None)
            if assets:
                setattr(element, attribute, _local_list(assets, element, static_url, DROPPED_ASSETS | unused))
    return root


def _local_list(assets: list[tuple[str, str]], element: Element, static_url: str,
                dropped: frozenset[str] | set[str]) -> list[tuple[str, str]]:
    local = []
    for name, url in assets:
        if name in dropped:
            continue
        if name in LOCAL_ASSETS:
            local.append((name, local_url(name, static_url)))
        elif url.startswith(("http:", "https:", "//")):
            raise ValueError(
                f"{type(element).__name__} needs {name!r} from {url}, which has no local copy; "
                "add it to static/vendor and layers.assets.LOCAL_ASSETS"
            )
        else:
            local.append((name, url))
    return local


def _walk(element: Element):
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)
