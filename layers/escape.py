"""Text put on a map: shown as text, never run as HTML or as a template."""

from __future__ import annotations

import html

# branca renders each element's output again as a Jinja template (MacroElement.render wraps
# it in a new Element), so a "{{ ... }}" in a township's name, a project's title or a note
# would be evaluated on the server. Braces as HTML entities read the same on the map and are
# not Jinja syntax.
_BRACES = str.maketrans({"{": "&#123;", "}": "&#125;"})


def text(value: object) -> str:
    """Escape a value for a map's HTML (tooltips, legends): ``<``, ``&`` and quotes, and the
    braces a template would read."""
    return html.escape(str(value)).translate(_BRACES)
