"""User text shown as text: md_escape against a real Markdown renderer."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from geo.show.text import md_escape

HOSTILE = [
    "![x](https://evil.example/t.png)",
    '<img src="https://evil.example/t.png">',
    "**bold** _it_ `code` ~~gone~~",
    "[click](javascript:alert(1))",
    "# a header",
    "- a list",
    "1. a list",
    "$x^2$ :red[red] :material/home:",
    "&lt;script&gt; &amp;",
    "a | b | c",
    "back\\slash \\*",
    "line\nbreak\r\nand\ttab",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_shows_escaped_text_literally(text):
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md_escape(text)).strip()
    inner = re.fullmatch(r"<p>(.*)</p>", rendered, re.S)
    assert inner, rendered  # one paragraph: no image, header, list, table or raw HTML
    assert "<" not in inner.group(1)  # no tag inside it either
    assert html.unescape(inner.group(1)) == " ".join(text.split())


def test_what_streamlit_adds_to_markdown_is_escaped_too():
    escaped = md_escape("$x$ :red[r] https://evil.example www.evil.example a@b.cn")
    assert "\\$x\\$" in escaped
    assert ":red\\[r\\]" in escaped
    assert "https\\://" in escaped
    assert "www\\." in escaped
    assert "a\\@b" in escaped
    assert md_escape(None) == md_escape(float("nan")) == ""
    assert md_escape("2026-11-22 08:30 广安门外街道") == "2026-11-22 08:30 广安门外街道"


def test_moments_are_shown_in_the_citys_zone_to_the_minute():
    from datetime import UTC, datetime

    import pandas as pd

    from geo.show.text import local_times

    frame = pd.DataFrame({
        "received_at": pd.to_datetime(["2026-11-30 16:30:05+00:00", None], utc=True),
        "reported_at": [datetime(2026, 12, 1, 7, 30, tzinfo=UTC), None],  # as psycopg returns them
        "note": ["at 09:30", datetime(2026, 1, 1, tzinfo=UTC)],  # mixed: left alone
        "day": pd.to_datetime(["2026-11-30", "2026-12-01"]),  # naive days stay days
        "count": [1, 2], "wall": pd.to_datetime(["2026-11-21 11:48:57", None])})
    shown = local_times(frame, "Asia/Shanghai")
    assert shown["received_at"].tolist() == ["2026-12-01 00:30", ""]
    assert shown["reported_at"].tolist() == ["2026-12-01 15:30", ""]
    assert shown["note"].tolist() == frame["note"].tolist()
    assert shown["day"].equals(frame["day"])
    assert shown["count"].equals(frame["count"])
    assert shown["wall"].tolist() == ["2026-11-21 11:48", ""], "a wall time already"
    assert local_times(frame, "America/Los_Angeles")["received_at"].iat[0] == "2026-11-30 08:30"
