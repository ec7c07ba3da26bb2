"""The decoding sweep end to end: each setting of a grid decoded by one engine, measured as reply_quality measures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.reply_quality import choose, figures
from seq2seq.text.corpus import read_pairs

REPO = Path(__file__).resolve().parents[2]


def sweep(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmarks.decoding_sweep", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_each_setting_is_measured_on_the_same_prompts_with_reply_qualitys_figures(tmp_path, tiny_model_dir):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"greedy": {"strategy": "greedy"}, "ranked": {"content_repeat_penalty": 5.0}}))
    out = tmp_path / "sweep.json"
    result = sweep(
        "--model", str(tiny_model_dir), "--grid", str(grid), "--prompts", "10", "--draws", "1", "--json", str(out)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert list(data["settings"]) == ["greedy", "ranked"] and data["prompts"] == 10
    assert all(name in result.stdout for name in ("greedy", "ranked"))
    humans = [p.reply for p in choose(read_pairs(tiny_model_dir / "heldout.tsv"), 10)]
    for name, measured in data["settings"].items():
        assert len(measured["replies"]) == 10 and all(r.strip() for r in measured["replies"])
        # One draw, every reply kept: the figures are reply_quality's own on those replies.
        assert measured["figures"] == pytest.approx(figures(measured["replies"], humans)), name
        assert measured["options"] == {**data["base"], **data["grid"][name]}
    assert data["settings"]["ranked"]["options"]["content_repeat_penalty"] == 5.0


def test_a_bad_setting_is_named_before_the_model_loads(tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"bad": {"repetition_penalty": 0.2}}))
    result = sweep("--model", str(tmp_path / "nowhere"), "--grid", str(grid))
    assert result.returncode == 2 and "model directory not found" in result.stderr
    result = sweep("--grid", str(grid))
    assert result.returncode == 2 and "repetition_penalty must be between 1 (off) and 3" in result.stderr
    assert sweep("--only", "no-such-setting").returncode == 2
