"""Model v2's training interrupted as a real `python -m seq2seq train` process: kill -9 then `--resume` carries on from
the last checkpoint to the same losses as an uninterrupted run; Ctrl-C writes a checkpoint and says how to resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seq2seq import cli, model_dir
from seq2seq.model.presets import preset
from seq2seq.text import corpus
from seq2seq.text.subword import MODEL_FILE

pytestmark = pytest.mark.slow
REPO = str(Path(__file__).resolve().parents[3])
SCHEDULE = preset("tiny")[1].max_steps  # the whole tiny schedule: checkpoints every 50 steps, room to stop mid-way


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    """Sixty chit-chat pairs, each its own conversation, so validation and test splits are not empty."""
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    pairs = corpus.chitchat_pairs()[:60]
    corpus.write_tsv([replace(p, group=f"g{i}") for i, p in enumerate(pairs)], path)
    return path


def _args(tmp_path: Path, name: str, pairs_file: Path, *extra: str) -> list[str]:
    out, run_dir = tmp_path / name, tmp_path / f"run-{name}"
    return ["train", "--preset", "tiny", "--pairs", str(pairs_file), "--out", str(out), "--run-dir", str(run_dir)] + [
        *extra
    ]


def _start(args: list[str], tmp_path: Path, **pipes) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.Popen([sys.executable, "-m", "seq2seq", *args], env=env, cwd=tmp_path, text=True, **pipes)


def _await_checkpoint(proc: subprocess.Popen, run_dir: Path) -> None:
    """The barrier: the run's first checkpoint pointer exists (the loop is running, its signal handlers set)."""
    deadline = time.monotonic() + 300
    while not (run_dir / "latest").exists():
        assert proc.poll() is None, f"training exited ({proc.returncode}) before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.02)


def _state(run_dir: Path) -> dict:
    latest = (run_dir / "latest").read_text().strip()
    return json.loads((run_dir / latest / "state.json").read_text())


def test_kill_9_then_resume_carries_on_from_the_checkpoint_to_an_uninterrupted_runs_losses(tmp_path, pairs_file):
    assert cli.main(_args(tmp_path, "straight", pairs_file, "--quiet")) == 0  # in this process: one start-up less

    killed = _start(_args(tmp_path, "model", pairs_file, "--quiet"), tmp_path, stderr=subprocess.DEVNULL)
    try:
        _await_checkpoint(killed, tmp_path / "run-model")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    killed_at = _state(tmp_path / "run-model")["step"]
    assert 0 < killed_at < SCHEDULE
    assert not (tmp_path / "model").exists()  # nothing half-written where a model belongs

    resumed = _start(_args(tmp_path, "model", pairs_file, "--resume"), tmp_path, stderr=subprocess.PIPE)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    assert f"resumed at step {killed_at} of {SCHEDULE}" in err

    straight, state = _state(tmp_path / "run-straight"), _state(tmp_path / "run-model")
    assert state["step"] == straight["step"] > killed_at
    assert len(state["commands"]) == 2 and state["commands"][1].endswith("--resume")
    # Weights, optimizer slots and the place in the batch order all came back: the curves agree step for step.
    for curve in ("train", "val"):
        expected, got = dict(straight["history"][curve]), dict(state["history"][curve])
        assert sorted(got) == sorted(expected)
        np.testing.assert_allclose([got[s] for s in sorted(got)], [expected[s] for s in sorted(expected)], rtol=2e-2)

    out = tmp_path / "model"
    assert model_dir.kind(out) == model_dir.V2  # transformer.json and engine/ both there
    bundle = model_dir.load_transformer(out)  # weights.npz whole, matching the saved config
    assert set(bundle.weights) == set(np.load(tmp_path / "straight" / model_dir.WEIGHTS_FILE).files)
    assert model_dir.read_metrics(out)["steps"] == state["step"]
    # --resume kept the tokenizer the killed run trained, rather than training another.
    engine_pieces = (out / model_dir.ENGINE_DIR / MODEL_FILE).read_bytes()
    assert engine_pieces == (tmp_path / "run-model" / "tokenizer" / MODEL_FILE).read_bytes()


def test_ctrl_c_writes_a_checkpoint_and_says_to_continue_with_resume(tmp_path, pairs_file):
    proc = _start(
        _args(tmp_path, "model", pairs_file, "--quiet"), tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _await_checkpoint(proc, tmp_path / "run-model")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    step = _state(tmp_path / "run-model")["step"]
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err + out
    assert err.strip().splitlines()[-1] == f"stopped at step {step}; continue with --resume"
    assert 0 < step < SCHEDULE
    assert (tmp_path / "run-model" / "latest").read_text() == f"checkpoint-{step:08d}"  # the stop's own checkpoint
    assert not (tmp_path / "model").exists()
