"""What a person reads, in their language: one translation layer (gettext catalogues, Babel).

Pure. Every string shown to a person is written in English in the code and wrapped in
:func:`_` (or marked with :func:`N_` where it is defined, to be translated where it is
shown). The catalogues live in ``geo/locale/<language>/LC_MESSAGES/whistle.po``: Babel
extracts the strings (``make messages``) and compiles the catalogue when it is first read, so
that no compiled file can fall behind its source. English is the code's own text; a language
without a catalogue reads English.

The language is the current run's (:func:`use`): the app sets it from the signed-in user's
choice at the top of each run (Streamlit runs each session's script in a thread of its own,
with a context of its own); the command line uses the city's.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "whistle"
SOURCE = "en"
"""The language the code is written in (no catalogue)."""
LANGUAGES = {"zh_CN": "中文", "en": "English"}
"""The languages a user can choose, each named in itself."""
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}

_current: ContextVar[str | None] = ContextVar("whistle_language", default=None)


def catalogue_path(language: str) -> Path:
    """The ``.po`` file of a language."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def check_language(value: object) -> str:
    """A language code the platform speaks (``zh_CN`` or ``en``; ``zh-CN`` is read as ``zh_CN``)."""
    from geo.errors import ValidationError

    code = str(value or "").strip().replace("-", "_")
    found = next((known for known in LANGUAGES if known.lower() == code.lower()), None)
    if found is None:
        raise ValidationError(f"language {str(value)[:20]!r} is not one of {', '.join(LANGUAGES)}")
    return found


def language() -> str:
    """The current language: the run's (:func:`use`), else ``WHISTLE_LANGUAGE``, else the city's."""
    chosen = _current.get()
    if chosen is not None:
        return chosen
    from geo.settings import load_settings

    return load_settings().language


def use(language_code: str | None) -> None:
    """Make ``language_code`` the current run's language (None: the city's), with its catalogue as
    its ``.po`` file stands now (an edited catalogue is read again on the next page run)."""
    chosen = check_language(language_code) if language_code else None
    _current.set(chosen)
    _refresh(chosen or language())


@contextmanager
def speaking(language_code: str | None) -> Iterator[None]:
    """Speak ``language_code`` inside the block (a report written in a chosen language)."""
    token = _current.set(check_language(language_code) if language_code else None)
    _refresh(language())
    try:
        yield
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message, as the current language counts ``n``."""
    return translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 (gettext's own name for a marker)
    """Mark a message for extraction where it is defined; it is translated where it is shown."""
    return message


def in_language(chinese: str, english: str) -> str:
    """Of a name given in both (a profile's, a table's), the one the current language reads."""
    return chinese if language() == "zh_CN" else english


def html_lang() -> str:
    """The current language as an HTML ``lang`` (``zh-CN``)."""
    return HTML_LANG[language()]


def translations(language_code: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (the code's own English without one).

    Looked up in memory: every string of a page goes through here, and a look at the file each
    time cost 45 µs a string (bench/bench_i18n.py). :func:`use` and :func:`speaking` read the
    file's version again.
    """
    found = _loaded.get(language_code)
    return found if found is not None else _refresh(language_code)


_loaded: dict[str, gettext.NullTranslations] = {}


def _refresh(language_code: str) -> gettext.NullTranslations:
    path = catalogue_path(language_code)
    if language_code == SOURCE or not path.exists():
        found: gettext.NullTranslations = gettext.NullTranslations()
    else:
        status = path.stat()
        found = _compiled(path, status.st_mtime_ns, status.st_size)
    _loaded[language_code] = found
    return found


@lru_cache(maxsize=8)
def _compiled(path: Path, _mtime_ns: int, _size: int) -> gettext.GNUTranslations:
    # Babel compiles in memory: nothing compiled is stored that could fall behind its .po.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as source:
        catalogue = read_po(source)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
