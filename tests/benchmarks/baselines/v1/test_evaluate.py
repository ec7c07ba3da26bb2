"""The evaluator's teacher-forced scores: each whole reply's NLL as the Keras model computes it, word perplexity."""

import math

import numpy as np
import pytest

from benchmarks.baselines.v1.encoding import encode_pairs
from benchmarks.baselines.v1.evaluate import reply_nlls, teacher_forced
from benchmarks.baselines.v1.replier import Replier
from seq2seq.eval.scoring import score
from seq2seq.eval.wordcount import word_perplexity
from seq2seq.model.lstm import build
from seq2seq.model_dir import assign_weights
from seq2seq.text.corpus import Pair
from seq2seq.text.words import tokenize

LONG = "well i think that we should go to the beach tomorrow because the weather will be very nice and warm there"
PAIRS = [
    Pair("hi", "hello there!"),
    Pair("how are you?", "i'm fine, thanks. and you?", "hello"),
    Pair("what do you do?", LONG, "tell me about you"),
    Pair("any plans?", "qwzxvbnm and zzyzx"),  # words no vocabulary has: one UNK each
]


@pytest.fixture(scope="module")
def replier(tiny_v1_model_dir):
    return Replier.load(tiny_v1_model_dir)


def keras_nll(replier, pairs, max_target_len):
    """Total NLL and token count from the Keras model (the training graph), as an independent reference."""
    cfg = replier.config
    model = build(cfg)
    assign_weights(model, replier.bundle.weights)
    data = encode_pairs(pairs, replier.vocab, cfg.max_source_len, max_target_len, cfg.context_turns)
    result = score(model, data)
    return result["nll"] * result["tokens"], result["tokens"]


def test_reply_nlls_score_whole_replies_as_keras_does(replier):
    assert len(tokenize(LONG)) > replier.config.max_target_len  # the long reply is scored past the cut
    nlls = reply_nlls(replier, PAIRS, batch_size=3)
    total, tokens = keras_nll(replier, PAIRS, max_target_len=1000)
    assert tokens == sum(len(tokenize(p.reply)) + 1 for p in PAIRS)
    assert math.fsum(nlls) == pytest.approx(total, rel=1e-4)
    # v1's tokens are its words (an unknown word is one UNK), so word perplexity is its whole-reply perplexity
    replies = [p.reply for p in PAIRS]
    assert word_perplexity(nlls, replies) == pytest.approx(math.exp(total / tokens), rel=1e-4)


def test_each_replys_nll_does_not_depend_on_its_batch(replier):
    together = reply_nlls(replier, PAIRS, batch_size=128)
    alone = [reply_nlls(replier, [p])[0] for p in PAIRS]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    assert all(n > 0 for n in alone)


def test_token_perplexity_is_still_as_trained_cut_at_max_target_len(replier):
    perplexity, accuracy = teacher_forced(replier, PAIRS)
    total, tokens = keras_nll(replier, PAIRS, max_target_len=replier.config.max_target_len)
    assert perplexity == pytest.approx(math.exp(total / tokens), rel=1e-4)
    assert 0.0 <= accuracy <= 1.0
