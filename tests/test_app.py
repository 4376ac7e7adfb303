"""The Streamlit app without a browser (streamlit.testing.v1.AppTest): every page for every registered model,
knob extremes, figures that follow the knobs, the URL round trip and bad links.

Models are being added while this file is written: everything iterates ``lightnets.list_models()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import lightnets
import ui
from lightnets import analysis, concepts
from lightnets.formatting import format_count, format_percent, format_value
from markdown_support import active_syntax, shown

NAMES = lightnets.list_models()
PAGES = [info.path for info in ui.PAGES]
KNOB_PAGES = ["pages/architecture.py", "pages/cost.py"]  # the pages that compute everything from the knobs
COST_TABS = ["Per layer", "Depthwise separable", "Sweeps", "Across families", "Latency"]
TIMEOUT = 120  # a cold Cost page profiles every published setting once; CI shares 2 cores


def _app(**query: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _goto(at: AppTest, page: str) -> AppTest:
    return at.switch_page(page).run()


def _ok(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.message for e in at.exception]}"


def _set_knob(at: AppTest, name: str, knob: lightnets.Knob, value: Any) -> None:
    key = ui.knob_key(name, knob.name)
    if knob.type == "bool":
        at.toggle(key=key).set_value(value)
    elif knob.type == "text":
        at.text_input(key=key).set_value(value)
    elif knob.type == "choice":
        numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in knob.choices)
        (at.select_slider(key=key) if numeric else at.selectbox(key=key)).set_value(value)
    else:
        at.slider(key=key).set_value(value)


def _extreme(knob: lightnets.Knob, end: int) -> Any:
    values = knob.values()
    return values[0] if end == 0 else values[-1]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _exact(at: AppTest) -> dict[str, int]:
    """The exact totals the Cost page states in its 'Exactly: …' caption, by name."""
    line = next(c.value for c in at.caption if c.value.startswith("Exactly: "))
    found = dict((name, int(value.replace(",", ""))) for value, name in
                 re.findall(r"([0-9,]+) (params|MACs|FLOPs|bytes of memory access|element-wise ops)", line))
    assert len(found) == 5, line
    return found


LAZY_TABS = {"pages/cost.py": ("cost.section", COST_TABS),
             "pages/architecture.py": ("arch.view", ["Whole network", "Inside a block"])}


def _visit(at: AppTest, page: str) -> Iterator[str]:
    """Run ``page``, then each of its lazy tabs (only an open tab's content runs); yield where we are."""
    _goto(at, page)
    yield page
    if page in LAZY_TABS:
        key, labels = LAZY_TABS[page]
        assert [tab.label for tab in at.tabs] == labels
        for label in labels[1:]:
            _open_tab(at, label, key)
            yield f"{page} › {label}"
        _open_tab(at, labels[0], key)


def _open_tab(at: AppTest, label: str, key: str = "cost.section") -> AppTest:
    """Open one of a page's lazy tabs (AppTest cannot click a tab; its key holds the open label)."""
    at.session_state[key] = label
    return at.run()


def _build_error(name: str, knobs: dict[str, Any], resolution: int) -> str | None:
    """lightnets' own verdict on a configuration: None when it profiles, else the one-line ValueError."""
    try:
        lightnets.profile(lightnets.config(name, resolution, **knobs))
    except ValueError as err:
        return str(err).splitlines()[0]
    return None


# --------------------------------------------------------------------------------------------------
# every page, every model


@pytest.mark.parametrize("name", NAMES)
def test_every_page_runs_for_every_model_at_default_knobs(name: str) -> None:
    at = _app(model=name)
    assert at.selectbox(key="ui.model").value == name
    for page in PAGES:
        for where in _visit(at, page):
            _ok(at, f"{name} on {where}")
            if page not in ("pages/latency.py", "pages/predict.py"):  # those report missing weights themselves
                assert not at.error, f"{name} on {where}: {[e.value for e in at.error]}"
            assert at.title, f"{name} on {where}: no title"


@dataclass(frozen=True)
class Extreme:
    name: str
    end: int  # 0: every knob and ρ at its minimum, 1: at its maximum

    def __str__(self) -> str:
        return f"{self.name}-{'min' if self.end == 0 else 'max'}"


@pytest.mark.parametrize("case", [Extreme(n, e) for n in NAMES for e in (0, 1)], ids=str)
def test_knob_pages_run_at_extreme_knobs(case: Extreme) -> None:
    spec = lightnets.spec(case.name)
    at = _app(model=case.name)
    knobs = {}
    for knob in spec.knobs:
        knobs[knob.name] = _extreme(knob, case.end)
        _set_knob(at, case.name, knob, knobs[knob.name])
    step = ui.RHO_STEPS[0] if case.end == 0 else ui.RHO_STEPS[-1]
    at.select_slider(key="ui.rho").set_value(step)
    resolution = spec.rho_resolution(knobs, ui.rho_of(step))
    expected_error = _build_error(case.name, knobs, resolution)
    for page in KNOB_PAGES:
        for where in _visit(at, page):
            _ok(at, f"{case} on {where}")
            errors = [shown(e.value) for e in at.error]
            if expected_error is None:
                assert not errors, f"{case} on {where}: {errors}"
            else:  # a combination the architecture cannot build: lightnets' one-line reason, no traceback
                assert expected_error in errors and all("\n" not in e for e in errors)


# --------------------------------------------------------------------------------------------------
# the figures follow the knobs


@pytest.mark.parametrize("name", [n for n in NAMES if lightnets.spec(n).knobs])
def test_changing_a_knob_shows_the_profile_of_the_new_setting(name: str) -> None:
    spec = lightnets.spec(name)
    knob = spec.knobs[0]
    value = next(v for v in reversed(knob.values()) if v != knob.default)
    at = _goto(_app(model=name), "pages/cost.py")
    before = _exact(at)
    _set_knob(at, name, knob, value)
    at.run()
    _ok(at, f"{name} {knob.name}={value}")
    knobs = {**spec.defaults(), knob.name: value}
    resolution = lightnets.spec(name).rho_resolution(knobs, 1.0)
    if _build_error(name, knobs, resolution):
        pytest.skip(f"{name} cannot build with {knob.name}={value}")
    p = lightnets.profile(lightnets.config(name, resolution, **knobs))
    shown = _exact(at)
    assert (shown["params"], shown["MACs"], shown["FLOPs"]) == (p.params, p.macs, p.flops)
    assert _metric(at, "params") == format_count(p.params) and _metric(at, "MACs") == format_count(p.macs)
    assert shown != before or (p.params, p.macs) == (before["params"], before["MACs"])


def test_alpha_and_rho_move_params_and_macs_as_they_should() -> None:
    at = _goto(_app(model="mobilenet_v2"), "pages/cost.py")
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(0.5).run()
    half = _exact(at)
    assert half["params"] == lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.5)).params
    at.select_slider(key="ui.rho").set_value(20).run()  # ρ = 5/7: 160 px
    small = _exact(at)
    p = lightnets.profile(lightnets.config("mobilenet_v2", 160, alpha=0.5))
    assert small["params"] == half["params"] == p.params  # resolution does not change the weights
    assert small["MACs"] == p.macs < half["MACs"]
    assert dict(at.query_params)["rho"] == "0.7143" and dict(at.query_params)["alpha"] == "0.5"


