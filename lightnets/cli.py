"""Command line: ``python -m lightnets list | info NAME | profile NAME [--KNOB VALUE ...] [--resolution N] [--json]
| predict IMAGE [--model NAME] [--topk K] [--json] | experiments | experiment NAME [--device cpu|cuda] [--threads N]
[--quick] [--KNOB VALUE ...] [--json]``.

Bad arguments end with a one-line message on stderr and exit status 2; never a traceback.

Messages are in English or Chinese: ``--lang zh|en`` (anywhere on the line), else the locale environment
(``LC_ALL``, ``LC_MESSAGES``, ``LANG``, e.g. ``LANG=zh_CN.UTF-8``), else English. ``--json`` output is data and
keeps its English keys.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn

import lightnets
from lightnets.formatting import format_scaled, knob_text
from lightnets.i18n import LANGUAGES, _, negotiate, use_language
from lightnets.registry import parse_knobs


class UsageError(Exception):
    """A bad command line, reported in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _knob_values(name: str, extra: list[str], knobs: tuple[Any, ...]) -> dict[str, str]:
    """``--knob value`` / ``--knob=value`` pairs as text, each naming one of ``knobs`` (of model or experiment
    ``name``)."""
    names = {k.name for k in knobs}
    values: dict[str, str] = {}
    items = list(extra)
    while items:
        token = items.pop(0)
        if not token.startswith("--"):
            raise UsageError(_("unexpected argument {token!r}").format(token=token))
        key, _eq, value = token[2:].partition("=")
        key = key.replace("-", "_")
        if not value:
            if not items or items[0].startswith("--"):
                raise UsageError(_("--{key} needs a value").format(key=key))
            value = items.pop(0)
        if key not in names:
            allowed = ", ".join(f"--{k.name}" for k in knobs) or _("none")
            raise UsageError(_("{name} has no knob --{key}; its knobs are: {allowed}").format(
                name=name, key=key, allowed=allowed))
        values[key] = value
    return values


def _config(name: str, extra: list[str], resolution: int | None = None) -> lightnets.Config:
    """The configuration that ``--knob value`` / ``--knob=value`` pairs ask for, read against the model's schema."""
    values = _knob_values(name, extra, lightnets.spec(name).knobs)
    knobs, problems = parse_knobs(name, values)
    if problems:
        raise UsageError(problems[0][0])
    return lightnets.Config(name, knobs, resolution)


def _figures(ref: Any) -> str:
    """A published reference's figures in words, skipping the ones its source does not give."""
    return _(", ").join(f for f in (_("{m}M params").format(m=ref.params_m) if ref.params_m is not None else "",
                                    _("{m}M MACs").format(m=ref.macs_m) if ref.macs_m is not None else "",
                                    _("top-1 {top1}%").format(top1=ref.top1) if ref.top1 is not None else "")
                         if f)


def cmd_list(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for name in lightnets.list_models():
        s = lightnets.spec(name)
        rows.append({"name": name, "family": s.family, "year": s.paper.year, "idea": s.idea})
    if not args.json:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['year']}  {r['family']}")
    return {"models": rows}


def cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    s = lightnets.spec(args.name)
    info = {
        "name": s.name, "family": s.family, "idea": s.idea, "default_resolution": s.default_resolution,
        "paper": {"title": s.paper.title, "authors": s.paper.authors, "year": s.paper.year, "arxiv": s.paper.arxiv},
        "knobs": [{"name": k.name, "label": k.label, "type": k.type, "default": k.default, "allowed": k.allowed(),
                   "help": k.help} for k in s.knobs],
        "references": [{"label": r.label, "knobs": dict(r.knobs), "resolution": r.resolution,
                        "params_m": r.params_m, "macs_m": r.macs_m, "top1": r.top1, "source": r.source}
                       for r in s.references],
        "notes": list(s.notes),
    }
    if not args.json:
        print(f"{s.title} — {s.paper.title} ({s.paper.authors}, {s.paper.year}, arXiv:{s.paper.arxiv})")
        print(_(s.idea))
        print(_("default resolution: {px} px").format(px=s.default_resolution))
        print(_("knobs:") if s.knobs else _("knobs: none"))
        for k in s.knobs:
            print(_("  --{name} (default {default}): {allowed}. {help}").format(
                name=k.name, default=k.default, allowed=k.allowed(), help=_(k.help)))
        for r in s.references:
            print(_("  paper: {label} @ {px} px: {figures} [{source}]").format(
                label=r.label, px=r.resolution, figures=_figures(r), source=r.source))
        for note in s.notes:
            print(_("  note: {note}").format(note=_(note)))
    return info


