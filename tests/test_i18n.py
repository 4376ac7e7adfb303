"""The translation catalog: every marked string has a Chinese translation with the same placeholders, the compiled
catalog is the one the .po file says, and the language follows a thread (one session's 中文 never leaks into
another's English)."""

from __future__ import annotations

import gettext
import re
import threading
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from lightnets import i18n

ROOT = Path(__file__).resolve().parents[1]
PO = i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
BRACES = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")  # str.format fields ({{ and }} are literal braces)


def _marked() -> set[str | tuple[str, str]]:
    """Every string the code marks, as Babel extracts it with the project's babel.cfg."""
    method_map = [("lightnets/**.py", "python"), ("pages/**.py", "python"), ("ui/**.py", "python"),
                  ("app.py", "python")]
    found: set = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=KEYWORDS, comment_tags=()):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalog():
    with open(PO, "rb") as fh:
        return read_po(fh, locale="zh")


def _fields(text: str) -> list[str]:
    return sorted(BRACES.findall(text)) + sorted(re.findall(r"%(?:\(\w+\))?[sdfr%]", text))


def test_every_marked_string_has_a_chinese_translation() -> None:
    catalog = _catalog()
    missing = []
    for message in _marked():
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        if entry is None or not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)) \
                or entry.fuzzy:
            missing.append(key)
    assert not missing, f"{len(missing)} marked strings lack a translation, e.g. {sorted(missing)[:5]}"


def test_translations_keep_every_placeholder() -> None:
    wrong = []
    for entry in _catalog():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for original in ids:
            for translated in strings:
                if translated and _fields(original) != _fields(translated):
                    wrong.append((original, translated))
    assert not wrong, wrong[:5]


def test_the_compiled_catalog_is_the_po_file() -> None:
    catalog = _catalog()
    with open(PO.with_suffix(".mo"), "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [entry.id for entry in catalog if entry.id and isinstance(entry.id, str) and entry.string
             and compiled.gettext(entry.id) != entry.string]
    assert not stale, f"lightnets.mo is stale (run pybabel compile, see CONTRIBUTING.md): {stale[:3]}"


def test_language_is_per_thread_and_falls_back_to_english() -> None:
    seen = {}

    def run(code: str) -> None:
        i18n.set_language(code)
        seen[code] = (i18n.language(), i18n._("unknown model {name!r}; known models: {models}"))

    threads = [threading.Thread(target=run, args=(code,)) for code in ("zh", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["en"] == ("en", "unknown model {name!r}; known models: {models}")
    assert seen["zh"][0] == "zh" and seen["zh"][1] != seen["en"][1]
    assert i18n.language() == "en"  # this thread never changed
    with i18n.use_language("zh"):
        assert i18n.language() == "zh"
    assert i18n.language() == "en"
    i18n.set_language("klingon")
    assert i18n.language() == "en"


@pytest.mark.parametrize("locale, code", [("zh-CN", "zh"), ("zh_TW", "zh"), ("zh", "zh"), ("en-GB", "en"),
                                          ("fr-FR", "en"), (None, "en"), ("", "en")])
def test_browser_locales_pick_a_language(locale: str | None, code: str) -> None:
    assert i18n.negotiate(locale) == code
