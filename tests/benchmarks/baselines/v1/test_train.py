"""v1's training end to end at tiny sizes: memorising pairs exactly, decoded by the baseline. Resuming after kill -9
and Ctrl-C, in the loop parts both trainers share, is tested through v2's loop (tests/seq2seq/train)."""

import pytest

from benchmarks.baselines.v1.presets import TrainConfig
from benchmarks.baselines.v1.replier import Replier
from benchmarks.baselines.v1.train import TrainJob, run
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.model.config import LSTMConfig
from seq2seq.text import corpus
from seq2seq.text.corpus import Pair

pytestmark = pytest.mark.slow


def test_tiny_model_overfits_twenty_pairs_and_reproduces_them(tmp_path):
    seen, pairs = set(), []
    for p in corpus.chitchat_pairs():
        if p.query.lower() not in seen and 2 <= len(p.reply.split()) <= 6 and len(p.query.split()) <= 8:
            seen.add(p.query.lower())
            pairs.append(Pair(p.query, p.reply, "", f"g{len(pairs)}"))
        if len(pairs) == 20:
            break
    model_cfg = LSTMConfig(embed_dim=64, units=128, dropout=0.0, max_source_len=12, max_target_len=10)
    train_cfg = TrainConfig(
        vocab_size=500,
        batch_size=20,
        learning_rate=1e-2,
        max_epochs=400,
        eval_every=50,
        checkpoint_every=1000,
        patience=100,
        test_fraction=0.0,
        val_fraction=0.0,
        lr_decay=1.0,
    )
    metrics = run(TrainJob(pairs, tmp_path / "m", tmp_path / "r", model_cfg, train_cfg, quiet=True, max_steps=300))
    assert metrics["val_perplexity"] < 1.1
    replier = Replier.load(tmp_path / "m")
    from seq2seq.text.words import detokenize, tokenize

    expected = [detokenize(tokenize(p.reply)) for p in pairs]
    # openers=True: these pairs were trained without a previous turn, so read them the same way
    got = replier.reply_batch(
        [[p.query] for p in pairs], DecodeOptions(strategy="greedy", no_repeat_ngram=0, min_len=1), openers=True
    )
    assert got == expected
