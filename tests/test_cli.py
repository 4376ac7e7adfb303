"""python -m lightnets: list, info, profile; bad arguments exit 2 with one line on stderr and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
