"""`keep_best`: True stops on patience and writes the best validation pass's weights; False (a fine-tune's) runs the
whole schedule whatever the validation says and writes the last step's weights."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seq2seq import model_dir
from seq2seq.model.presets import preset
from seq2seq.text import corpus

pytestmark = pytest.mark.slow
STEPS = 60


def _train(tmp_path: Path, tokenizer, keep_best: bool) -> tuple[dict, dict]:
    """Forty pairs at a learning rate high enough to overfit them within a few validation passes, judged every five
    steps with patience 1. Returns (metrics, the last checkpoint's state)."""
    from seq2seq.train.transformer import TransformerJob, run

    pairs = [replace(p, group=f"g{i}") for i, p in enumerate(corpus.chitchat_pairs()[:40])]
    model_cfg, train_cfg = preset("tiny")
    train_cfg = replace(
        train_cfg,
        test_fraction=0.0,
        val_fraction=0.3,
        batch_size=8,
        learning_rate=3e-2,
        warmup_steps=4,
        max_steps=STEPS,
        eval_every=5,
        checkpoint_every=1000,  # only the final one
        patience=1,
        keep_best=keep_best,
        bucket=32,  # every batch one shape: one traced train step, not one a length
    )
    job = TransformerJob(pairs, tmp_path / "model", tmp_path / "run", model_cfg, train_cfg, quiet=True)
    job.tokenizer = tokenizer
    metrics = run(job)
    return metrics, json.loads((_last_checkpoint(tmp_path) / "state.json").read_text())


def _last_checkpoint(tmp_path: Path) -> Path:
    return tmp_path / "run" / (tmp_path / "run" / "latest").read_text().strip()


def _weights(file: Path) -> dict[str, np.ndarray]:
    with np.load(file) as data:
        return {k: data[k] for k in data.files}


def _first_pass_without_improvement(val_history: list) -> int:
    best = np.inf
    for step, nll in val_history:
        if nll >= best - 1e-4:
            return step
        best = min(best, nll)
    raise AssertionError(f"validation improved at every pass, so patience was never tested: {val_history}")


def _assert_same(saved: dict[str, np.ndarray], source: dict[str, np.ndarray]) -> None:
    assert set(saved) == set(source)
    for key, array in saved.items():
        assert array.dtype == np.float16
        np.testing.assert_array_equal(array, source[key].astype(np.float16), err_msg=key)


def _differs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return any(not np.array_equal(a[k].astype(np.float16), b[k].astype(np.float16)) for k in a)


def test_without_keep_best_the_whole_schedule_runs_and_the_last_weights_are_written(tmp_path, tokenizer):
    metrics, state = _train(tmp_path, tokenizer, keep_best=False)
    stalled = _first_pass_without_improvement(state["history"]["val"])
    assert stalled < STEPS  # patience 1 was spent here, and training went on
    assert metrics["steps"] == state["step"] == STEPS
    last = _weights(_last_checkpoint(tmp_path) / model_dir.WEIGHTS_FILE)
    _assert_same(_weights(tmp_path / "model" / model_dir.WEIGHTS_FILE), last)
    assert _differs(last, _weights(tmp_path / "run" / "best.weights.npz"))  # so the last and the best are told apart


def test_with_keep_best_patience_stops_training_and_the_best_weights_are_written(tmp_path, tokenizer):
    metrics, state = _train(tmp_path, tokenizer, keep_best=True)
    assert metrics["steps"] == state["step"] == _first_pass_without_improvement(state["history"]["val"]) < STEPS
    best = _weights(tmp_path / "run" / "best.weights.npz")
    _assert_same(_weights(tmp_path / "model" / model_dir.WEIGHTS_FILE), best)
    assert _differs(best, _weights(_last_checkpoint(tmp_path) / model_dir.WEIGHTS_FILE))