def test_sweep_chart_highlights_the_current_configuration() -> None:
    at = _goto(_app(model="mobilenet_v2", alpha="0.75", expansion="4"), "pages/cost.py")
    _open_tab(at, "Sweeps")
    at.radio(key="cost.sweep.mobilenet_v2").set_value("expansion").run()
    _ok(at, "expansion sweep")
    sweep = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                 if "Cost against" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    stars = [t for t in sweep["data"] if t.get("name") == "current"]
    p = lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.75, expansion=4))
    assert [(s["x"][0], s["y"][0]) for s in stars] == [(4, p.macs), (4, p.params)]


def _sweep_title(at: AppTest) -> str:
    return next(t for t in (json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart"))
                if t.startswith("Cost against"))


def test_the_swept_knob_stays_chosen_through_slider_moves_page_switches_and_model_changes() -> None:
    at = _goto(_app(model="mobilenet_v2"), "pages/cost.py")
    _open_tab(at, "Sweeps")
    at.radio(key="cost.sweep.mobilenet_v2").set_value("expansion").run()
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(0.5).run()
    at.toggle(key=ui.knob_key("mobilenet_v2", "linear_bottleneck")).set_value(False).run()
    at.select_slider(key="ui.rho").set_value(20).run()
    assert at.radio(key="cost.sweep.mobilenet_v2").value == "expansion"
    assert _sweep_title(at) == "Cost against expansion ratio t"
    _goto(at, "pages/home.py")
    _goto(at, "pages/cost.py")
    assert at.session_state["cost.section"] == "Sweeps"
    assert at.radio(key="cost.sweep.mobilenet_v2").value == "expansion"
    other = "shufflenet_v1"
    at.selectbox(key="ui.model").set_value(other).run()
    at.radio(key=f"cost.sweep.{other}").set_value("groups").run()
    assert _sweep_title(at) == f"Cost against {lightnets.spec(other).knob('groups').label}"
    at.selectbox(key="ui.model").set_value("mobilenet_v2").run()
    assert at.radio(key="cost.sweep.mobilenet_v2").value == "expansion"  # each model keeps its own choice
    assert _sweep_title(at) == "Cost against expansion ratio t"


def test_published_setting_shows_the_paper_beside_the_profile() -> None:
    at = _goto(_app(model="mobilenet_v2"), "pages/cost.py")
    ref = lightnets.spec("mobilenet_v2").matching_references(lightnets.config("mobilenet_v2", 224))[0]
    assert any(ref.label in s.value for s in at.success)
    captions = [c.value for c in at.caption]
    assert f"paper: {ref.params_m:g} M" in captions and f"paper: {ref.macs_m:g} M" in captions
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(0.6).run()
    assert not at.success and not any(c.startswith("paper:") for c in (c.value for c in at.caption))


@dataclass(frozen=True)
class FakeLatency:
    """What lightnets.measure_latency returns, with fixed figures (module level: st.cache_data pickles it)."""

    median_ms: float = 12.5
    p25_ms: float = 12.0
    p75_ms: float = 13.0
    iqr_ms: float = 1.0
    p90_ms: float = 14.0
    min_ms: float = 11.0
    runs: int = 50
    threads: int = 2
    device: str = "cpu"
    batch: int = 1
    resolution: int = 224


def test_latency_is_measured_on_the_button_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    def fake(config: lightnets.Config, **kwargs: Any) -> FakeLatency:
        calls.append((config, kwargs))
        return FakeLatency(resolution=config.resolution)

    monkeypatch.setattr(lightnets, "measure_latency", fake)
    ui.measure._measure.clear()
    at = _goto(_app(model="mobilenet_v2"), "pages/cost.py")
    _open_tab(at, "Latency")
    assert not calls and not [m for m in at.metric if m.label == "median"]
    at.button(key="cost.measure").click().run()
    _ok(at, "latency button")
    assert len(calls) == 1 and _metric(at, "median") == "12.50 ms"
    assert _metric(at, "threads · device") == "2 · cpu"
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(0.5).run()
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(1.0).run()
    assert len(calls) == 1  # slider moves never measure
    assert _metric(at, "median") == "12.50 ms"  # and the earlier result is still there for this setting


# --------------------------------------------------------------------------------------------------
# the sidebar: state across pages, the URL


def test_selection_survives_page_switches_and_model_changes() -> None:
    at = _app()
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(0.35)
    at.toggle(key=ui.knob_key("mobilenet_v2", "linear_bottleneck")).set_value(False).run()
    for page in ("pages/cost.py", "pages/architecture.py", "pages/home.py"):
        _goto(at, page)
        assert at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).value == 0.35
        assert at.toggle(key=ui.knob_key("mobilenet_v2", "linear_bottleneck")).value is False
    other = next(n for n in NAMES if n != "mobilenet_v2")
    at.selectbox(key="ui.model").set_value(other).run()
    _ok(at, other)
    assert dict(at.query_params)["model"] == other and "alpha" not in dict(at.query_params) or \
        "alpha" in {k.name for k in lightnets.spec(other).knobs}
    at.selectbox(key="ui.model").set_value("mobilenet_v2").run()
    assert at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).value == 0.35  # remembered while hidden


