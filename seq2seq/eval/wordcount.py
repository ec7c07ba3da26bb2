"""Word perplexity: any model's per-reply NLL spread over words as v1 counted them, and v1's vocabulary coverage.

Models with different tokens (v1's words, v2's subword pieces) compare only per unit they share: the words of
the reply (`seq2seq.text.replywords.words`, v1's tokenizer frozen). `v1_vocab.json` is a frozen copy of the
shipped v1 vocabulary, so coverage means the same after v1's model is replaced. Change neither: a test holds
the vocabulary to its hash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from seq2seq.text.replywords import words

V1_VOCAB_FILE = Path(__file__).with_name("v1_vocab.json")
V1_VOCAB_SHA256 = "9f22b2d72f4b2dd82f825e701a423237e4fcc56dc96aad7755defd46f2a6d60b"
V1_SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<sep>")  # ids, never words a reply contains
MAX_NLL_PER_WORD = 50.0  # exp() of more overflows; a model that bad is reported as e^50


# -- v1's vocabulary, frozen ----------------------------------------------------------------------------
@cache
def v1_vocabulary() -> frozenset[str]:
    tokens = json.loads(V1_VOCAB_FILE.read_text(encoding="utf-8"))["tokens"]
    return frozenset(tokens) - set(V1_SPECIALS)


def covered_by_v1(text: str) -> bool:
    """Every word of `text` is in v1's vocabulary (so v1 could have written it without <unk>)."""
    vocabulary = v1_vocabulary()
    return all(w in vocabulary for w in words(text))


def coverage_gap(texts: Sequence[str]) -> float:
    """Share of `texts` containing at least one word v1's vocabulary lacks."""
    if not texts:
        return 0.0
    return sum(1 for t in texts if not covered_by_v1(t)) / len(texts)


# -- word perplexity ------------------------------------------------------------------------------------
def word_perplexity(reply_nlls: Sequence[float], replies: Sequence[str]) -> float:
    """exp(Σ NLL ÷ Σ (words + 1)): each reply's total NLL in nats (every token and the end token, from the
    model's own scorer) over its v1 words plus one for the end of the reply."""
    if len(reply_nlls) != len(replies):
        raise ValueError(f"{len(reply_nlls)} NLLs for {len(replies)} replies")
    if not replies:
        raise ValueError("no replies to measure")
    units = sum(len(words(r)) + 1 for r in replies)
    return math.exp(min(math.fsum(reply_nlls) / units, MAX_NLL_PER_WORD))


def word_perplexities(reply_nlls: Sequence[float], replies: Sequence[str]) -> dict:
    """Word perplexity on every reply and on those v1's vocabulary covers, with the counts behind each."""
    covered = [i for i, r in enumerate(replies) if covered_by_v1(r)]
    return {
        "word_perplexity": word_perplexity(reply_nlls, replies),
        "word_perplexity_covered": (
            word_perplexity([reply_nlls[i] for i in covered], [replies[i] for i in covered]) if covered else None
        ),
        "covered_replies": len(covered),
        "reply_words": sum(len(words(r)) for r in replies),
    }
