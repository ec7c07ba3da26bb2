"""The model that ships in models/default: complete, small, loads on TensorFlow, and answers."""

import json
import os
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.decoding import DecodeOptions
from seq2seq.model import build
from seq2seq.replier import Replier

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default"


def test_shipped_directory_is_complete_and_under_25_mb():
    for name in ("config.json", "vocab.json", "weights.npz", "metrics.json", "loss.png", "heldout.tsv"):
        assert (SHIPPED / name).is_file(), name
    size = sum(f.stat().st_size for f in SHIPPED.iterdir() if f.is_file())
    assert size < 25 * 1024 * 1024
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert "--preset default" in metrics["command"]
    assert metrics["train_unk_rate"] < 0.05


def test_shipped_weights_load_into_keras_on_tensorflow_and_match_the_decoder():
    import keras

    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"
    bundle = model_dir.load(SHIPPED)
    model = build(bundle.config)
    model_dir.assign_weights(model, bundle.weights)
    replier = Replier(bundle)
    source = replier.encode([["hi, how are you?"], ["do you have any pets?"]])
    target_in = np.array([[2, 10, 11, 12], [2, 20, 21, 22]], dtype=np.int32)
    logits = np.asarray(model((source, target_in)), dtype=np.float64)
    expected = (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )
    net = replier.network
    states, items = net.encode(source)
    beams = net.initial_beams(states, 1)
    for t in range(target_in.shape[1]):
        log_probs, beams = net.step(target_in[:, t : t + 1], beams, items)
        np.testing.assert_allclose(log_probs[:, 0], expected[:, t], atol=1e-3)


def test_shipped_model_answers_everyday_prompts():
    replier = Replier.load(SHIPPED)
    prompts = [["hi, how are you?"], ["do you have any pets?"], ["what do you do for fun?"], ["i love pizza"]]
    options = DecodeOptions(seed=7)  # the bot's sample-and-rank, seeded: the same replies on every run
    replies = replier.reply_batch(prompts, options)
    assert all(r.strip() for r in replies)
    assert len(set(replies)) >= 3  # not one canned answer
    assert replier.reply_batch(prompts, options) == replies