def test_a_shared_link_reproduces_the_configuration() -> None:
    query = dict(model="mobilenet_v2", alpha="0.35", expansion="4", linear_bottleneck="false", rho="0.714")
    at = _goto(_app(**query), "pages/cost.py")
    _ok(at, "shared link")
    assert not at.warning
    assert at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).value == 0.35
    assert at.slider(key=ui.knob_key("mobilenet_v2", "expansion")).value == 4
    assert at.toggle(key=ui.knob_key("mobilenet_v2", "linear_bottleneck")).value is False
    assert at.select_slider(key="ui.rho").value == 20
    p = lightnets.profile(lightnets.config("mobilenet_v2", 160, alpha=0.35, expansion=4, linear_bottleneck=False))
    assert (_exact(at)["params"], _exact(at)["MACs"]) == (p.params, p.macs)
    # the URL is rewritten in canonical form, so copying it again gives the same link
    assert dict(at.query_params) == {**query, "rho": "0.7143", "lang": "en"}  # the link also keeps its language


def test_every_run_sends_the_chosen_values_with_the_sidebar_widgets() -> None:
    """Regression: a widget's value went to the browser only in the run that chose it (the link's first run). A
    browser that had not mounted the sidebar yet when the next run started (a tab clicked right after the page
    appeared) showed each widget's first option and sent it back: SqueezeNet, ρ = 0.25 and 中文 for everyone."""
    at = _goto(_app(model="shufflenet_v1", groups="8", rho="0.5", lang="en", present="1"), "pages/cost.py")
    for _ in range(2):  # the run after the link's: nothing is set through st.session_state by the user any more
        at.run()
        _ok(at, "rerun")
        widgets = {"ui.model": at.selectbox(key="ui.model"), "ui.rho": at.select_slider(key="ui.rho"),
                   "ui.language": at.radio(key="ui.language"), "ui.present": at.toggle(key="ui.present"),
                   "groups": at.select_slider(key=ui.knob_key("shufflenet_v1", "groups"))}
        unsent = [key for key, widget in widgets.items() if not widget.proto.set_value]
        assert not unsent, f"these widgets went to the browser without their value: {unsent}"
        assert (widgets["ui.model"].value, widgets["ui.rho"].value, widgets["ui.language"].value,
                widgets["ui.present"].value, widgets["groups"].value) == ("shufflenet_v1", 14, "en", True, 8)


