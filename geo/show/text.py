"""User text shown as text: in Markdown (reports) and in Streamlit's labels, captions and headers.

Pure. Streamlit reads Markdown in titles, headers, captions, widget labels, expanders, metrics
and help texts; a project title of ``![x](https://evil.example/t.png)`` became an image the
browser fetched, ``**x**`` bold, ``$x$`` maths and ``:red[x]`` colour. Every piece of text a
user (or a boundary file, or an export) supplied goes through :func:`md_escape` before it
reaches one of those.
"""

from __future__ import annotations

import math
import re

# The characters that Markdown, Streamlit's maths ($) and colours (:red[...]), an HTML tag or
# an entity could read anywhere in a line; CommonMark lets a backslash make each literal.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~$&])")
# What starts a list or a rule only at the start of a line: "- x", "---", "1. x", "2) x".
_MD_LEADING = re.compile(r"^(\d{1,9}(?=[.)](?:\s|$))|(?=-(?:\s|$|-)))")
# What GitHub-flavoured Markdown turns into a link by itself: "https://…", "www.…", "a@b.cn".
_AUTOLINK = re.compile(r"(?<=[a-zA-Z])(:)(?=//)|(?<=\bwww)(\.)|(@)")


def md_escape(value: object) -> str:
    """Text as Markdown that shows it literally (one line; markup characters escaped).

    Parameters
    ----------
    value : object
        Any value; None and NaN give an empty string.

    Returns
    -------
    str
        The text on one line, every Markdown character behind a backslash.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    text = _AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    return _MD_LEADING.sub(lambda m: m.group(0) + "\\", text, count=1)
