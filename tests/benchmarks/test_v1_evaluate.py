"""v1_evaluate: a v1 model measured by the baseline as `evaluate` measures v2, its figures written as JSON."""

from __future__ import annotations

import json

import pytest

from benchmarks import v1_evaluate

KEYS = {"perplexity", "token_accuracy", "word_perplexity", "word_perplexity_covered", "covered_replies", "f1"}


def test_it_measures_a_v1_model_and_writes_its_figures(tiny_v1_model_dir, tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("hello there\thi, how are you?\nwhat do you do for fun?\ti play chess\n", encoding="utf-8")
    out = tmp_path / "v1.json"
    argv = ["--model", str(tiny_v1_model_dir), "--pairs", str(pairs), "--json", str(out), "--strategy", "greedy"]
    assert v1_evaluate.main(argv) == 0
    figures = json.loads(out.read_text())
    assert set(figures) >= KEYS and figures["pairs"] == 2
    assert figures["word_perplexity"] > 1 and figures["empty_rate"] == 0
    assert "word_perplexity" in capsys.readouterr().out


def test_a_v2_model_is_pointed_to_evaluate(tiny_model_dir, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("hello there\thi\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        v1_evaluate.main(["--model", str(tiny_model_dir), "--pairs", str(pairs)])
