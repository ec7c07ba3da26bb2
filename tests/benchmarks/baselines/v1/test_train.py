"""v1's training end to end at tiny sizes: memorising pairs exactly (decoded by the baseline), and resuming after an
interruption (the loop's shared parts: `seq2seq.train.loop`, `seq2seq.train.checkpoint`)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.baselines.v1.presets import TrainConfig
from benchmarks.baselines.v1.replier import Replier
from benchmarks.baselines.v1.train import TrainJob, run
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.model.config import LSTMConfig
from seq2seq.text import corpus
from seq2seq.text.corpus import Pair

pytestmark = pytest.mark.slow
REPO = str(Path(__file__).resolve().parents[4])


def test_tiny_model_overfits_twenty_pairs_and_reproduces_them(tmp_path):
    seen, pairs = set(), []
    for p in corpus.chitchat_pairs():
        if p.query.lower() not in seen and 2 <= len(p.reply.split()) <= 6 and len(p.query.split()) <= 8:
            seen.add(p.query.lower())
            pairs.append(Pair(p.query, p.reply, "", f"g{len(pairs)}"))
        if len(pairs) == 20:
            break
    model_cfg = LSTMConfig(embed_dim=64, units=128, dropout=0.0, max_source_len=12, max_target_len=10)
    train_cfg = TrainConfig(
        vocab_size=500,
        batch_size=20,
        learning_rate=1e-2,
        max_epochs=400,
        eval_every=50,
        checkpoint_every=1000,
        patience=100,
        test_fraction=0.0,
        val_fraction=0.0,
        lr_decay=1.0,
    )
    metrics = run(TrainJob(pairs, tmp_path / "m", tmp_path / "r", model_cfg, train_cfg, quiet=True, max_steps=300))
    assert metrics["val_perplexity"] < 1.1
    replier = Replier.load(tmp_path / "m")
    from seq2seq.text.words import detokenize, tokenize

    expected = [detokenize(tokenize(p.reply)) for p in pairs]
    # openers=True: these pairs were trained without a previous turn, so read them the same way
    got = replier.reply_batch(
        [[p.query] for p in pairs], DecodeOptions(strategy="greedy", no_repeat_ngram=0, min_len=1), openers=True
    )
    assert got == expected


def _train_cmd(out, run_dir, pairs_file, *extra):
    return [
        sys.executable,
        "-m",
        "benchmarks.baselines.v1.train",
        "--preset",
        "tiny",
        "--pairs",
        str(pairs_file),
        "--out",
        str(out),
        "--run-dir",
        str(run_dir),
        "--max-steps",
        "60",
        "--quiet",
        *extra,
    ]


def _pairs_file(tmp_path):
    path = tmp_path / "pairs.tsv"
    corpus.write_tsv(corpus.chitchat_pairs()[:500], path)
    return path


def _history(run_dir):
    latest = (run_dir / "latest").read_text().strip()
    return json.loads((run_dir / latest / "state.json").read_text())


def test_resume_after_kill_9_continues_from_the_checkpoint(tmp_path):
    pairs_file = _pairs_file(tmp_path)
    env = {**os.environ, "PYTHONPATH": REPO}
    straight = subprocess.run(
        _train_cmd(tmp_path / "a", tmp_path / "ra", pairs_file),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert straight.returncode == 0, straight.stderr[-2000:]

    proc = subprocess.Popen(
        _train_cmd(tmp_path / "b", tmp_path / "rb", pairs_file),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not (tmp_path / "rb" / "latest").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = _history(tmp_path / "rb")["step"]
    assert 0 < killed_at < 60
    assert not (tmp_path / "b" / "weights.npz").exists()

    resumed = subprocess.run(
        _train_cmd(tmp_path / "b", tmp_path / "rb", pairs_file, "--resume"),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = _history(tmp_path / "ra"), _history(tmp_path / "rb")
    assert a["step"] == b["step"] == 60
    # Same batches in the same order after the resume: the loss curves agree step for step.
    la = dict((s, loss) for s, loss in a["history"]["train"])
    lb = dict((s, loss) for s, loss in b["history"]["train"])
    assert set(la) == set(lb)
    np.testing.assert_allclose([lb[s] for s in sorted(lb)], [la[s] for s in sorted(la)], rtol=2e-2)
    for name in ("config.json", "vocab.json", "weights.npz", "metrics.json", "loss.png"):
        assert (tmp_path / "b" / name).exists()


def test_ctrl_c_writes_a_checkpoint_and_says_how_to_resume(tmp_path):
    pairs_file = _pairs_file(tmp_path)
    env = {**os.environ, "PYTHONPATH": REPO}
    proc = subprocess.Popen(
        _train_cmd(tmp_path / "c", tmp_path / "rc", pairs_file),
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not (tmp_path / "rc" / "latest").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "--resume" in err
    step = _history(tmp_path / "rc")["step"]
    assert 0 < step < 60
