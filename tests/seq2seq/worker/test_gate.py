"""The quality gate's decision."""

from __future__ import annotations

import math

from seq2seq.worker.gate import decide


def test_passes_when_base_holds_and_new_improves():
    result = decide(100.0, 104.9, 80.0, 60.0, margin=0.05, base_pairs=10, new_pairs=5)
    assert result.passed and result.reasons == []


def test_fails_when_base_worsens_past_the_margin():
    result = decide(100.0, 105.2, 80.0, 60.0, margin=0.05, base_pairs=10, new_pairs=5)
    assert not result.passed and "base held-out word perplexity" in result.reasons[0]
    assert decide(100.0, 105.2, 80.0, 60.0, margin=0.10, base_pairs=10, new_pairs=5).passed


def test_fails_when_new_pairs_do_not_improve():
    result = decide(100.0, 99.0, 80.0, 80.0, margin=0.05, base_pairs=10, new_pairs=5)
    assert not result.passed and "did not improve" in result.reasons[0]


def test_nan_and_empty_sets_never_pass():
    assert not decide(100.0, math.nan, 80.0, 60.0, base_pairs=10, new_pairs=5).passed
    assert not decide(100.0, 99.0, 80.0, math.nan, base_pairs=10, new_pairs=5).passed
    assert not decide(100.0, 99.0, 80.0, 60.0, base_pairs=0, new_pairs=5).passed


def test_the_gate_measures_whole_replies_per_word_as_the_benchmarks_do(tiny_model_dir):
    from seq2seq import model_dir
    from seq2seq.engine.decode import Engine
    from seq2seq.engine.evaluate import perplexity, reply_nlls
    from seq2seq.eval.wordcount import word_perplexity
    from seq2seq.text.corpus import chitchat_pairs
    from seq2seq.worker.gate import perplexities

    engine = Engine(model_dir.engine_dir(tiny_model_dir))
    pairs = chitchat_pairs()[:20]
    base, new = perplexities(engine, pairs, [])
    assert base == word_perplexity(reply_nlls(engine, pairs), [p.reply for p in pairs])
    assert base != perplexity(engine, pairs)  # not per piece: a retrain with new pieces must compare
    assert new == math.inf  # nothing to judge on never passes
