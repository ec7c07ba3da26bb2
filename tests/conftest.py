"""Fixtures shared by every test package: a tiny trained model, made once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A real model at the tiny preset, trained for a few seconds on chit-chat pairs."""
    from seq2seq import corpus
    from seq2seq.presets import preset
    from seq2seq.train import TrainJob, run

    base = tmp_path_factory.mktemp("tiny-model")
    model_cfg, train_cfg = preset("tiny")
    pairs = corpus.chitchat_pairs()[:1500]
    run(TrainJob(pairs, base / "model", base / "run", model_cfg, train_cfg, quiet=True, max_steps=60))
    return base / "model"
