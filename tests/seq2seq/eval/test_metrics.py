"""Evaluation measures on inputs whose answers are known by hand."""

import math

import pytest

from seq2seq.eval import metrics


def test_bleu_is_one_for_identical_and_low_for_disjoint():
    refs = [["i", "am", "fine", "thanks"], ["see", "you", "later"]]
    assert metrics.bleu(refs, refs) == pytest.approx((1.0, 1.0))
    b1, b2 = metrics.bleu(refs, [["zebra", "quantum", "x", "y"], ["blue", "red", "green"]])
    assert b1 < 0.05 and b2 < 0.05


def test_bleu1_counts_clipped_unigram_precision():
    # hypothesis "the the cat" vs reference "the cat sat": clipped matches the, cat = 2/3; no brevity penalty
    b1, _ = metrics.bleu([["the", "cat", "sat"]], [["the", "the", "cat"]])
    assert b1 == pytest.approx(2 / 3)


def test_unigram_f1():
    assert metrics.unigram_f1(["a", "b", "c", "d"], ["a", "b"]) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert metrics.unigram_f1(["a"], ["b"]) == 0.0


def test_distinct_and_generic_rate():
    hyps = [["i", "do", "n't", "know"], ["i", "do", "n't", "know"]]
    assert metrics.distinct(hyps, 1) == pytest.approx(4 / 8)
    assert metrics.distinct(hyps, 2) == pytest.approx(3 / 6)
    replies = ["i don't know"] * 8 + [f"reply {i}" for i in range(12)]
    # the 10 most frequent: "i don't know" and 9 of the others → 8 + 9 = 17 of 20
    assert metrics.generic_rate(replies) == pytest.approx(17 / 20)


def test_percentiles():
    values = list(range(1, 101))
    assert metrics.percentile(values, 50) in (50, 51)
    assert metrics.percentile(values, 95) in (95, 96)
    assert math.isclose(metrics.percentile([], 50), 0.0)
