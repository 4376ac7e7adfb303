"""Finding English left on a Chinese page: a run of four or more English words in a row.

``english_runs(text)`` is the checker. It first blanks out what stays English on purpose, then tokenises:

- kept as they are (blanked before the check): model names and their titles, paper titles and author lists,
  the citations of published figures (``source``: "Sandler et al. 2018, Table 4 …", which quote the papers'
  own table captions), checkpoint labels, ImageNet class names (``known_names()``), code in backticks, URLs,
  file paths, HTML/SVG tags and style sheets (the text between tags is checked, each piece on its own);
- a *word* is a run of Latin letters (with inner ' ’ or -); a token with a digit, ``_``, ``.``, ``=``, ``×``,
  ``·`` or ``²`` in it is code, a number or a formula (``efficientnet-lite0``, ``torch.save``, ``alpha=0.5``,
  ``3×3``, ``Dk²·M·N``), and so is a name followed by ``(`` (``min(max(x, 0), 6)``): neither counts nor breaks
  a run;
- a run is broken by any CJK character (Chinese text, full-width punctuation) and by ``|``, tabs and line breaks
  (table cells, list items), so a Chinese sentence that names a few English terms — 逐通道卷积（Depthwise
  Convolution）, batch norm, h-swish — is never flagged, while an untranslated English sentence always is.

Four words is the threshold: the chapter's own bracketed English terms are at most three words ("Depthwise
Separable Convolutions", "Linear Bottleneck"), and an English sentence is longer. The list of names is drawn from
lightnets itself, so a new model or paper needs no change here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

MIN_WORDS = 4
_CJK = r"\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u3000-\u303f"
_CODE = re.compile(r"`[^`]*`|https?://\S+|\[arXiv[^\]]*\]\([^)]*\)|\b[\w.-]+/[\w./-]+\b")  # code, URLs, paths
_CODE_CHARS = "0-9_.=×·²"
_TOKEN = re.compile(rf"[{_CJK}]+|[|\n\t]|[A-Za-z_][A-Za-z0-9_.]*\(|"  # a call: min(, torch.save(
                    rf"[A-Za-z{_CODE_CHARS}-]*[{_CODE_CHARS}][A-Za-z{_CODE_CHARS}-]*|[A-Za-z]+(?:['’-][A-Za-z]+)*")
_MARKUP = re.compile(r"<style.*?</style>|<[^>]*>", re.S)
SKIPPED = ("Code", "Latex", "Json")  # code blocks, formulas and raw data are not prose


@functools.cache
def known_names() -> tuple[str, ...]:
    """Names that stay English in every language, longest first: model names and titles, paper titles and
    authors, checkpoint labels, experiment papers, ImageNet class names."""
    import lightnets
    from lightnets import experiments, weights
    from lightnets.prediction import imagenet_labels

    names: set[str] = set()
    for name in lightnets.list_models():
        spec = lightnets.spec(name)
        names |= {name, spec.title, spec.family, spec.paper.title, spec.paper.authors}
        names |= {ref.label for ref in spec.references} | {ref.source for ref in spec.references}
    for ckpt in weights.checkpoints():
        names.add(ckpt.label)
    for name in experiments.list_experiments():
        paper = experiments.experiment(name).paper
        names |= {paper.title, paper.authors}
    from lightnets import analysis

    names |= {row.top1_source for row in analysis.saved_overview() if row.top1_source}
    for label in imagenet_labels():
        names |= {part.strip() for part in label.split(",")}
    return tuple(sorted((n for n in names if n and " " in n), key=len, reverse=True))


def _markdown_plain(text: str) -> str:
    """Markdown emphasis and links as the reader sees them (the citations above are matched on plain text)."""
    return re.sub(r"\*\*|__", "", text)


def english_runs(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """Every run of ``MIN_WORDS`` or more English words in ``text`` outside names, code and ``allowed``."""
    text = _markdown_plain(_MARKUP.sub(" | ", text))
    for name in (*allowed, *known_names()):
        if name in text:
            text = text.replace(name, " ¦ ")  # a name breaks a run like a table border: not words around it
    text = _CODE.sub(" ", text).replace("¦", "|")
    text = re.sub(r"[.,;:!?](?=\s|$)", " ", text)  # sentence punctuation is not part of a word
    runs: list[str] = []
    current: list[str] = []
    for token in _TOKEN.findall(text):
        if token[0].isalpha() and token.isascii() and not re.search(r"[0-9_.=×·²(]", token):
            current.append(token)
        elif re.fullmatch(rf"[{_CJK}]+|[|\n\t]", token):
            if len(current) >= MIN_WORDS:
                runs.append(" ".join(current))
            current = []
        # anything else (numbers, code) neither counts nor breaks
    if len(current) >= MIN_WORDS:
        runs.append(" ".join(current))
    return runs


# --------------------------------------------------------------------------------------------------
# what AppTest exposes of a page's main area


def _plotly_texts(spec: str) -> Iterator[str]:
    """Titles, axis titles, annotations and trace names of a plotly figure's JSON (frames included)."""
    figure = json.loads(spec)

    def texts(node: Any, key: str = "") -> Iterator[str]:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("text", "name") and isinstance(v, str):
                    yield v
                elif k == "title" and isinstance(v, str):
                    yield v
                elif k not in ("data", "x", "y", "z", "customdata", "hovertemplate", "meta", "ids", "marker"):
                    yield from texts(v, k)
                elif k == "data":
                    for trace in v:
                        if isinstance(trace, dict) and isinstance(trace.get("name"), str):
                            yield trace["name"]
        elif isinstance(node, list):
            for item in node:
                yield from texts(item, key)

    yield from texts({k: v for k, v in figure.items() if k != "data"})
    for trace in figure.get("data", []):
        if isinstance(trace, dict) and isinstance(trace.get("name"), str):
            yield trace["name"]


def main_area_texts(node: Any) -> Iterator[tuple[str, str]]:
    """(element type, text) for everything AppTest shows of a block and its children: markdown, captions,
    headers, alerts, metrics, widget labels and help, expander and tab labels, dataframes' column names and
    text cells, plotly figures' titles, axes, annotations and legends."""
    kind = type(node).__name__
    if kind in SKIPPED:
        return
    for attr in ("value", "label", "help"):  # "body" repeats "value"
        value = getattr(node, attr, None)
        if isinstance(value, str) and value:
            yield kind, value
    if kind == "Dataframe":
        frame = node.value
        yield kind, " | ".join(map(str, frame.columns))
        for column in frame.columns:
            for cell in frame[column]:
                if isinstance(cell, str):
                    yield kind, cell
    proto = getattr(node, "proto", None)
    if kind == "UnknownElement" and getattr(node, "type", "") == "plotly_chart" and proto is not None:
        for text in _plotly_texts(proto.spec):
            yield "plotly_chart", text
    for child in (getattr(node, "children", None) or {}).values():
        yield from main_area_texts(child)


def flagged(at: Any, allowed: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(element type, English run) for every flagged run in an AppTest's main area."""
    allowed = tuple(allowed)
    return [(kind, run) for kind, text in main_area_texts(at.main) for run in english_runs(text, allowed)]
