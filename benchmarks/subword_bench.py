"""Subword tokenizer figures: lower-cased versus cased SentencePiece on the chit-chat corpus, v1's split.

    python benchmarks/subword_bench.py --json bench-results/subword.json

For each variant: training seconds, pieces per held-out reply and per v1 word, held-out words that are one
piece, byte-fallback pieces. For the choice of case folding: how much of the held-out text has capitals, and
the entropy of a word's casing given its lower-case form (bits a cased model must spend predicting it).
This is never a timed unit test; figures move with the machine's load.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.baselines.v1.presets import TrainConfig  # noqa: E402
from seq2seq.text import corpus  # noqa: E402
from seq2seq.text.subword import SubwordSettings, SubwordTokenizer, normalise  # noqa: E402
from seq2seq.text.words import tokenize  # noqa: E402
from seq2seq.train.loop import split_three  # noqa: E402
from seq2seq.train.reporting import publish_figures  # noqa: E402


def variant_figures(name: str, train_texts: list[str], replies: list[str], lowercase: bool, vocab: int) -> dict:
    start = time.perf_counter()
    tokenizer = SubwordTokenizer.train(train_texts, SubwordSettings(vocab_size=vocab, lowercase=lowercase))
    seconds = time.perf_counter() - start
    pieces = words = one_piece = byte_pieces = 0
    for reply in replies:
        encoded = tokenizer.encode_pieces(reply)
        pieces += len(encoded)
        byte_pieces += sum(p.startswith("<0x") for p in encoded)
        for word in normalise(reply, lowercase).split():
            words += 1
            one_piece += len(tokenizer.encode_pieces(word)) == 1
    v1_words = sum(len(tokenize(r)) for r in replies)
    return {
        f"{name}_train_seconds": seconds,
        f"{name}_pieces": len(tokenizer),
        f"{name}_pieces_per_reply": pieces / len(replies),
        f"{name}_pieces_per_v1_word": pieces / max(v1_words, 1),
        f"{name}_single_piece_words": one_piece / max(words, 1),
        f"{name}_byte_piece_rate": byte_pieces / max(pieces, 1),
    }


def casing_figures(train_texts: list[str], replies: list[str]) -> dict:
    """Capitals in held-out replies, and H(surface casing | lower-case word) learned from the training text."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for text in train_texts:
        for word in normalise(text, lowercase=False).split():
            forms[word.lower()][word] += 1
    bits = tokens = capitalised = 0
    for reply in replies:
        for word in normalise(reply, lowercase=False).split():
            tokens += 1
            capitalised += word != word.lower()
            counts = forms.get(word.lower())
            if counts:
                total = sum(counts.values())
                # −log2 p(this casing | the word), add-one smoothed over the forms seen plus this one
                bits -= math.log2((counts[word] + 1) / (total + len(counts) + 1))
    return {
        "heldout_words_with_capitals": capitalised / max(tokens, 1),
        "heldout_replies_with_capitals": sum(r != r.lower() for r in replies) / max(len(replies), 1),
        "casing_bits_per_word": bits / max(tokens, 1),
        "casing_perplexity_factor_per_word": 2 ** (bits / max(tokens, 1)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--vocab", type=int, default=8000)
    args = parser.parse_args(argv)
    train, _, test = split_three(corpus.chitchat_pairs(), TrainConfig())  # the shipped model's split
    texts = list(dict.fromkeys(t for p in train for t in (p.context, p.query, p.reply) if t))
    replies = [p.reply for p in test]
    figures: dict = {"machine": platform.machine(), "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0]}
    figures.update(train_texts=len(texts), heldout_replies=len(replies), vocab_size=args.vocab)
    figures.update(casing_figures(texts, replies))
    figures.update(variant_figures("lowercase", texts, replies, True, args.vocab))
    figures.update(variant_figures("cased", texts, replies, False, args.vocab))
    publish_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
