"""The fine-tune process: words the model lacks are reported, and a full retrain rebuilds the vocabulary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from seq2seq import model_dir
from seq2seq.protocol import FinetuneOptions
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
    result = [json.loads(line) for line in proc.stdout.splitlines() if '"event": "result"' in line][-1]
    return result["metrics"], out


@pytest.mark.slow
def test_fine_tune_reports_missing_words_and_keeps_the_vocabulary(tmp_path, tiny_model_dir):
    metrics, out = finetune(tmp_path, tiny_model_dir, {"max_steps": 2})
    assert metrics["full_retrain"] is False
    assert metrics["missing_words"]["distinct"] >= 1 and metrics["missing_words"]["unk_rate"] > 0.5
    assert NEW_WORD not in json.dumps(metrics)  # figures only: the words are people's text
    assert NEW_WORD not in "".join(f.read_text(errors="replace") for f in out.iterdir() if f.suffix != ".npz")
    assert model_dir.load(out).vocab == model_dir.load(tiny_model_dir).vocab


@pytest.mark.slow
def test_full_retrain_rebuilds_the_vocabulary_from_base_corpus_and_log(tmp_path, tiny_model_dir):
    metrics, out = finetune(tmp_path, tiny_model_dir, {"max_steps": 2, "full": True})
    assert metrics["full_retrain"] is True
    vocab = model_dir.load(out).vocab
    assert vocab.id(NEW_WORD) != 1  # learned, not UNK
    assert len(vocab) == len(model_dir.load(tiny_model_dir).vocab)
