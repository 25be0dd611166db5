"""The translation layer: every string a person reads is in the zh-CN catalogue, the pages call
no widget with English of their own, and the language follows the user, then the city."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from geo import i18n
from geo.errors import ValidationError
from geo.i18n import _
from geo.show import words
from tests.helpers import ROOT

SOURCES = [ROOT / "app.py", *sorted((ROOT / "views").rglob("*.py")), *sorted((ROOT / "layers").rglob("*.py")),
           *sorted((ROOT / "geo").rglob("*.py"))]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def extracted() -> dict[str, list[str]]:
    """Every message in the code (as ``make messages`` extracts it), with where it is."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        for line, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
            # A plural is filed under its singular (its plural is the catalogue entry's too).
            text = message[0] if isinstance(message, tuple) else message
            found.setdefault(text, []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def catalogue():
    with i18n.catalogue_path("zh_CN").open("rb") as handle:
        return read_po(handle)


def fields(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_every_message_has_a_chinese_translation():
    messages = extracted()
    assert len(messages) > 300
    po = catalogue()
    missing = sorted(m for m in messages if not (po.get(m) and po.get(m).string and not po.get(m).fuzzy))
    assert not missing, f"{len(missing)} messages lack a zh_CN translation (make messages): " + "; ".join(
        f"{m!r} at {messages[m][0]}" for m in missing[:20])


def test_the_catalogue_holds_no_message_the_code_no_longer_has():
    messages = extracted()
    stale = sorted(str(m.id) for m in catalogue() if m.id and (m.id[0] if isinstance(m.id, tuple) else m.id)
                   not in messages)
    assert not stale, stale[:20]


def test_each_translation_keeps_the_fields_it_is_formatted_with():
    for message in catalogue():
        texts = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in texts[:1] if message.id else ():
            for translation in translations:
                if translation:
                    assert fields(text) == fields(translation), (text, translation)


# A page's text goes to these; the first argument (or the label) must come through the layer.
_SHOWN = {"title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success", "metric",
          "button", "form_submit_button", "download_button", "selectbox", "radio", "multiselect", "select_slider",
          "text_input", "number_input", "date_input", "checkbox", "file_uploader", "expander", "segmented_control",
          "spinner", "toast", "legend", "LegendItem", "line_chart"}


def _english(node: ast.AST) -> str | None:
    """The English words a literal (or an f-string) would show, if any."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    else:
        return None
    words_in = [w for w in "".join(c if c.isalpha() and c.isascii() else " " for c in text).split() if len(w) > 2]
    return text if words_in else None


def test_no_page_or_layer_shows_english_of_its_own():
    found = []
    for path in [ROOT / "app.py", *sorted((ROOT / "views").rglob("*.py")), *sorted((ROOT / "layers").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or (isinstance(node.func, ast.Attribute) and isinstance(
                    node.func.value, ast.Name) and node.func.value.id == "log"):  # the log is for the team
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            shown = [*node.args[:1], *(k.value for k in node.keywords if k.arg in ("label", "title", "help",
                                                                                  "y_title", "page_title"))]
            if name in _SHOWN:
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}({text!r})"
                          for text in map(_english, shown) if text]
            if name == "geojson_layer":
                aliases = next((k.value for k in node.keywords if k.arg == "tooltip_aliases"), None)
                if isinstance(aliases, ast.List):
                    found += [f"{path.relative_to(ROOT)}:{node.lineno} alias {text!r}"
                              for text in map(_english, aliases.elts) if text]
    assert not found, found


def test_every_word_table_is_marked_for_the_catalogue():
    messages = extracted()
    tables = {name: value for name, value in vars(words).items() if name.isupper() and isinstance(value, dict)}
    assert {"CALL_STATES", "CLASSES", "PATTERNS", "COLUMNS", "REASONS"} <= set(tables)
    for name, table in tables.items():
        for text in table.values():
            assert text in messages, (name, text)


def test_the_language_is_the_runs_then_the_citys():
    assert i18n.language() == "zh_CN"  # Beijing's profile
    assert _("Overview") == "全市概览"
    with i18n.speaking("en"):
        assert _("Overview") == "Overview"
        assert words.word(words.CALL_STATES, "raised") == "open"
        with i18n.speaking("zh-CN"):
            assert words.word(words.CALL_STATES, "raised") == "进行中"
        assert i18n.html_lang() == "en"
    assert i18n.html_lang() == "zh-CN"
    assert words.word(words.CALL_STATES, "not a state") == "not a state"
    assert words.column("composite_rank") == "排名"


def test_an_unknown_language_is_refused_by_name():
    with pytest.raises(ValidationError, match="klingon"):
        i18n.check_language("klingon")
    with pytest.raises(ValidationError, match="not one of"):
        i18n.use("fr_FR")


def test_a_city_profile_names_its_language(tmp_path):
    from geo.city import load_city

    source = (ROOT / "cities" / "beijing" / "city.toml").read_text(encoding="utf-8")
    english = tmp_path / "english" / "city.toml"
    english.parent.mkdir()
    english.write_text(source.replace('language = "zh_CN"', 'language = "en"'), encoding="utf-8")
    assert load_city(english).language == "en"
    unset = tmp_path / "unset" / "city.toml"
    unset.parent.mkdir()
    unset.write_text(source.replace('language = "zh_CN"', ""), encoding="utf-8")
    assert load_city(unset).language == "zh_CN"
    wrong = tmp_path / "wrong" / "city.toml"
    wrong.parent.mkdir()
    wrong.write_text(source.replace('language = "zh_CN"', 'language = "tlh"'), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"city.toml: language 'tlh'"):
        load_city(wrong)


def test_short_days_and_months_read_as_each_language_writes_them():
    from datetime import date

    from geo.show.text import month_label, short_day

    assert short_day(date(2026, 11, 3)) == "11月3日"
    assert month_label(date(2026, 11, 3)) == "2026年11月"
    with i18n.speaking("en"):
        assert short_day(date(2026, 11, 3)) == "3 Nov"
        assert month_label(date(2026, 11, 3)) == "November 2026"


def test_a_compiled_catalogue_follows_its_source(tmp_path, monkeypatch):
    po = tmp_path / "zh_CN" / "LC_MESSAGES" / "whistle.po"
    po.parent.mkdir(parents=True)
    po.write_bytes(i18n.catalogue_path("zh_CN").read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    try:
        i18n.use(None)  # a page run reads the catalogue's version
        assert _("Overview") == "全市概览"
        text = po.read_text(encoding="utf-8").replace('msgstr "全市概览"', 'msgstr "概览"')
        po.write_text(text, encoding="utf-8")
        assert _("Overview") == "全市概览"  # between runs, from memory
        i18n.use(None)
        assert _("Overview") == "概览"  # the next run reads the edited catalogue
    finally:
        monkeypatch.undo()
        i18n.use(None)
    assert _("Overview") == "全市概览"


def test_the_sources_list_covers_the_packages():
    assert Path(ROOT / "views" / "overview.py") in SOURCES
    assert Path(ROOT / "geo" / "i18n.py") in SOURCES
