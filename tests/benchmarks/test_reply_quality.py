"""The reply-quality benchmark: its figures on replies whose answers are known by hand, and the script end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.reply_quality import check_targets, choose, figures
from seq2seq.text.corpus import Pair, chatterbot_pairs, read_pairs

REPO = Path(__file__).resolve().parents[2]


def test_figures_have_known_answers():
    replies = ["pizza is pizza", "i like it.", "i like it.", "⁇ ok", ""]
    humans = ["i like pizza", "i like it a lot", "no", "ok then", "what?"]
    got = figures(replies, humans)
    assert got["prompts"] == 5
    assert got["mean_reply_words"] == pytest.approx((3 + 3 + 3 + 1 + 0) / 5)  # "." and "⁇" are not words
    assert got["mean_human_words"] == pytest.approx((3 + 5 + 1 + 2 + 1) / 5)
    assert got["top10_share"] == pytest.approx(1.0)  # four distinct replies: all among the ten most frequent
    # v1's words of "⁇ ok" are ? ? ok (NFKC). Bigrams: 2 + 3 + 3 + 2, the second "i like it." repeats 3
    assert got["distinct2"] == pytest.approx(7 / 10)
    assert got["content_repeat_rate"] == pytest.approx(1 / 5)  # "pizza is pizza"
    # F1 per pair: pizza 1/3; i like it 2·(3/4·3/5)/(3/4+3/5) = 2/3; none; ok 2·(1/3·1/2)/(1/3+1/2) = 2/5; none
    assert got["unigram_f1"] == pytest.approx((1 / 3 + 2 / 3 + 0 + 2 / 5 + 0) / 5)
    assert got["unk_rate"] == pytest.approx(1 / 5) and got["empty_rate"] == pytest.approx(1 / 5)
    odd = figures(["hmm?", "<unk>", "fine \ufffd"], ["a", "b", "c"])
    assert odd["unk_rate"] == pytest.approx(2 / 3)
    assert odd["empty_rate"] == pytest.approx(1 / 3)  # "hmm?": the worker's stand-in for an empty decode
    with pytest.raises(ValueError):
        figures(["a"], [])


def test_targets_and_the_f1_ratio_to_a_baseline():
    heldout = figures(["i like pizza a lot, do you like pasta too?"] * 3, ["i like pizza"] * 3)
    checks = check_targets(heldout, {"model_version": "v1", "sets": {"heldout": {"figures": {"unigram_f1": 0.1}}}})
    assert checks["mean_reply_words"]["met"] and checks["unk_rate"]["met"] and checks["empty_rate"]["met"]
    assert not checks["top10_share"]["met"] and not checks["distinct2"]["met"]  # one reply said three times
    ratio = checks["unigram_f1_over_baseline"]
    assert ratio["value"] == pytest.approx(heldout["unigram_f1"] / 0.1) and ratio["met"]
    assert "unigram_f1_over_baseline" not in check_targets(heldout, None)


def test_prompts_are_a_seeded_sample_in_file_order():
    pairs = [Pair(f"q{i}", f"r{i}") for i in range(50)]
    chosen = choose(pairs, 10)
    assert chosen == choose(pairs, 10) and len(chosen) == 10
    assert chosen == sorted(chosen, key=pairs.index) and chosen != pairs[:10]
    assert choose(pairs, 10, seed=1) != chosen
    assert choose(pairs, 500) == pairs


@pytest.mark.slow
def test_the_script_asks_a_real_worker_and_writes_every_reply(tmp_path, tiny_model_dir):
    out = tmp_path / "bench" / "reply-quality.json"
    command = ["-m", "benchmarks.reply_quality", "--model", str(tiny_model_dir), "--prompts", "12", "--draws", "2"]
    result = subprocess.run(
        [sys.executable, *command, "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["model_version"] == "default" and set(data["sets"]) == {"heldout", "chatterbot"}
    heldout = read_pairs(tiny_model_dir / "heldout.tsv")
    for name, pairs in (("heldout", heldout), ("chatterbot", chatterbot_pairs())):
        measured = data["sets"][name]
        assert measured["figures"]["prompts"] == 12 and len(measured["replies"]) == 12
        assert [r["human"] for r in measured["replies"]] == [p.reply for p in choose(pairs, 12)]
        assert all(r["reply"].strip() for r in measured["replies"])
        first = figures([r["reply"] for r in measured["replies"]], [p.reply for p in choose(pairs, 12)])
        for key, (low, high) in measured["spread"].items():  # two draws: the mean between them, the first one of them
            assert low <= measured["figures"][key] <= high and low <= first[key] <= high, key
        assert data["coverage"][name]["replies"] == len(pairs)
        assert 0 < data["coverage"][name]["with_word_v1_lacks"] < 1
    assert data["targets"]["unk_rate"]["met"] and data["targets"]["empty_rate"]["met"]
    assert "content_repeat_rate" in result.stdout and "coverage gap (v1)" in result.stdout
    assert (out.parent / "reply-quality.worker.log").exists()
