"""v1's side of an evaluation: teacher-forced perplexities through its NumPy decoder and the scores of its replies,
with the same figures as `python -m seq2seq evaluate` reports for a v2 model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchmarks.baselines.v1.encoding import encode_target
from benchmarks.baselines.v1.replier import Replier
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.eval import wordcount
from seq2seq.eval.evaluate import conversations_of, reply_figures
from seq2seq.text.corpus import Pair
from seq2seq.text.vocab import PAD_ID, UNK_ID
from seq2seq.text.words import detokenize
from seq2seq.train.batching import pad_targets

BATCH = 64


def teacher_forced(replier: Replier, pairs: list[Pair], batch_size: int = 128) -> tuple[float, float]:
    """(perplexity, token accuracy) per reference token as trained: replies cut at max_target_len, then EOS;
    UNK counted as a token."""
    scored = _score(replier, pairs, replier.config.max_target_len, batch_size)
    tokens = max(int(scored.tokens.sum()), 1)
    return math.exp(min(math.fsum(scored.nll) / tokens, 50.0)), int(scored.correct.sum()) / tokens


def reply_nlls(replier: Replier, pairs: list[Pair], batch_size: int = 128) -> list[float]:
    """Each whole reply's NLL in nats, every token and EOS, never cut: what word perplexity spreads over words."""
    return _score(replier, pairs, None, batch_size).nll.tolist()


@dataclass
class _Scored:
    nll: np.ndarray  # per pair, nats
    tokens: np.ndarray  # per pair, EOS included
    correct: np.ndarray  # per pair, tokens the argmax got right


def _score(replier: Replier, pairs: list[Pair], cut: int | None, batch_size: int) -> _Scored:
    """Teacher forcing through the decoder the replies come from; targets cut at `cut` tokens (None: whole)."""
    limit = cut if cut is not None else 1_000_000
    targets = [np.asarray(encode_target(replier.vocab, p.reply, limit)) for p in pairs]
    scored = _Scored(np.zeros(len(pairs)), np.zeros(len(pairs), dtype=np.int64), np.zeros(len(pairs), dtype=np.int64))
    net = replier.network
    order = np.argsort([len(t) for t in targets], kind="stable")  # similar lengths together: little padding
    for start in range(0, len(pairs), batch_size):
        rows = order[start : start + batch_size]
        chunk = [pairs[i] for i in rows]
        source = replier.encode(conversations_of(chunk), openers=True)
        t_in, t_out = pad_targets([targets[i] for i in rows])
        states, item_state = net.encode(source)
        beams = net.initial_beams(states, 1)
        for t in range(t_in.shape[1]):
            log_probs, beams = net.step(t_in[:, t : t + 1], beams, item_state)
            lp = log_probs[:, 0, :]
            gold = t_out[:, t]
            live = gold != PAD_ID
            scored.nll[rows] -= np.where(live, lp[np.arange(len(chunk)), gold], 0.0)
            scored.correct[rows] += (lp.argmax(axis=1) == gold) & live
            scored.tokens[rows] += live
    return scored


def word_figures(replier: Replier, pairs: list[Pair]) -> dict:
    """The scored half: perplexity per word token as trained and the word perplexities (`eval.wordcount`)."""
    perplexity, accuracy = teacher_forced(replier, pairs)
    return {
        "perplexity": perplexity,
        "token_accuracy": accuracy,
        **wordcount.word_perplexities(reply_nlls(replier, pairs), [p.reply for p in pairs]),
    }


def evaluate(replier: Replier, pairs: list[Pair], options: DecodeOptions) -> dict:
    """What `python -m seq2seq evaluate` reported for a v1 model before v1 left the product."""
    if not pairs:
        raise ValueError("no pairs to evaluate")
    conversations = conversations_of(pairs)
    reply_ids: list[list[int]] = []
    for start in range(0, len(pairs), BATCH):
        reply_ids += replier.reply_ids(conversations[start : start + BATCH], options, openers=True)
    replies = [detokenize(replier.vocab.decode(ids)) for ids in reply_ids]
    return {
        **word_figures(replier, pairs),
        **reply_figures(pairs, replies, lambda c: replier.reply_ids([c], options, openers=True)),
        "unk_rate": sum(1 for ids in reply_ids if UNK_ID in ids) / len(pairs),
        "mean_reply_tokens": float(np.mean([len(ids) for ids in reply_ids])),
        "pairs": len(pairs),
    }