@pytest.mark.parametrize("name", NAMES)
def test_every_model_round_trips_through_the_url(name: str) -> None:
    spec = lightnets.spec(name)
    knobs = {k.name: _extreme(k, 1) for k in spec.knobs}
    if _build_error(name, knobs, spec.rho_resolution(knobs, 0.5)):
        knobs = spec.defaults()
    at = _app(model=name, rho="0.5", **{k: format_value(v) for k, v in knobs.items()})
    assert not at.warning, [w.value for w in at.warning]
    selection = at.session_state["ui.selection"]
    assert (selection.name, selection.knobs, selection.rho) == (name, spec.validate(knobs), 0.5)
    again = _app(**dict(at.query_params))
    assert again.session_state["ui.selection"] == selection


@pytest.mark.parametrize("query, fragment", [
    (dict(model="resnet50"), "unknown model 'resnet50'"),
    (dict(model="mobilenet_v2", alpha="abc"), "alpha='abc' is not allowed"),
    (dict(model="mobilenet_v2", alpha="3"), "alpha='3' is not allowed"),
    (dict(model="mobilenet_v2", expansion="2.5"), "expansion='2.5' is not allowed"),
    (dict(model="mobilenet_v2", linear_bottleneck="maybe"), "linear_bottleneck='maybe' is not allowed"),
    (dict(model="mobilenet_v2", rho="9"), "rho='9' is not allowed"),
    (dict(model="mobilenet_v2", rho="nan"), "rho='nan' is not allowed"),
])
def test_bad_link_values_warn_and_fall_back_to_defaults(query: dict[str, str], fragment: str) -> None:
    at = _goto(_app(**query), "pages/cost.py")
    _ok(at, str(query))
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert fragment in warnings
    selection = at.session_state["ui.selection"]
    name = query["model"] if query["model"] in NAMES else ui.default_model()
    assert selection.name == name and selection.knobs == lightnets.spec(name).defaults() and selection.rho == 1.0
    assert _exact(at)["params"] == lightnets.profile(lightnets.config(name)).params


def test_the_link_warning_stays_across_pages_until_the_user_changes_something() -> None:
    at = _app(model="mobilenet_v2", alpha="abc")
    for page in ("pages/cost.py", "pages/architecture.py"):
        _goto(at, page)
        assert "alpha='abc'" in " ".join(shown(w.value) for w in at.warning)
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(0.5).run()
    assert not at.warning
    at.slider(key=ui.knob_key("mobilenet_v2", "alpha")).set_value(1.0).run()
    assert not at.warning  # back at the defaults: the link's problem is history


