"""The NumPy decoder reproduces the Keras model's log-probabilities for every architecture option."""

import numpy as np
import pytest

from benchmarks.baselines.v1.inference import NumpySeq2Seq
from seq2seq import model_dir
from seq2seq.model.config import LSTMConfig
from seq2seq.model.lstm import build

CONFIGS = [
    LSTMConfig(
        vocab_size=40,
        embed_dim=8,
        units=12,
        cell=cell,
        attention=attention,
        encoder_layers=layers,
        decoder_layers=layers,
        bidirectional=bidirectional,
    )
    for cell, attention, layers, bidirectional in [
        ("lstm", "luong", 1, True),
        ("lstm", "bahdanau", 2, False),
        ("gru", "luong", 2, True),
        ("gru", "bahdanau", 1, False),
    ]
]


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: f"{c.cell}-{c.attention}-{c.encoder_layers}-{c.bidirectional}"
)
def test_numpy_steps_match_keras_teacher_forcing(config):
    model = build(config)
    rng = np.random.default_rng(0)
    source = rng.integers(5, config.vocab_size, (3, 7)).astype("int32")
    source[0, 4:] = 0  # padding must be ignored exactly as Keras masks it
    target_in = rng.integers(5, config.vocab_size, (3, 5)).astype("int32")
    logits = np.asarray(model((source, target_in)), dtype=np.float64)
    expected = logits - np.log(np.exp(logits).sum(-1, keepdims=True))

    net = NumpySeq2Seq(config, model_dir.weights_of(model))
    states, memory = net.encode(source)
    beams = net.initial_beams(states, 1)
    steps = []
    for t in range(target_in.shape[1]):
        log_probs, beams = net.step(target_in[:, t : t + 1], beams, memory)
        steps.append(log_probs[:, 0])
    np.testing.assert_allclose(np.stack(steps, axis=1), expected, atol=1e-4)
