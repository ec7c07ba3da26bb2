"""Blending a fine-tune with its base: the weights on the line between them, and a candidate that still serves."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from seq2seq import model_dir
from seq2seq.engine.decode import Engine
from seq2seq.worker.blend import blend, blend_back, largest_accepted, write_blend
from seq2seq.worker.gate import decide, only_forgot


def test_a_blend_is_the_weighted_mean_of_each_variable():
    base = {"a": np.zeros((2, 3), np.float32), "b": np.full(4, 2.0, np.float32)}
    tuned = {"a": np.ones((2, 3), np.float32), "b": np.full(4, 6.0, np.float32)}
    mixed = blend(base, tuned, 0.75)
    np.testing.assert_allclose(mixed["a"], 0.75)
    np.testing.assert_allclose(mixed["b"], 5.0)
    np.testing.assert_array_equal(blend(base, tuned, 1.0)["b"], tuned["b"])
    with pytest.raises(ValueError, match="not one architecture"):
        blend(base, {"a": tuned["a"]}, 0.5)


def test_the_candidate_directory_becomes_the_blend_and_its_engine_serves_it(tiny_model_dir, tmp_path):
    out = tmp_path / "candidate"
    shutil.copytree(tiny_model_dir, out)
    base = model_dir.load_transformer(tiny_model_dir)
    rng = np.random.default_rng(0)
    tuned_weights = {k: v + rng.normal(0, 0.05, v.shape).astype(np.float32) for k, v in base.weights.items()}
    tuned = model_dir.TransformerBundle(base.config, base.train, tuned_weights, out)

    write_blend(out, base, tuned, 0.5)

    written = model_dir.load_transformer(out).weights
    for key, value in written.items():  # stored as float16
        np.testing.assert_allclose(value, (base.weights[key] + tuned_weights[key]) / 2, atol=2e-3, rtol=2e-3)
    assert json.loads((out / model_dir.TRANSFORMER_FILE).read_text())["command"].endswith(", blended 0.5")
    before, after = Engine(base.engine), Engine(model_dir.engine_dir(out))
    pairs = [["hi, how are you?"], ["what do you do for fun"]]
    assert all(after.reply_batch(pairs))  # a complete engine that answers
    replies = ["i am fine", "i like games"]
    assert before.score(pairs, replies) != after.score(pairs, replies)  # new weights, not the old copy


def test_only_a_fine_tune_that_learned_and_forgot_is_blended():
    forgot = decide(50.0, 60.0, 80.0, 40.0, base_pairs=10, new_pairs=10)
    assert only_forgot(forgot)
    assert not only_forgot(decide(50.0, 51.0, 80.0, 40.0, base_pairs=10, new_pairs=10))  # passed already
    assert not only_forgot(decide(50.0, 60.0, 80.0, 90.0, base_pairs=10, new_pairs=10))  # learned nothing new
    assert not only_forgot(decide(50.0, 60.0, 80.0, 40.0, base_pairs=0, new_pairs=10))  # nothing to judge on


@pytest.mark.parametrize(("limit", "found"), [(0.9, 0.875), (0.8, 0.75), (0.6, 0.5625), (0.55, None)])
def test_bisection_finds_the_largest_accepted_share_to_a_sixteenth(limit, found):
    tried = []
    assert largest_accepted(lambda share: tried.append(share) or share <= limit) == found
    assert len(tried) == 3 and tried[0] == 0.75


def shared_candidate(tiny_model_dir, tmp_path):
    out = tmp_path / "candidate"
    shutil.copytree(tiny_model_dir, out)
    base = model_dir.load_transformer(tiny_model_dir)
    tuned = {k: v + 0.05 for k, v in base.weights.items()}
    model_dir.save_transformer(out, base.config, base.train, tuned, "finetune from default", {})
    return out, base, tuned


def share_in(out) -> float:
    command = json.loads((out / model_dir.TRANSFORMER_FILE).read_text())["command"]
    return float(command.split(", blended ")[1]) if ", blended " in command else 1.0


def test_blending_back_keeps_the_largest_accepted_blend_else_the_whole_fine_tune(tiny_model_dir, tmp_path):
    out, base, tuned = shared_candidate(tiny_model_dir, tmp_path)
    whole = decide(50.0, 60.0, 80.0, 40.0, base_pairs=10, new_pairs=10)
    announced = []
    share, gate = blend_back(
        out,
        base,
        whole,
        judge=lambda: decide(50.0, 50 + 12 * share_in(out), 80.0, 40.0, base_pairs=10, new_pairs=10),
        announce=announced.append,
    )  # the margin is 2.5 (5% of 50): no share of 0.5 or more passes
    assert share == 1.0 and gate is whole and announced == [0.75, 0.625, 0.5625]
    assert share_in(out) == 1.0  # the whole fine-tune written back, as judged
    written = model_dir.load_transformer(out).weights
    assert all(np.allclose(written[k], tuned[k], atol=2e-3) for k in tuned)

    share, gate = blend_back(
        out, base, whole, judge=lambda: decide(50.0, 50 + 3 * share_in(out), 80.0, 40.0, base_pairs=10, new_pairs=10)
    )  # the margin is 2.5: accepted up to share 0.833
    assert share == 0.8125 and gate.passed and share_in(out) == 0.8125
    written = model_dir.load_transformer(out).weights
    assert all(np.allclose(written[k], base.weights[k] + 0.8125 * 0.05, atol=3e-3) for k in tuned)
