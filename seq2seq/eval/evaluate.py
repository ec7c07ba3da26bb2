"""`evaluate`: perplexity (per token and per v1 word), overlap, diversity and latency of a model (v2 or v1) on a
file of pairs."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.eval import metrics, wordcount
from seq2seq.replier import Replier
from seq2seq.text.corpus import Pair, read_pairs
from seq2seq.text.vocab import PAD_ID, UNK_ID
from seq2seq.text.words import detokenize, tokenize
from seq2seq.train.batching import encode_target, pad_targets

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


def conversations_of(pairs: list[Pair]) -> list[list[str]]:
    return [[p.context, p.query] if p.context else [p.query] for p in pairs]


def evaluate(replier: Replier, pairs: list[Pair], options: DecodeOptions) -> dict:
    """A v1 model (the NumPy decoder), for comparisons with v2 (`seq2seq.engine.evaluate`)."""
    if not pairs:
        raise ValueError("no pairs to evaluate")
    perplexity, accuracy = teacher_forced(replier, pairs)
    words = wordcount.word_perplexities(reply_nlls(replier, pairs), [p.reply for p in pairs])
    conversations = conversations_of(pairs)
    reply_ids: list[list[int]] = []
    for start in range(0, len(pairs), BATCH):
        reply_ids += replier.reply_ids(conversations[start : start + BATCH], options, openers=True)
    replies = [detokenize(replier.vocab.decode(ids)) for ids in reply_ids]
    return {
        "perplexity": perplexity,
        "token_accuracy": accuracy,
        **words,
        **reply_figures(pairs, replies, lambda c: replier.reply_ids([c], options, openers=True)),
        "unk_rate": sum(1 for ids in reply_ids if UNK_ID in ids) / len(pairs),
        "mean_reply_tokens": float(np.mean([len(ids) for ids in reply_ids])),
        "pairs": len(pairs),
    }


def reply_figures(pairs: list[Pair], replies: list[str], reply_one) -> dict:
    """What any model's replies score against the human ones (in v1's words, so models compare), and the latency
    of `reply_one(conversation)` one conversation at a time."""
    hyp_tokens = [tokenize(r) for r in replies]
    ref_tokens = [tokenize(p.reply) for p in pairs]
    bleu1, bleu2 = metrics.bleu(ref_tokens, hyp_tokens)
    latencies = []
    for conversation in conversations_of(pairs)[:LATENCY_PAIRS]:
        start = time.perf_counter()
        reply_one(conversation)
        latencies.append((time.perf_counter() - start) * 1000)
    return {
        "bleu1": bleu1,
        "bleu2": bleu2,
        "f1": float(np.mean([metrics.unigram_f1(r, h) for r, h in zip(ref_tokens, hyp_tokens, strict=False)])),
        "distinct1": metrics.distinct(hyp_tokens, 1),
        "distinct2": metrics.distinct(hyp_tokens, 2),
        "generic_rate": metrics.generic_rate(replies),
        "empty_rate": sum(1 for r in replies if not r.strip()) / len(pairs),
        "mean_reply_words": float(np.mean([len(h) for h in hyp_tokens])),
        "latency_ms_p50": metrics.percentile(latencies, 50),
        "latency_ms_p95": metrics.percentile(latencies, 95),
    }


def is_subword_lstm(path) -> bool:
    """v1's LSTM layout trained on a subword tokenizer (`train --arch lstm --tokenizer`), kept beside it."""
    from seq2seq.text.subword import MODEL_FILE

    return model_dir.kind(path) == model_dir.V1 and (Path(path) / MODEL_FILE).is_file()


def evaluate_subword_lstm(path, pairs: list[Pair]) -> dict:
    """Perplexities of the LSTM on subword pieces, teacher-forced through Keras: no engine serves it and v1's
    decoder reads words, so it is scored, not asked for replies."""
    from seq2seq.eval.scoring import pair_nlls
    from seq2seq.model.lstm import build
    from seq2seq.text.subword import SubwordTokenizer
    from seq2seq.train.transformer import encode_pairs

    if not pairs:
        raise ValueError("no pairs to evaluate")
    bundle = model_dir.load(path)
    model = build(bundle.config)
    model_dir.assign_weights(model, bundle.weights, str(path))
    data = encode_pairs(pairs, SubwordTokenizer.load(path), bundle.config, 1_000_000)  # whole replies
    nlls = pair_nlls(model, data).tolist()
    pieces = sum(len(t) for t in data.targets)
    return {
        "perplexity": math.exp(min(math.fsum(nlls) / pieces, 50.0)),  # per piece, EOS included, whole replies
        **wordcount.word_perplexities(nlls, [p.reply for p in pairs]),
        "pairs": len(pairs),
    }


def main(args, options: DecodeOptions) -> int:
    pairs = read_pairs(args.pairs)
    if args.limit:
        pairs = pairs[: args.limit]
    if model_dir.kind(args.model) == model_dir.V2:
        from seq2seq.engine import evaluate as engine_evaluate

        result = engine_evaluate.evaluate_dir(args.model, pairs, options)
    elif is_subword_lstm(args.model):
        result = evaluate_subword_lstm(args.model, pairs)
    else:
        result = evaluate(Replier.load(args.model), pairs, options)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")
    return 0