def test_a_knob_of_another_model_in_the_link_is_reported() -> None:
    foreign = next((k.name for n in NAMES for k in lightnets.spec(n).knobs
                    if k.name not in {x.name for x in lightnets.spec("mobilenet_v2").knobs}), None)
    if foreign is None:
        pytest.skip("no other model has a knob mobilenet_v2 lacks")
    at = _app(model="mobilenet_v2", **{foreign: "1"})
    assert f"has no knob '{foreign}'" in " ".join(shown(w.value) for w in at.warning)


# --------------------------------------------------------------------------------------------------
# the other pages' content


def _markdown_table(at: AppTest, first_column: str) -> dict[str, list[str]]:
    """The columns of the markdown table whose header starts with ``first_column``."""
    text = next(m.value for m in at.markdown if m.value.startswith(f"| {first_column} |"))
    header, _, *rows = [[cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
                        for line in text.splitlines()]
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def test_home_table_lists_every_model_with_its_profile() -> None:
    at = _app()
    assert at.title[0].value == "LightNets Explorer"
    table = _markdown_table(at, "model")
    assert table["model"] == [lightnets.spec(n).title for n in NAMES]
    assert table["year"] == [str(lightnets.spec(n).paper.year) for n in NAMES]
    assert table["key idea"] == [lightnets.spec(n).idea for n in NAMES]
    profiles = [lightnets.profile(lightnets.config(n)) for n in NAMES]
    assert table["params"] == [format_count(p.params).replace(" ", "\u00a0") for p in profiles]
    assert table["MACs"] == [format_count(p.macs).replace(" ", "\u00a0") for p in profiles]
    top1 = [analysis.published_top1(lightnets.config(n))[0] for n in NAMES]
    assert table["paper top-1"] == [format_percent(t) for t in top1]


def test_architecture_page_draws_the_graph_of_the_current_configuration() -> None:
    at = _goto(_app(model="mobilenet_v2", alpha="0.5", rho="0.5"), "pages/architecture.py")
    _ok(at, "architecture")
    config = lightnets.config("mobilenet_v2", 112, alpha=0.5)
    assert [g.proto.spec for g in at.get("graphviz_chart")] == [lightnets.block_graph(config)]
    assert [t.label for t in at.tabs] == ["Whole network", "Inside a block"]
    at.session_state["arch.view"] = "Inside a block"  # a lazy tab: AppTest opens it through its key
    at.run()
    graphs = [None] + [g.proto.spec for g in at.get("graphviz_chart")]  # the network tab is not drawn now
    choices = lightnets.block_choices(lightnets.config("mobilenet_v2", 112, alpha=0.5))
    block = at.selectbox(key="arch.block")
    assert block.options == [f"{path}: {label}" for path, label in choices]
    # it opens on a typical block: an inverted residual with t = 6 and its shortcut, not the first (t = 1) one
    assert block.value == "features.3" and "t=6" in dict(choices)["features.3"]
    assert graphs[1] == lightnets.block_inner_graph(lightnets.config("mobilenet_v2", 112, alpha=0.5), "features.3")
    block.set_value(choices[2][0]).run()
    assert at.session_state["arch.view"] == "Inside a block"  # choosing a block keeps its tab open
    graphs = [None] + [g.proto.spec for g in at.get("graphviz_chart")]
    assert graphs[1] == lightnets.block_inner_graph(lightnets.config("mobilenet_v2", 112, alpha=0.5), choices[2][0])
    # the block table and torchinfo are built only when their expanders are opened
    assert not at.code and not at.dataframe
    at.session_state["arch.summary"] = True
    at.session_state["arch.table"] = True
    at.run()
    assert at.code[0].value == lightnets.model_summary(lightnets.config("mobilenet_v2", 112, alpha=0.5))
    table = at.dataframe[0].value
    config = lightnets.config("mobilenet_v2", 112, alpha=0.5)
    assert list(table["block"]) == [b.path for b in lightnets.profile(config).blocks]


def test_architecture_page_explains_what_this_configuration_contains() -> None:
    at = _goto(_app(model="mobilenet_v3_small", alpha="0.5"), "pages/architecture.py")
    text = " ".join(m.value for m in at.markdown)
    for concept in concepts.concepts(lightnets.config("mobilenet_v3_small", alpha=0.5)):
        assert f"**{concept.term}**: {concept.text}" in text
    assert "What to look for in MobileNet V3-Small" in [h.value for h in at.subheader]
    at.toggle(key=ui.knob_key("mobilenet_v3_small", "hswish")).set_value(False).run()
    assert "**h-swish**" not in " ".join(m.value for m in at.markdown)  # the explanation follows the knobs


def test_channel_shuffle_page_follows_shufflenets_groups_with_a_channel_count_that_mixes() -> None:
    at = _goto(_app(model="shufflenet_v1", groups="8"), "pages/channel_shuffle.py")
    _ok(at, "shuffle page, g = 8")
    assert at.select_slider(key="shuffle.groups").value == 8
    assert at.select_slider(key="shuffle.channels").value == 48  # 6 channels per group, not 1 (no shuffle at all)
    assert "each output sees 6 of 8 groups" in at.get("plotly_chart")[1].proto.spec
    at.select_slider(key=ui.knob_key("shufflenet_v1", "groups")).set_value(4).run()
    assert at.select_slider(key="shuffle.groups").value == 4  # the sidebar's change is followed …
    assert at.select_slider(key="shuffle.channels").value == 16
    at.select_slider(key="shuffle.groups").set_value(2).run()
    at.select_slider(key=ui.knob_key("shufflenet_v1", "scale")).set_value(0.5).run()
    assert at.select_slider(key="shuffle.groups").value == 2  # … but another knob's move keeps the page's own g


def test_channel_shuffle_page_animates_the_chosen_shuffle() -> None:
    at = _goto(_app(), "pages/channel_shuffle.py")
    at.select_slider(key="shuffle.groups").set_value(4).run()
    at.select_slider(key="shuffle.channels").set_value(16).run()
    _ok(at, "shuffle g=4, 16 channels")
    anim = json.loads(at.get("plotly_chart")[0].proto.spec)
    last = anim["frames"][-1]["data"][0]
    order = [int(c) for _, c in sorted(zip(last["x"], last["ids"]))]
    assert order == list(lightnets.shuffle_frames(16, 4).permutation)
    # groups the channel count does not divide are never offered: 16 channels, then g = 3 → nearest valid count
    at.select_slider(key="shuffle.groups").set_value(3).run()
    assert at.select_slider(key="shuffle.channels").value % 3 == 0
    v2 = json.loads(at.get("plotly_chart")[2].proto.spec)
    assert v2["frames"][-1]["data"][0]["ids"] == [str(c) for c in range(8)]


# --------------------------------------------------------------------------------------------------
# whatever a link carries is shown as plain text, cut short

LINK = "[click here](http://evil.example/)"
IMAGE = "![x](http://evil.example/p.png)"
HTML = "<img src=http://evil.example/q.png>"


def _outside_text_is_inert(at: AppTest) -> str:
    """Every element that could render markdown shows the link's values as text: nothing of them stays active
    markdown (links, images, HTML); returns the warnings' text as displayed."""
    for element in [*at.warning, *at.error]:
        assert active_syntax(element.value) == [], element.value
    for element in [*at.markdown, *at.caption, *at.info, *at.success]:
        assert "evil.example" not in element.value, element.value
    return " ".join(shown(w.value) for w in at.warning)


@pytest.mark.parametrize("name", NAMES)
def test_links_and_images_in_every_knob_are_shown_as_plain_text(name: str) -> None:
    payloads = [LINK, IMAGE, HTML]
    query = {knob.name: payloads[i % 3] for i, knob in enumerate(lightnets.spec(name).knobs)}
    at = _app(model=name, rho=IMAGE, **query)
    _ok(at, name)
    text = _outside_text_is_inert(at)
    for knob in query:
        assert f"{knob}=" in text  # each bad value is reported, as text
    assert "rho='![x](http://evil.example/p.png)'" in text
    assert at.session_state["ui.selection"].knobs == lightnets.spec(name).defaults()


def test_a_link_as_the_model_name_and_a_huge_value_are_cut_and_inert() -> None:
    at = _app(model=LINK, alpha="9" * 10_000, rho="x" * 10_000)
    _ok(at, "model link")
    text = _outside_text_is_inert(at)
    assert "unknown model '[click here](http://evil.example/)'" in text
    assert "9" * 60 not in text and "x" * 60 not in text and "…" in text  # cut, with an ellipsis
    assert len(text) < 1000
