"""The model that ships in models/default: a complete v2 directory under 40 MB whose Keras weights and engine agree,
and which answers."""

import json
import os
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.engine.decode import Engine
from seq2seq.engine.options import EngineOptions
from seq2seq.text.vocab import EOS_ID
from seq2seq.train.batching import pad_batch

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default"
FILES = ("transformer.json", "weights.npz", "metrics.json", "loss.png", "heldout.tsv", "engine/model.bin")


def test_shipped_directory_is_a_complete_v2_model_under_40_mb():
    assert model_dir.kind(SHIPPED) == model_dir.V2
    for name in (*FILES, "engine/subword.model", "engine/engine.json"):
        assert (SHIPPED / name).is_file(), name
    size = sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file())
    assert size < 40 * 1024 * 1024
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert "--preset default" in metrics["command"] and metrics["steps"] > 0


def test_shipped_weights_load_into_keras_on_tensorflow_and_match_the_engine():
    import keras

    from seq2seq.model.transformer import build

    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"
    bundle = model_dir.load_transformer(SHIPPED)
    model = build(bundle.config)
    model_dir.assign_weights(model, bundle.weights)  # fine-tuning starts here: every variable must fit
    engine = Engine(bundle.engine, device="cpu", compute_type="float32")  # float16 weights either way
    tokenizer = engine.tokenizer
    conversations, replies = [["hi, how are you?"], ["do you have any pets?"]], ["pretty good!", "a cat 🐱"]
    sources = [
        tokenizer.encode_source(c, bundle.config.max_source_len, bundle.config.context_turns) for c in conversations
    ]
    targets = [tokenizer.encode(r) for r in replies]
    src, t_in, t_out = pad_batch(
        [np.array(s, np.int32) for s in sources], [np.array(t + [EOS_ID], np.int32) for t in targets]
    )
    logits = np.asarray(model.predict_on_batch((src, t_in)), dtype=np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    keras_scores = np.take_along_axis(log_probs, t_out[..., None], axis=-1)[..., 0]
    engine_scores = engine.score(conversations, replies, openers=True)
    for i, target in enumerate(targets):
        np.testing.assert_allclose(engine_scores[i], keras_scores[i, : len(target) + 1], atol=2e-3)


def test_shipped_model_answers_everyday_prompts():
    engine = Engine(model_dir.engine_dir(SHIPPED), device="cpu")  # int8, as a CPU worker serves it
    prompts = [["hi, how are you?"], ["do you have any pets?"], ["what do you do for fun?"], ["i love pizza"]]
    options = EngineOptions(seed=7)  # the bot's sample-and-rank, seeded: the same replies on every run
    replies = engine.reply_batch(prompts, options)
    assert all(r.strip() for r in replies)
    assert len(set(replies)) >= 3  # not one canned answer
    assert engine.reply_batch(prompts, options) == replies
