"""Measures of a v2 model through the engine that serves it: perplexity for the quality gate, `evaluate`'s report."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from seq2seq.engine.decode import Engine
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.engine.options import EngineOptions
from seq2seq.eval import wordcount
from seq2seq.text.corpus import Pair

BATCH = 64
UNK_MARKS = ("\u2047", "<unk>")  # how SentencePiece spells an unknown piece in text; the engine never emits one


def piece_log_probs(engine: Engine, pairs: list[Pair], whole: bool = False) -> list[list[float]]:
    """log p of every reply piece and the EOS, per pair, in the training form (`openers`): the reply cut to
    max_target_len as trained, or `whole`."""
    out: list[list[float]] = []
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        conversations = [[p.context, p.query] if p.context else [p.query] for p in chunk]
        out += engine.score(conversations, [p.reply for p in chunk], openers=True, whole=whole)
    return out


def perplexity(engine: Engine, pairs: list[Pair]) -> float:
    """Per piece, EOS included, replies cut as trained: what training's validation reports (infinite for no
    pairs). The gate compares `word_perplexity`."""
    if not pairs:
        return math.inf
    scores = piece_log_probs(engine, pairs)
    pieces = sum(len(s) for s in scores)
    return math.exp(min(-math.fsum(x for s in scores for x in s) / max(pieces, 1), 50.0))


def reply_nlls(engine: Engine, pairs: list[Pair]) -> list[float]:
    """Each whole reply's NLL in nats, every piece and the EOS: what a word perplexity spreads over words (a reply
    longer than the position table, positions - 1 pieces, is scored that far)."""
    return [-math.fsum(s) for s in piece_log_probs(engine, pairs, whole=True)]


def word_perplexity(engine: Engine, pairs: list[Pair]) -> float:
    """Whole replies' NLL over their words (`eval.wordcount`): what the gate and learncheck compare (infinite for no
    pairs, so an empty set never passes)."""
    if not pairs:
        return math.inf
    return wordcount.word_perplexity(reply_nlls(engine, pairs), [p.reply for p in pairs])


def score_figures(engine: Engine, pairs: list[Pair]) -> dict:
    """The scored half of an evaluation: perplexity per piece and the word perplexities (see `eval.wordcount`)."""
    return {
        "perplexity": perplexity(engine, pairs),  # per subword piece: compare models by word perplexity
        **wordcount.word_perplexities(reply_nlls(engine, pairs), [p.reply for p in pairs]),
    }


def evaluate(engine: Engine, pairs: list[Pair], options: EngineOptions) -> dict:
    from seq2seq.eval.evaluate import conversations_of, reply_figures

    if not pairs:
        raise ValueError("no pairs to evaluate")
    conversations = conversations_of(pairs)
    replies: list[str] = []
    for start in range(0, len(pairs), BATCH):
        replies += engine.reply_batch(conversations[start : start + BATCH], options, openers=True)
    return {
        **score_figures(engine, pairs),
        **reply_figures(pairs, replies, lambda c: engine.reply_batch([c], options, openers=True)),
        "unk_rate": sum(1 for r in replies if any(m in r for m in UNK_MARKS)) / len(pairs),
        "mean_reply_tokens": sum(len(engine.tokenizer.encode(r)) for r in replies) / len(pairs),  # pieces
        "pairs": len(pairs),
        "device": engine.device,
        "compute_type": engine.compute_type,
    }


def evaluate_dir(path: Path, pairs: list[Pair], options: DecodeOptions) -> dict:
    """`python -m seq2seq evaluate` on a v2 directory: the CLI's word-based options as the engine's."""
    from seq2seq import model_dir

    # The seed is the engine's: its one decoding thread draws the same replies run after run, without a fresh
    # replica per reply (which a per-call seed costs).
    engine = Engine(model_dir.engine_dir(path), seed=options.seed)
    return evaluate(engine, pairs, replace(EngineOptions.from_decode_options(options), seed=None))
