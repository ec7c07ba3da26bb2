"""Model v2 training: the learning-rate schedule, and end to end at the tiny preset (a handful of pairs learned,
the exported engine says them back; the server tag keeps a server's way of talking apart from the base's)."""

from __future__ import annotations

import dataclasses
import json

from seq2seq.text.corpus import Pair
from seq2seq.text.subword import normalise

PAIRS = [
    Pair("what is your favourite colour?", "Blue, like the deep sea.", group="a"),
    Pair("do you have any pets", "a cat named biscuit 😺", group="b"),
    Pair("where do you live", "in a small town by the river", context="hi there", group="c"),
    Pair("what do you do for fun", "i play chess with my brother", group="d"),
]


def test_a_tiny_transformer_learns_pairs_and_the_engine_replies_with_them(tmp_path, tokenizer):
    from seq2seq.engine.decode import Engine
    from seq2seq.engine.options import EngineOptions
    from seq2seq.model.presets import preset
    from seq2seq.train.transformer import ENGINE_DIR, TransformerJob, run

    model_cfg, train_cfg = preset("tiny")
    train_cfg = dataclasses.replace(
        train_cfg, test_fraction=0.0, val_fraction=0.0, batch_size=4, max_steps=200, warmup_steps=20, eval_every=50
    )
    job = TransformerJob(PAIRS, tmp_path / "model", tmp_path / "run", model_cfg, train_cfg, quiet=True)
    job.tokenizer = tokenizer
    metrics = run(job)
    assert metrics["steps"] >= 100 and metrics["val_perplexity"] < 2.0

    engine = Engine(tmp_path / "model" / ENGINE_DIR, device="cpu")  # int8, as a CPU worker serves it
    conversations = [[p.context, p.query] if p.context else [p.query] for p in PAIRS]
    for strategy in ("greedy", "beam"):
        options = EngineOptions(strategy=strategy, anti_lm=0.0, no_repeat_ngram=0)
        replies = engine.reply_batch(conversations, options, openers=True)
        assert replies == [normalise(p.reply) for p in PAIRS]
    saved = json.loads((tmp_path / "model" / "transformer.json").read_text())
    assert saved["model"]["vocab_size"] == len(tokenizer)


def test_the_server_tag_lets_a_model_talk_like_the_server_and_still_like_the_base(tmp_path, tokenizer):
    """The same messages, answered one way in base pairs and another in the server's own (tagged) pairs: the
    engine of a server-tagged model says the server's replies; the same weights read untagged say the base's."""
    from seq2seq.engine.convert import export
    from seq2seq.engine.decode import Engine
    from seq2seq.engine.options import EngineOptions
    from seq2seq.model.presets import preset
    from seq2seq.model_dir import load_transformer
    from seq2seq.train.transformer import ENGINE_DIR, TransformerJob, run

    server = [dataclasses.replace(p, reply=f"glorpy 🦑 {i} zephyrine", server=True) for i, p in enumerate(PAIRS)]
    model_cfg, train_cfg = preset("tiny")
    train_cfg = dataclasses.replace(
        train_cfg, test_fraction=0.0, val_fraction=0.0, batch_size=8, max_steps=300, warmup_steps=20, eval_every=100
    )
    model_cfg = dataclasses.replace(model_cfg, server_tag=True)
    job = TransformerJob(PAIRS + server, tmp_path / "model", tmp_path / "run", model_cfg, train_cfg, quiet=True)
    job.tokenizer = tokenizer
    run(job)

    trained = load_transformer(tmp_path / "model")
    assert trained.config.server_tag  # saved with the model, so the engine tags what it answers
    untagged = export(tmp_path / "untagged", dataclasses.replace(trained.config, server_tag=False), trained.weights,
                      tokenizer)  # fmt: skip
    conversations = [[p.context, p.query] if p.context else [p.query] for p in PAIRS]
    options = EngineOptions(strategy="greedy", anti_lm=0.0, no_repeat_ngram=0)
    as_server = Engine(tmp_path / "model" / ENGINE_DIR, device="cpu").reply_batch(conversations, options, openers=True)
    as_base = Engine(untagged, device="cpu").reply_batch(conversations, options, openers=True)
    assert as_server == [normalise(p.reply) for p in server]
    assert as_base == [normalise(p.reply) for p in PAIRS]


def test_learning_rate_warms_up_then_decays_to_its_floor():
    from keras import ops

    from seq2seq.train.transformer import warmup_cosine

    schedule = warmup_cosine(1e-3, warmup=100, total=1100, floor_ratio=0.1)
    rate = [float(ops.convert_to_numpy(schedule(step))) for step in (0, 49, 99, 100, 600, 1100, 5000)]
    assert rate[0] < rate[1] < rate[2] <= 1e-3 + 1e-9  # linear warm-up
    assert abs(rate[3] - 1e-3) < 1e-9  # the peak
    assert abs(rate[4] - 0.55e-3) < 1e-8  # half-way down the cosine: (peak + floor) / 2
    assert abs(rate[5] - 1e-4) < 1e-9 and abs(rate[6] - 1e-4) < 1e-9  # the floor, and it stays there