def cmd_profile(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    config = _config(args.name, extra, args.resolution)
    knobs = dict(config.knobs)
    p = lightnets.profile(config)
    out = {"name": args.name, "knobs": knobs, "resolution": p.resolution, **p.totals(),
           "elementwise_by_kind": p.elementwise, "macs_by_kind": p.macs_by_kind()}
    if args.layers:
        out["layers"] = p.table()
    if not args.json:
        print(_("{name} ({knobs}) at {res}×{res}").format(name=args.name, knobs=knob_text(knobs) or _("no knobs"),
                                                        res=p.resolution))
        print(_("  params        {scaled} ({exact:,})").format(scaled=format_scaled(p.params), exact=p.params))
        print(_("  MACs          {scaled} ({exact:,}); FLOPs {flops}").format(
            scaled=format_scaled(p.macs), exact=p.macs, flops=format_scaled(p.flops)))
        print(_("  element-wise  {scaled} ops ({kinds})").format(
            scaled=format_scaled(p.elementwise_total),
            kinds=", ".join(f"{k} {format_scaled(v)}" for k, v in p.elementwise.items() if v)))
        print(_("  memory access {traffic}; activations written {written}").format(
            traffic=format_scaled(p.mem_bytes, "B"), written=format_scaled(p.activation_bytes, "B")))
        print(_("  size          {fp32} fp32, {int8} int8").format(
            fp32=format_scaled(p.size_fp32_bytes, "B"), int8=format_scaled(p.size_int8_bytes, "B")))
        for ref in config.spec.matching_references(config):
            print(_("  paper         {label}: {figures} [{source}]").format(
                label=ref.label, figures=_figures(ref), source=ref.source))
        if args.layers:
            for row in p.layers:
                if row.macs:
                    print(f"    {row.name:<36} {row.op:<10} {str(row.output_shape):<22} {format_scaled(row.macs):>8}")
    return out


def cmd_predict(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    config = _config(args.model, extra)
    image = lightnets.load_image(args.image)
    result = lightnets.predict(config, image, topk=args.topk)
    rows = [{"class_index": i, "label": label, "probability": prob} for i, label, prob in result.topk]
    if not args.json:
        print(_("{model} on {image} ({ms:.0f} ms):").format(model=args.model, image=args.image,
                                                          ms=result.seconds * 1000))
        for row in rows:
            print(f"  {row['probability'] * 100:6.2f}%  {row['label']} ({row['class_index']})")
    return {"model": args.model, "image": args.image, "topk": rows, "seconds": result.seconds}


def cmd_experiments(args: argparse.Namespace) -> dict[str, Any]:
    from lightnets import experiments

    rows = []
    for name in experiments.list_experiments():
        exp = experiments.experiment(name)
        rows.append({"name": name, "title": _(exp.title), "where": _(exp.where), "paper": exp.paper.title,
                     "timed": exp.timed, "knobs": [k.name for k in exp.knobs]})
    if not args.json:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['title']} ({r['where']})")
    return {"experiments": rows}


def cmd_experiment(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    from lightnets import experiments

    exp = experiments.experiment(args.name)
    knobs = _knob_values(args.name, extra, exp.knobs)
    last = [-1.0]

    def progress(fraction: float, text: str) -> None:
        if not args.json and fraction - last[0] >= 0.1:  # a line every tenth of the way is enough
            last[0] = fraction
            print(f"  {fraction:4.0%}  {text}", file=sys.stderr)

    outcome = experiments.run_experiment(args.name, device=args.device, threads=args.threads, quick=args.quick,
                                         progress=progress, **knobs)
    if not args.json:
        _print_outcome(outcome)
    return outcome.to_json()


def _print_outcome(outcome: Any) -> None:
    exp = outcome.spec
    print(f"{_(exp.title)} — {exp.paper.title} ({exp.paper.year}), {_(exp.where)}")
    print(f"{_('claim')}: {_(exp.claim)}")
    print(_("{mode} mode on {device}, {threads} thread(s), {s:.1f} s; load average {a} before, {b} after "
            "({cores} cores)").format(mode=_("quick") if outcome.quick else _("full"), device=outcome.device_name,
                                      threads=outcome.threads, s=outcome.seconds, a=outcome.load_before,
                                      b=outcome.load_after, cores=outcome.cores))
    for table in outcome.view().tables:
        print(f"\n{table.title}")
        widths = [max(len(str(c)) for c in column) for column in zip(table.columns, *table.rows)]
        for row in (table.columns, *table.rows):
            print("  " + "  ".join(f"{str(cell):<{w}}" for cell, w in zip(row, widths)))
    print()
    for finding in outcome.findings():
        print(f"[{finding.label}] {finding.claim}: {finding.text}")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lightnets", description=_("Lightweight CNNs: architectures, costs, predictions."))
    parser.add_argument("--lang", choices=tuple(LANGUAGES), help=_("language of the messages (default: from LANG)"))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    json_help = _("print the result as JSON")
    p = sub.add_parser("list", help=_("registered models"))
    p.add_argument("--json", action="store_true", help=json_help)
    p = sub.add_parser("info", help=_("paper, knobs and published figures of a model"))
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help=json_help)
    p = sub.add_parser("profile", help=_("params, MACs, memory traffic; any knob as --KNOB VALUE"))
    p.add_argument("name")
    p.add_argument("--resolution", type=int, default=None)
    p.add_argument("--layers", action="store_true", help=_("also list the per-layer rows"))
    p.add_argument("--json", action="store_true", help=json_help)
    p = sub.add_parser("predict", help=_("top-k ImageNet classes of an image"))
    p.add_argument("image")
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--json", action="store_true", help=json_help)
    p = sub.add_parser("experiments", help=_("the experiments: the chapter's claims, measured"))
    p.add_argument("--json", action="store_true", help=json_help)
    p = sub.add_parser("experiment", help=_("run one experiment; its own knobs as --KNOB VALUE"))
    p.add_argument("name")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=1, help=_("intra-op threads (default 1, as the papers' phones)"))
    p.add_argument("--quick", action="store_true", help=_("the classroom-sized run (seconds, not a minute)"))
    p.add_argument("--json", action="store_true", help=json_help)
    return parser


