"""The package's own texts in Chinese: knob labels and help, key ideas and notes, block labels, stage and kind
names, the block graphs, concepts, shuffle frames and figure titles come out in the current language, English is
unchanged, and no cache hands one language's text to the other."""

from __future__ import annotations

import json
import pickle
import re
import threading

import numpy as np
import pytest

import lightnets
from lightnets import analysis, concepts, graph, i18n
from lightnets.figures import cost as cost_figures
from lightnets.figures import shuffle as shuffle_figures
from lightnets.figures.style import LOOK
from lightnets.i18n import use_language
from lightnets.ops import OP_KINDS, kind_label
from lightnets.registry import stage_label
from lightnets.translated import msgid

CJK = re.compile(r"[\u4e00-\u9fff]")
# two English words in a row (3+ letters each): an untranslated phrase. Single tokens (ReLU6, bneck, s2) are names.
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{3,} [A-Za-z]{3,}\b")
MODELS = lightnets.list_models()


def _zh(text: str) -> bool:
    return bool(CJK.search(text))


@pytest.mark.parametrize("name", MODELS)
def test_every_model_text_is_marked_and_translated(name: str) -> None:
    spec = lightnets.spec(name)
    english = (spec.idea, spec.notes, [(k.label, k.help) for k in spec.knobs], [r.note for r in spec.references])
    with use_language("zh"):
        assert _zh(spec.idea), spec.idea
        assert all(_zh(note) for note in spec.notes), spec.notes
        for knob, (label, _help) in zip(spec.knobs, english[2]):
            # a label that is a bare name ("h-swish", "depth") may stay as it is; a phrase is translated
            assert _zh(knob.label) or " " not in label, (knob.name, knob.label)
            assert not knob.help or _zh(knob.help), (knob.name, knob.help)
        assert all(_zh(ref.note) for ref in spec.references if ref.note)
    # English back, byte for byte, and the stored msgid is the English
    assert (spec.idea, spec.notes, [(k.label, k.help) for k in spec.knobs],
            [r.note for r in spec.references]) == english
    assert msgid(spec, "idea") == spec.idea


@pytest.mark.parametrize("name", MODELS)
def test_block_labels_follow_the_language(name: str) -> None:
    config = lightnets.config(name)
    english = [row.label for row in config.blocks]
    with use_language("zh"):
        chinese = [row.label for row in config.blocks]
        p = lightnets.profile(config)
        assert [b.label for b in p.blocks] == chinese  # not the cached English profile
    assert english != chinese
    left = [label for label in chinese if ENGLISH_RUN.search(label)]
    assert not left, f"English left in Chinese block labels: {left[:3]}"
    assert [b.label for b in lightnets.profile(config).blocks] == english  # and not the Chinese one


def test_a_cached_graph_in_english_is_not_served_in_chinese() -> None:
    config = lightnets.config("mobilenet_v2", alpha=0.5)
    english = lightnets.block_graph(config)
    with use_language("zh"):
        chinese = lightnets.block_graph(config)
    assert "input image" in english and "block kinds" in english and "stage 1" in english
    assert "输入图像" in chinese and "模块类型" in chinese and "阶段 1" in chinese
    assert "input image" not in chinese and "inverted residual" not in chinese
    assert lightnets.block_graph(config) == english


