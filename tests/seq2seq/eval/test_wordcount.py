"""Word perplexity and v1's vocabulary coverage, on inputs whose answers are known by hand."""

import hashlib
import math
from pathlib import Path

import pytest

from seq2seq.eval import wordcount
from seq2seq.eval.wordcount import coverage_gap, covered_by_v1, word_perplexities, word_perplexity

LN2 = math.log(2)


def test_word_perplexity_spreads_each_replys_nll_over_its_words_plus_the_end():
    # "hi there" is 2 words + end = 3 units, "ok" 1 + 1 = 2: 5 ln 2 nats over 5 units is perplexity 2
    assert word_perplexity([3 * LN2, 2 * LN2], ["hi there", "ok"]) == pytest.approx(2.0)
    # the same NLL over fewer words is a higher perplexity: 4 ln 2 over 2 units
    assert word_perplexity([4 * LN2], ["ok"]) == pytest.approx(4.0)
    assert word_perplexity([0.0], [""]) == pytest.approx(1.0)  # an empty reply is its end token alone


def test_word_perplexity_refuses_what_it_cannot_measure():
    with pytest.raises(ValueError, match="2 NLLs for 1 replies"):
        word_perplexity([1.0, 2.0], ["ok"])
    with pytest.raises(ValueError, match="no replies"):
        word_perplexity([], [])
    assert word_perplexity([1e9], ["ok"]) == pytest.approx(math.exp(wordcount.MAX_NLL_PER_WORD))


def test_covered_replies_are_those_v1s_vocabulary_can_write():
    assert covered_by_v1("i like pizza, do you?")
    assert covered_by_v1("see <@12> at https://example.com")  # placeholders are v1 words
    assert not covered_by_v1("i like qwzxvbnm")
    assert not covered_by_v1("<unk>") and not covered_by_v1("</s>")  # specials are ids, not words
    assert coverage_gap(["i like pizza", "i like qwzxvbnm", "lmao 😭 qwzxvbnm", "ok"]) == pytest.approx(2 / 4)
    assert coverage_gap([]) == 0.0


def test_word_perplexities_restricts_to_covered_replies_and_counts_them():
    replies = ["i like pizza", "qwzxvbnm", "ok"]  # 3+1, 1+1, 1+1 units
    nlls = [4 * LN2, 10.0, 2 * LN2]
    result = word_perplexities(nlls, replies)
    assert result["covered_replies"] == 2 and result["reply_words"] == 5
    assert result["word_perplexity_covered"] == pytest.approx(2.0)  # 6 ln 2 over 6 units
    assert result["word_perplexity"] == pytest.approx(math.exp((6 * LN2 + 10.0) / 8))
    assert word_perplexities([1.0], ["qwzxvbnm"])["word_perplexity_covered"] is None


def test_the_v1_vocabulary_is_frozen():
    data = Path(wordcount.V1_VOCAB_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == wordcount.V1_VOCAB_SHA256
    assert len(wordcount.v1_vocabulary()) == 8000