def split_language(argv: list[str], environ: Any = os.environ) -> tuple[str, list[str], str | None]:
    """(language, the other arguments, a bad ``--lang`` value or None). The language of the messages is
    ``--lang X`` / ``--lang=X`` anywhere on the command line, else the first locale variable that is set
    (``LC_ALL``, ``LC_MESSAGES``, ``LANG``; ``zh_CN.UTF-8`` means Chinese), else English."""
    rest: list[str] = []
    asked: str | None = None
    items = list(argv)
    while items:
        token = items.pop(0)
        if token == "--lang":
            asked = items.pop(0) if items else ""
        elif token.startswith("--lang="):
            asked = token.partition("=")[2]
        else:
            rest.append(token)
    if asked in LANGUAGES:
        return asked, rest, None
    from_environment = negotiate(None)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            from_environment = negotiate(value.split(".")[0])
            break
    return from_environment, rest, asked  # a bad --lang is reported in the environment's language


def main(argv: list[str] | None = None) -> int:
    language, rest, bad = split_language(sys.argv[1:] if argv is None else list(argv))
    with use_language(language):  # only for this call: main() may run inside another program's thread
        if bad is not None:
            print(_("error: {message}").format(message=_("unknown language {value!r}: use {choices}").format(
                value=bad, choices=" / ".join(LANGUAGES))), file=sys.stderr)
            return 2
        return _main(rest)


def _main(argv: list[str]) -> int:
    parser = make_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and args.command not in ("profile", "predict", "experiment"):
            raise UsageError(_("unexpected argument {token!r}").format(token=extra[0]))
        if args.command == "list":
            result = cmd_list(args)
        elif args.command == "info":
            result = cmd_info(args)
        elif args.command == "profile":
            result = cmd_profile(args, extra)
        elif args.command == "experiments":
            result = cmd_experiments(args)
        elif args.command == "experiment":
            result = cmd_experiment(args, extra)
        else:
            result = cmd_predict(args, extra)
    except (UsageError, ValueError, OSError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(_("error: {message}").format(message=message), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
