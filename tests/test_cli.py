"""python -m lightnets: list, info, profile; bad arguments exit 2 with one line on stderr and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import lightnets
from lightnets.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lightnets", *args], capture_output=True, text=True, timeout=120)


def test_list_shows_every_model(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in lightnets.list_models():
        assert name in out


def test_info_json_has_schema_and_references(capsys) -> None:
    assert main(["info", "mobilenet_v2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [k["name"] for k in info["knobs"]] == ["alpha", "expansion", "linear_bottleneck"]
    assert info["paper"]["arxiv"] == "1801.04381"
    assert any(r["macs_m"] == 300 for r in info["references"])


def test_profile_json_equals_the_api(capsys) -> None:
    assert main(["profile", "mobilenet_v2", "--alpha", "0.5", "--resolution=160", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    p = lightnets.profile(lightnets.config("mobilenet_v2", resolution=160, alpha=0.5))
    assert (out["params"], out["macs"], out["mem_bytes"], out["resolution"]) == (p.params, p.macs, p.mem_bytes, 160)
    assert out["knobs"]["alpha"] == 0.5


def test_profile_text_shows_the_paper_figure_when_knobs_match(capsys) -> None:
    assert main(["profile", "mobilenet_v2"]) == 0
    out = capsys.readouterr().out
    assert "300.77M" in out  # our count
    assert "paper" in out and "300.0M MACs" not in out and "300M MACs" in out


@pytest.mark.parametrize("args,fragment", [
    (["profile", "nope"], "unknown model"),
    (["profile", "mobilenet_v2", "--alpha", "0.33"], "alpha"),
    (["profile", "mobilenet_v2", "--alpha"], "needs a value"),
    (["profile", "mobilenet_v2", "--wings", "2"], "no knob --wings"),
    (["profile", "mobilenet_v2", "--resolution", "8"], "resolution"),
    (["profile", "mobilenet_v2", "--resolution", "abc"], "invalid int"),
    (["info"], "required"),
    (["fly"], "invalid choice"),
    (["list", "extra"], "unexpected argument"),
])
def test_bad_arguments_exit_2_with_one_line(args: list[str], fragment: str, capsys) -> None:
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


@pytest.mark.parametrize("args", [["profile", "mobilenet_v2", "--alpha", "-1"], ["bogus"]])
def test_the_real_command_prints_no_traceback(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------------
# experiments


def test_experiments_lists_every_experiment(capsys) -> None:
    from lightnets import experiments

    assert main(["experiments"]) == 0
    out = capsys.readouterr().out
    for name in experiments.list_experiments():
        assert name in out
    assert main(["experiments", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["experiments"]
    assert [r["name"] for r in rows] == experiments.list_experiments()
    assert next(r for r in rows if r["name"] == "linear_bottleneck")["knobs"] == ["n", "seed"]


def test_experiment_json_is_the_api_outcome(capsys) -> None:
    from lightnets import experiments

    assert main(["experiment", "linear_bottleneck", "--n", "5", "--seed=2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    api = experiments.run_experiment("linear_bottleneck", n=5, seed=2).to_json()
    assert out["knobs"] == {"n": 5, "seed": 2} and out["findings"] == api["findings"]
    assert out["result"]["errors"] == api["result"]["errors"] and out["threads"] == 1 and out["device"] == "cpu"


def test_experiment_text_shows_claim_conditions_tables_and_verdicts(capsys, monkeypatch) -> None:
    from lightnets import experiments

    monkeypatch.setattr(experiments, "QUICK", experiments.Plan(rounds=3, budget_s=0.005))
    assert main(["experiment", "shufflenet_v2_g2", "--quick"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "claim: “Excessive group convolution increases MAC.”" in out
    assert "quick mode on cpu: " in out and "load average" in out
    assert "g = 8" in out and "paper, ARM" in out  # the table
    assert "g = 8 against g = 1, ×1, eager PyTorch: " in out  # a verdict line
    assert any(label in out for label in ("[holds here]", "[does not hold here]", "[too noisy to say]"))
    assert "100%  done" in captured.err  # progress goes to stderr


@pytest.mark.parametrize("args,fragment", [
    (["experiment", "nope"], "unknown experiment 'nope'"),
    (["experiment", "shufflenet_v2_g1", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["experiment", "shufflenet_v2_g1", "--threads", "0"], "threads=0"),
    (["experiment", "shufflenet_v2_g1", "--threads", "two"], "invalid int"),
    (["experiment", "linear_bottleneck", "--n", "31"], "n='31' is not allowed"),
    (["experiment", "linear_bottleneck", "--wings", "2"], "no knob --wings; its knobs are: --n, --seed"),
    (["experiment", "shufflenet_v2_g1", "--n", "3"], "no knob --n; its knobs are: none"),
    (["experiment"], "required"),
    (["experiments", "extra"], "unexpected argument"),
])
def test_bad_experiment_arguments_exit_2_with_one_line(args: list[str], fragment: str, capsys) -> None:
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_experiment_on_cuda_without_a_gpu_exits_2(capsys) -> None:
    assert main(["experiment", "shufflenet_v2_g1", "--device", "cuda", "--quick"]) == 2
    assert "not available" in capsys.readouterr().err


# ---- languages: --lang anywhere on the line, else LC_ALL / LC_MESSAGES / LANG --------------------------------


@pytest.fixture
def english_locale(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("argv", [["--lang", "zh", "info", "mobilenet_v2"], ["info", "mobilenet_v2", "--lang=zh"],
                                  ["info", "--lang", "zh", "mobilenet_v2"]])
def test_lang_anywhere_prints_chinese(capsys, english_locale, argv: list[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "默认分辨率：224 px" in out and "default resolution" not in out
    assert "MobileNetV2: Inverted Residuals and Linear Bottlenecks" in out  # paper titles stay as they are
    assert lightnets.i18n.language() == "en"  # the caller's thread is left as it was


@pytest.mark.parametrize("env, chinese", [({"LANG": "zh_CN.UTF-8"}, True), ({"LANG": "en_US.UTF-8"}, False),
                                          ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8"}, False),
                                          ({"LANG": "en_GB.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}, True), ({}, False)])
def test_the_locale_environment_picks_the_language(capsys, english_locale, env: dict[str, str],
                                                   chinese: bool) -> None:
    for name, value in env.items():
        english_locale.setenv(name, value)
    assert main(["profile", "resnet50"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("错误：未知模型 'resnet50'") if chinese else err.startswith("error: unknown model 'resnet50'")


def test_lang_overrides_the_environment_and_a_bad_lang_is_one_line(capsys, english_locale) -> None:
    english_locale.setenv("LANG", "zh_CN.UTF-8")
    assert main(["--lang", "en", "profile", "mobilenet_v2", "--alpha", "9"]) == 2
    assert capsys.readouterr().err.startswith("error: alpha=")
    assert main(["--lang", "fr", "list"]) == 2  # reported in the environment's language
    assert capsys.readouterr().err.strip() == "错误：未知语言 'fr'：请用 en / zh"
    english_locale.delenv("LANG")
    assert main(["list", "--lang="]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown language '': use en / zh"


def test_lang_zh_in_a_subprocess_with_the_knob_help(english_locale) -> None:
    english_locale.setenv("LANG", "zh_CN.UTF-8")
    done = run("profile", "mobilenet_v2", "--alpha", "0.5")
    assert done.returncode == 0, done.stderr
    assert "参数量" in done.stdout and "params " not in done.stdout