def test_graph_languages_do_not_leak_across_threads() -> None:
    config = lightnets.config("shufflenet_v2", width=0.5)
    seen: dict[str, str] = {}

    def draw(code: str) -> None:
        i18n.set_language(code)
        seen[code] = lightnets.block_graph(config)

    threads = [threading.Thread(target=draw, args=(code,)) for code in ("zh", "en", "zh", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "通道洗牌" not in seen["en"] and "ShuffleNet V2 单元" in seen["zh"]


@pytest.mark.parametrize("name, knobs", [("mobilenet_v3_large", {}), ("ghostnet", {}), ("shufflenet_v1", {}),
                                         ("squeezenet1_0", {}), ("espnet_v2", {})])
def test_the_inside_of_a_block_has_the_same_structure_in_both_languages(name: str, knobs: dict) -> None:
    config = lightnets.config(name, **knobs)
    english = graph.block_choices(config)
    with use_language("zh"):
        chinese = graph.block_choices(config)
        inner_zh = [graph.block_inner_data(config, path) for path, _label in chinese]
        dots = [graph.block_inner_graph(config, path) for path, _label in chinese]
    inner_en = [graph.block_inner_data(config, path) for path, _label in english]
    # the same blocks are worth drawing, with the same operators, shapes and edges: only the words differ
    assert [path for path, _ in chinese] == [path for path, _ in english]
    for zh, en in zip(inner_zh, inner_en):
        assert [(n.id, n.op, n.shape, n.group) for n in zh.nodes] == [(n.id, n.op, n.shape, n.group) for n in en.nodes]
        assert zh.edges == en.edges and zh.traced == en.traced
    assert any(n.label == "输入" for n in inner_zh[0].nodes)
    adds = [n for inner in inner_zh for n in inner.nodes if n.op == "add" and n.label == "相加"]
    if adds:  # a residual add is drawn as "+" in either language
        assert any('label="+"' in dot for dot in dots)


def test_concepts_and_their_cache_follow_the_language() -> None:
    config = lightnets.config("mobilenet_v2")
    english = concepts.concepts(config)
    with use_language("zh"):
        chinese = concepts.concepts(config)
    assert [c.term for c in english][:2] == ["Depthwise separable convolution", "Inverted residual"]
    assert len(chinese) == len(english) and all(_zh(c.text) for c in chinese)
    assert all(_zh(zh.term) or " " not in en.term for zh, en in zip(chinese, english))  # ReLU6 stays ReLU6
    assert concepts.concepts(config) == english


def test_stage_and_kind_names() -> None:
    assert [stage_label(s) for s in ("stem", "stage 3", "head")] == ["stem", "stage 3", "head"]
    assert [kind_label(k) for k in OP_KINDS] == list(OP_KINDS)
    with use_language("zh"):
        assert stage_label("stage 3") == "阶段 3"
        assert kind_label("depthwise") == "逐通道卷积" and kind_label("MBConv") == "MBConv"
        assert all(_zh(kind_label(k)) for k in OP_KINDS if k != "bn")
        table = lightnets.profile(lightnets.config("mobilenet_v1")).block_table()
        assert "阶段" in table and "逐通道卷积" not in table["类型"] and "深度可分离卷积" in table["类型"]
    assert "stage" in lightnets.profile(lightnets.config("mobilenet_v1")).block_table()


def test_figures_speak_the_language_and_use_a_cjk_font() -> None:
    assert "Noto Sans CJK SC" in LOOK["font"]["family"]
    p = lightnets.profile(lightnets.config("mobilenet_v2"))
    pair = analysis.separable_pairs(p)[0]
    english = cost_figures.separable_chart(pair).layout.title.text
    with use_language("zh"):
        chinese = cost_figures.separable_chart(pair)
        svg = cost_figures.layer_svg(p)
        share = cost_figures.kind_share_html(p)
        heat = shuffle_figures.visibility_heatmaps(*[lightnets.group_visibility(12, 3, s) for s in (False, True)])
    assert english.startswith("Separable costs") and f"{pair.ratio:.3f}" in chinese.layout.title.text
    assert _zh(chinese.layout.title.text) and all(_zh(str(bar.x[0])) for bar in chinese.data)
    assert "计算量花在哪里" in svg and "阶段 1" in svg and "Noto Sans CJK SC" in svg
    assert "按算子类型" in share and "逐点卷积" in share
    assert _zh(heat.layout.title.text) and all(_zh(a.text) for a in heat.layout.annotations)


def test_shuffle_frames_in_chinese_keep_their_steps() -> None:
    english = lightnets.shuffle_frames(12, 3)
    with use_language("zh"):
        chinese = lightnets.shuffle_frames(12, 3)
        fig = shuffle_figures.shuffle_animation(chinese)
        with pytest.raises(ValueError, match="不可用"):
            lightnets.shuffle_frames(12, 5)
    assert [f.xy for f in chinese.frames] == [f.xy for f in english.frames]
    assert all(_zh(f.title) and _zh(f.caption) for f in chinese.key_frames)
    assert [f.title for f in english.key_frames] == ["input", "reshape to a (3, 4) grid", "transpose to (4, 3)",
                                                     "flatten"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["输入", "变形为", "转置为", "展平"]


def test_home_key_ideas_are_the_models_marked_ideas() -> None:
    """overview.json keeps each idea in English, exactly the N_-marked idea of its model (one msgid, one
    translation); the Home page reads it translated."""
    saved = json.loads(analysis.OVERVIEW_FILE.read_text(encoding="utf-8"))["models"]
    assert [row["idea"] for row in saved] == [msgid(lightnets.spec(row["name"]), "idea") for row in saved]
    with use_language("zh"):
        rows = analysis.saved_overview()
        assert all(_zh(row.idea) for row in rows)
        assert rows[0].idea == lightnets.spec(rows[0].name).idea
    assert analysis.saved_overview()[0].idea == saved[0]["idea"]


def test_translated_fields_pickle_as_english() -> None:
    knob = lightnets.spec("mobilenet_v2").knob("alpha")
    with use_language("zh"):
        copied = pickle.loads(pickle.dumps(knob))
        assert copied.label == knob.label and _zh(copied.label)
    assert copied.label == "width multiplier α" and copied == knob


def test_the_layer_table_is_the_profile_table_with_words_for_the_page() -> None:
    p = lightnets.profile(lightnets.config("shufflenet_v1"))
    assert p.layer_table() == p.table()  # English: the field names, as before
    with use_language("zh"):
        rows = p.layer_table()
    assert list(rows[0])[0] == "层名" and list(rows[0])[2:4] == ["阶段", "算子类型"] and rows[0]["阶段"] == "stem"
    assert {row["算子类型"] for row in rows} >= {"分组卷积", "逐通道卷积", "通道洗牌"}
    assert [list(row.values())[4:] for row in rows] == [list(row.values())[4:] for row in p.table()]


def test_the_feature_map_grid_in_chinese() -> None:
    import torch

    from lightnets.figures import predict as predict_figures

    maps = torch.rand(6, 5, 5)
    english = predict_figures.feature_grid(maps, "features.3", channels=4)
    with use_language("zh"):
        chinese = predict_figures.feature_grid(maps, "features.3", channels=4)
        with pytest.raises(ValueError, match="特征图必须是 C×H×W"):
            predict_figures.feature_grid(torch.rand(5, 5), "x")
    assert english.layout.title.text == "features.3: 4 of 6 channels, 5×5 each"
    assert chinese.layout.title.text.startswith("features.3：") and "通道" in chinese.data[0].hovertemplate
    assert np.array_equal(chinese.data[0].z, english.data[0].z, equal_nan=True)
