"""The app in Chinese without a browser (AppTest): every page with ?lang=zh, its lazy tabs and its measured parts,
shows no exception and no untranslated English sentence in the main area (tests/i18n_support.py says what counts);
the sidebar's 中文 / English switch changes the language and keeps the configuration; a link carries its language;
the browser's language decides when neither does; one session's Chinese never reaches another session."""

from __future__ import annotations

import re

import pytest
from i18n_support import english_runs, flagged, main_area_texts
from markdown_support import shown
from streamlit.testing.v1 import AppTest

import lightnets
import ui
import ui.state
from lightnets.i18n import language

TIMEOUT = 120
LAZY_TABS = {"pages/architecture.py": "arch.view", "pages/cost.py": "cost.section"}


def _app(**query: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def _ok(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.message for e in at.exception]}"


def _no_english(at: AppTest, where: str) -> None:
    found = flagged(at)
    assert not found, f"{where}: untranslated English in the main area: {found[:8]}"


@pytest.mark.parametrize("page", [info.path for info in ui.PAGES])
def test_every_page_in_chinese_has_no_exception_and_no_english_sentence(page: str) -> None:
    at = _app(lang="zh")
    at.switch_page(page).run()
    _ok(at, page)
    assert language() == "en", "the test's own thread must stay English"
    title = (at.title[0].value if at.title else "")
    assert title == "LightNets Explorer" or _chinese(title), title  # the product's name stays
    _no_english(at, page)
    key = LAZY_TABS.get(page)
    if key is not None:  # every lazy tab, one after the other (AppTest cannot click: the key holds the label)
        labels = [tab.label for tab in at.tabs]
        assert labels and all(_chinese(label) for label in labels), labels
        for label in labels[1:]:
            at.session_state[key] = label
            at.run()
            _ok(at, f"{page} / {label}")
            _no_english(at, f"{page} / {label}")
    if page == "pages/latency.py":  # what a measurement shows (eager only, to keep it short)
        at.toggle(key="latency.deploy").set_value(False).run()
        at.button(key="latency.measure").click().run()
        _ok(at, "latency measured")
        assert at.metric, "the measurement is shown"
        _no_english(at, "latency measured")
    if page == "pages/cost.py":  # the Latency tab after a measurement
        at.session_state["cost.section"] = at.tabs[-1].label
        at.run()
        at.button(key="cost.measure").click().run()
        _ok(at, "cost latency measured")
        _no_english(at, "cost latency measured")


def test_the_sidebar_of_every_model_is_in_chinese() -> None:
    """Knob labels and help, the key idea, the input caption: for every registered model."""
    at = _app(lang="zh")
    for name in lightnets.list_models():
        at.selectbox(key="ui.model").set_value(name).run()
        _ok(at, name)
        found = [run for _kind, text in main_area_texts(at.sidebar) for run in english_runs(text)]
        assert not found, f"{name}: untranslated English in the sidebar: {found[:5]}"


def test_the_sidebar_switch_changes_language_and_keeps_the_configuration() -> None:
    at = _app(lang="zh", model="shufflenet_v1", groups="8", rho="0.5")
    at.switch_page("pages/cost.py").run()
    _ok(at, "zh")
    assert at.sidebar.header[0].value == "网络结构"
    at.select_slider(key=ui.knob_key("shufflenet_v1", "scale")).set_value(0.5).run()
    before = at.session_state["ui.selection"]
    assert (before.name, before.knobs["groups"], before.knobs["scale"], before.rho) == ("shufflenet_v1", 8, 0.5, 0.5)
    section = at.tabs[2].label  # a tab other than the first: its place survives the switch too
    at.session_state["cost.section"] = section
    at.run()

    at.radio(key="ui.language").set_value("en").run()
    _ok(at, "en")
    assert at.sidebar.header[0].value == "Architecture"
    assert [h.value for h in at.header][:1] == ["Totals"]
    assert at.session_state["ui.selection"] == before
    assert at.session_state["cost.section"] == "Sweeps"
    query = dict(at.query_params)
    assert query["lang"] == "en" and query["model"] == "shufflenet_v1" and query["groups"] == "8"
    assert query["scale"] == "0.5" and query["rho"] == "0.5"

    at.radio(key="ui.language").set_value("zh").run()  # and back, on another page
    at.switch_page("pages/architecture.py").run()
    _ok(at, "zh again")
    assert at.title[0].value == "网络结构" and dict(at.query_params)["lang"] == "zh"
    assert at.session_state["ui.selection"] == before


def test_a_link_opens_in_its_language_with_its_configuration_and_keeps_both() -> None:
    query = dict(lang="zh", model="mobilenet_v1", alpha="0.5", rho="0.714")
    at = _app(**query)
    at.switch_page("pages/cost.py").run()
    _ok(at, "link")
    assert not at.warning
    assert at.title[0].value == "代价"
    selection = at.session_state["ui.selection"]
    assert (selection.name, selection.knobs["alpha"], selection.resolution) == ("mobilenet_v1", 0.5, 160)
    p = lightnets.profile(lightnets.config("mobilenet_v1", 160, alpha=0.5))
    assert any(f"{p.params:,}" in c.value for c in at.caption), "the totals are those of the link's configuration"
    assert dict(at.query_params).items() >= {**query, "rho": "0.7143"}.items()  # plus the other knobs' defaults
    again = _app(**dict(at.query_params))  # the rewritten link opens the same thing again
    assert again.session_state["ui.selection"] == selection and again.title[0].value == "LightNets Explorer"
    assert again.header[0].value == "各模型系列"


def test_a_bad_language_in_a_link_is_reported_and_the_rest_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(lang="klingon", model="mobilenet_v2", alpha="0.5")
    at.switch_page("pages/cost.py").run()
    _ok(at, "bad lang")
    assert "unknown language 'klingon'" in " ".join(shown(w.value) for w in at.warning)
    assert at.session_state["ui.selection"].knobs["alpha"] == 0.5
    assert dict(at.query_params)["lang"] == "en"


@pytest.mark.parametrize("locale, title", [("zh-CN", "代价"), ("en-GB", "Cost"), (None, "Cost")])
def test_without_lang_the_browser_language_decides(monkeypatch: pytest.MonkeyPatch, locale: str | None,
                                                   title: str) -> None:
    monkeypatch.setattr(ui.state, "browser_locale", lambda: locale)
    at = _app(model="mobilenet_v2")
    at.switch_page("pages/cost.py").run()
    _ok(at, str(locale))
    assert at.title[0].value == title
    # the link, where it names a language, wins over the browser
    at = _app(model="mobilenet_v2", lang="en")
    at.switch_page("pages/cost.py").run()
    assert at.title[0].value == "Cost"


def test_one_sessions_chinese_never_reaches_another_session() -> None:
    chinese = _app(lang="zh")
    chinese.switch_page("pages/cost.py").run()
    english = _app()
    english.switch_page("pages/cost.py").run()
    chinese.switch_page("pages/architecture.py").run()
    english.run()
    assert chinese.title[0].value == "网络结构" and english.title[0].value == "Cost"
    assert [h.value for h in english.header][:1] == ["Totals"]
    assert chinese.subheader[0].value.endswith("的看点") and english.tabs[0].label == "Per layer"
