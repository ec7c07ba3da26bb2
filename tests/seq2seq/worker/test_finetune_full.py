"""The fine-tune process on v2: a fine-tune keeps the tokenizer and starts from the active weights; a full retrain
learns new pieces from the base corpus plus the log and starts from nothing."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seq2seq import model_dir
from seq2seq.protocol import FinetuneOptions
from seq2seq.text.subword import SubwordTokenizer
from seq2seq.worker.jobs import finetune_command, finetune_env

NEW_WORD = "zorbleflux"


def new_pairs(path: Path) -> Path:
    with path.open("w") as handle:
        for i in range(40):
            text = " ".join([NEW_WORD] * 24)
            handle.write(json.dumps({"query": f"{text} {i}", "reply": f"{text} number {i}", "group": f"z{i}"}) + "\n")
    return path


def finetune(tmp_path: Path, base: Path, options: dict) -> tuple[dict, Path]:
    out = tmp_path / "candidate"
    pairs = new_pairs(tmp_path / "new.jsonl")
    cmd = finetune_command(base, pairs, out, tmp_path / "run", FinetuneOptions.from_json(options))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=finetune_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(line.startswith('{"event": ') for line in proc.stdout.splitlines()), proc.stdout[-3000:]
    result = [json.loads(line) for line in proc.stdout.splitlines() if '"event": "result"' in line][-1]
    return result["metrics"], out


def weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / "weights.npz") as data:
        return {k: data[k].astype(np.float32) for k in data.files}


def distance(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Relative L1 distance of the matrices (norms start at 1 and the position table is fixed: both would hide it)."""
    keys = [k for k in b if k.endswith(("kernel", "embeddings"))]
    return float(sum(np.abs(a[k] - b[k]).sum() for k in keys) / sum(np.abs(b[k]).sum() for k in keys))


@pytest.mark.slow
def test_fine_tune_keeps_the_tokenizer_and_starts_from_the_active_weights(tmp_path, tiny_model_dir):
    metrics, out = finetune(tmp_path, tiny_model_dir, {"max_steps": 2})
    assert metrics["full_retrain"] is False and metrics["steps"] == 2
    tokenizer = "engine/subword.model"
    assert (out / tokenizer).read_bytes() == (tiny_model_dir / tokenizer).read_bytes()
    # The same network; its sources now start with the server tag, as the new pairs did in training.
    base_config = model_dir.load_transformer(tiny_model_dir).config
    assert not base_config.server_tag
    assert model_dir.load_transformer(out).config == replace(base_config, server_tag=True)
    # Two steps from the active weights move them by about 2%; a fresh start lands far away (below).
    assert 0 < distance(weights(out), weights(tiny_model_dir)) < 0.1
    assert NEW_WORD not in json.dumps(metrics)  # figures only: the words are people's text
    texts = [f for f in out.rglob("*") if f.suffix in (".json", ".tsv")]
    assert texts and not any(NEW_WORD in f.read_text(errors="replace") for f in texts)


@pytest.mark.slow
def test_full_retrain_learns_new_pieces_from_base_corpus_and_log(tmp_path, tiny_model_dir):
    metrics, out = finetune(tmp_path, tiny_model_dir, {"max_steps": 2, "full": True})
    assert metrics["full_retrain"] is True and metrics["replay_pairs"] > 10_000  # the whole base corpus
    before = SubwordTokenizer.load(tiny_model_dir / "engine")
    after = SubwordTokenizer.load(out / "engine")
    assert len(after.encode_pieces(NEW_WORD)) < len(before.encode_pieces(NEW_WORD))  # learned from the log
    assert model_dir.load_transformer(out).config.server_tag
    # From scratch: about 0.6 away, though the same seed initialises both and the tiny base trained only 60 steps.
    assert distance(weights(out), weights(tiny_model_dir)) > 0.3
