"""Fixtures shared by every test package: tiny trained models (v2, and v1 to upgrade from), made once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A real v2 model (Transformer, subword pieces, its CTranslate2 engine) at the tiny preset, trained for a few
    seconds on chit-chat pairs: what the worker serves."""
    from seq2seq.model.presets import preset
    from seq2seq.text import corpus
    from seq2seq.train.transformer import TransformerJob, run

    base = tmp_path_factory.mktemp("tiny-model")
    model_cfg, train_cfg = preset("tiny")
    pairs = corpus.chitchat_pairs()[:1500]
    run(TransformerJob(pairs, base / "model", base / "run", model_cfg, train_cfg, quiet=True, max_steps=60))
    return base / "model"


@pytest.fixture(scope="session")
def tiny_v1_model_dir(tmp_path_factory) -> Path:
    """A real v1 model (LSTM, word vocabulary) at the tiny preset, trained by the benchmarks' v1 baseline: what the
    upgrade and the refusals start from, and the baseline's own tests."""
    from benchmarks.baselines.v1.presets import preset
    from benchmarks.baselines.v1.train import TrainJob, run
    from seq2seq.text import corpus

    base = tmp_path_factory.mktemp("tiny-v1-model")
    model_cfg, train_cfg = preset("tiny")
    pairs = corpus.chitchat_pairs()[:1500]
    run(TrainJob(pairs, base / "model", base / "run", model_cfg, train_cfg, quiet=True, max_steps=60))
    return base / "model"
