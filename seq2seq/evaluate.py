"""`evaluate`: perplexity (per token and per v1 word), overlap, diversity and latency of a model on a file of pairs."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import numpy as np

from seq2seq import metrics
from seq2seq.batching import encode_target, pad_targets
from seq2seq.corpus import Pair, read_pairs
from seq2seq.decoding import DecodeOptions
from seq2seq.eval import wordcount
from seq2seq.replier import Replier
from seq2seq.text import detokenize, tokenize
from seq2seq.vocab import PAD_ID, UNK_ID

LATENCY_PAIRS = 100
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
        source = replier.encode([[p.context, p.query] if p.context else [p.query] for p in chunk], openers=True)
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


def evaluate(replier: Replier, pairs: list[Pair], options: DecodeOptions) -> dict:
    if not pairs:
        raise ValueError("no pairs to evaluate")
    perplexity, accuracy = teacher_forced(replier, pairs)
    words = wordcount.word_perplexities(reply_nlls(replier, pairs), [p.reply for p in pairs])
    conversations = [[p.context, p.query] if p.context else [p.query] for p in pairs]
    reply_ids: list[list[int]] = []
    for start in range(0, len(pairs), BATCH):
        reply_ids += replier.reply_ids(conversations[start : start + BATCH], options, openers=True)
    replies = [detokenize(replier.vocab.decode(ids)) for ids in reply_ids]
    hyp_tokens = [tokenize(r) for r in replies]
    ref_tokens = [tokenize(p.reply) for p in pairs]
    bleu1, bleu2 = metrics.bleu(ref_tokens, hyp_tokens)
    latencies = []
    for conversation in conversations[:LATENCY_PAIRS]:
        start = time.perf_counter()
        replier.reply_ids([conversation], options, openers=True)
        latencies.append((time.perf_counter() - start) * 1000)
    return {
        "perplexity": perplexity,
        "token_accuracy": accuracy,
        **words,
        "bleu1": bleu1,
        "bleu2": bleu2,
        "f1": float(np.mean([metrics.unigram_f1(r, h) for r, h in zip(ref_tokens, hyp_tokens, strict=False)])),
        "distinct1": metrics.distinct(hyp_tokens, 1),
        "distinct2": metrics.distinct(hyp_tokens, 2),
        "generic_rate": metrics.generic_rate(replies),
        "unk_rate": sum(1 for ids in reply_ids if UNK_ID in ids) / len(pairs),
        "empty_rate": sum(1 for r in replies if not r.strip()) / len(pairs),
        "mean_reply_tokens": float(np.mean([len(ids) for ids in reply_ids])),
        "latency_ms_p50": metrics.percentile(latencies, 50),
        "latency_ms_p95": metrics.percentile(latencies, 95),
        "pairs": len(pairs),
    }


def main(args, options: DecodeOptions) -> int:
    replier = Replier.load(args.model)
    pairs = read_pairs(args.pairs)
    if args.limit:
        pairs = pairs[: args.limit]
    result = evaluate(replier, pairs, options)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")
    return 0
