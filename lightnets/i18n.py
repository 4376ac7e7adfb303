"""Translations: every user-visible string goes through one gettext catalog, English and Chinese.

Strings are written in English in the code and marked: ``_("…")`` where the text is shown now (translated into
the current language at call time), ``N_("…")`` where it is stored as data and translated when shown (knob help,
concept texts, page introductions), ``ngettext(singular, plural, n)`` for counts. Babel extracts the marked strings
into ``lightnets/locale/lightnets.pot``; translators work on ``lightnets/locale/<lang>/LC_MESSAGES/lightnets.po``,
compiled to ``.mo`` (see CONTRIBUTING.md).

The language is per thread of execution (a ``ContextVar``): every Streamlit session runs its script in a thread of
its own, so one student's 中文 never leaks into another's English. ``use_language`` sets it for a block;
the app sets it at the top of every run.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DOMAIN = "lightnets"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": "English", "zh": "中文"}  # code → the language's own name
DEFAULT = "en"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("lightnets_language", default=DEFAULT)


@functools.cache
def _catalog(language: str) -> gettext.NullTranslations:
    # loaded once per language per process (fallback: the English text itself)
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def language() -> str:
    """The current language code ('en' or 'zh')."""
    return _current.get()


def set_language(code: str) -> None:
    """Make ``code`` (a key of ``LANGUAGES``) the current language of this thread; unknown codes mean English."""
    _current.set(code if code in LANGUAGES else DEFAULT)


@contextmanager
def use_language(code: str) -> Iterator[None]:
    """The block runs in ``code``; the previous language comes back afterwards."""
    token = _current.set(code if code in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current language."""
    code = _current.get()
    return message if code == DEFAULT else _catalog(code).gettext(message)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog without translating it now (it is translated with ``_`` when shown)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    code = _current.get()
    if code == DEFAULT:
        return singular if n == 1 else plural
    return _catalog(code).ngettext(singular, plural, n)


def negotiate(locale: str | None) -> str:
    """The language to use for a browser locale such as 'zh-CN', 'zh_TW' or 'en-GB' (English when none fits)."""
    if not locale:
        return DEFAULT
    primary = locale.replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else DEFAULT
