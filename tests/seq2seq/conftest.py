"""Model v2 fixtures: a small subword tokenizer, a tiny random Transformer and its exported engine folders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seq2seq.model.config import TransformerConfig
from seq2seq.model.presets import preset
from seq2seq.text.subword import SubwordSettings, SubwordTokenizer


@pytest.fixture(scope="session")
def tokenizer() -> SubwordTokenizer:
    """Trained in-process on 3,000 chit-chat turns: real pieces, byte fallback for everything else."""
    from seq2seq.text.corpus import chitchat_pairs

    pairs = chitchat_pairs()[:3000]
    return SubwordTokenizer.train([p.reply for p in pairs], SubwordSettings(vocab_size=700))


@pytest.fixture(scope="session")
def tiny_config(tokenizer) -> TransformerConfig:
    # The tiny preset at this tokenizer, with two context turns (what the engine tests exercise).
    return replace(preset("tiny")[0], vocab_size=len(tokenizer), context_turns=2, positions=48)


@pytest.fixture(scope="session")
def random_weights(tiny_config) -> dict[str, np.ndarray]:
    """A freshly initialised tiny model's arrays, with norms and biases moved off their 1/0 start values so a
    converter that drops or swaps one of them is caught."""
    import keras

    from seq2seq.model.transformer import build
    from seq2seq.model_dir import weights_of

    keras.utils.set_random_seed(7)
    weights = weights_of(build(tiny_config))
    rng = np.random.default_rng(7)
    for key, array in weights.items():
        if key.endswith(("gamma", "beta", "bias")):
            weights[key] = array + rng.normal(0.0, 0.2, array.shape).astype(np.float32)
        elif key != "positions":
            weights[key] = array * 4.0  # larger than the init, so the attention is far from uniform
    return weights


@pytest.fixture(scope="session")
def initial_weights(tiny_config) -> dict[str, np.ndarray]:
    """A freshly initialised tiny model's arrays: logits of about unit scale, so an output bias decides."""
    import keras

    from seq2seq.model.transformer import build
    from seq2seq.model_dir import weights_of

    keras.utils.set_random_seed(8)
    return weights_of(build(tiny_config))


def export_engine(folder: Path, config, weights, tokenizer, bias: dict[str, float] | None = None) -> Path:
    """Export `weights` (float32) with extra output bias on the named pieces: a model with a known preference."""
    from seq2seq.engine.convert import export

    weights = dict(weights)
    if bias:
        out_bias = weights["out_bias"].copy()
        for piece, value in bias.items():
            out_bias[tokenizer.sp.piece_to_id(piece)] += value
        weights["out_bias"] = out_bias
    return export(folder, config, weights, tokenizer, quantization=None)


@pytest.fixture(scope="session")
def random_engine_dir(tmp_path_factory, tiny_config, random_weights, tokenizer) -> Path:
    return export_engine(tmp_path_factory.mktemp("engine"), tiny_config, random_weights, tokenizer)
