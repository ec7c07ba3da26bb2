"""`evaluate`: perplexity (per piece and per v1 word), overlap, diversity and latency of a v2 model on a file of
pairs; perplexities of an LSTM trained on subword pieces. A retired v1 model is refused (`benchmarks.v1_evaluate`
measures it beside v2)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.eval import metrics, wordcount
from seq2seq.text.corpus import Pair, read_pairs
from seq2seq.text.words import tokenize

LATENCY_PAIRS = 100


def conversations_of(pairs: list[Pair]) -> list[list[str]]:
    return [[p.context, p.query] if p.context else [p.query] for p in pairs]


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
    if is_subword_lstm(args.model):
        result = evaluate_subword_lstm(args.model, pairs)
    else:
        from seq2seq.engine import evaluate as engine_evaluate

        model_dir.refuse_v1(args.model, "evaluate")
        result = engine_evaluate.evaluate_dir(args.model, pairs, options)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")
    return 0
