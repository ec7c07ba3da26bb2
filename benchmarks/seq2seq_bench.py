"""`python -m benchmarks.seq2seq_bench --json OUT`: training throughput and decoding latency/throughput figures.

Training: v1's LSTM at its default preset (the benchmarks' v1 baseline). Decoding: a v2 model through its engine, or a
v1 model (`--model /work/v1model/default`, see `benchmarks.baselines.v1`) through the baseline's NumPy decoder.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from benchmarks.baselines.v1.replier import Replier
from seq2seq import model_dir
from seq2seq.chat import ReplyFn, open_model
from seq2seq.cli import DEFAULT_MODEL
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.eval import metrics
from seq2seq.text import corpus
from seq2seq.train.reporting import publish_figures


def bench_training(steps: int, pairs_limit: int) -> dict:
    """Target (non-padding) tokens per second of the default preset at batch 128, after warm-up."""
    import keras

    from benchmarks.baselines.v1.encoding import encode_pairs
    from benchmarks.baselines.v1.presets import preset
    from benchmarks.baselines.v1.train import build_vocab
    from seq2seq.model.lstm import build
    from seq2seq.train.batching import BatchSchedule

    model_cfg, train_cfg = preset("default")
    pairs = corpus.chitchat_pairs()[:pairs_limit]
    vocab = build_vocab(pairs, train_cfg.vocab_size)
    model_cfg = replace(model_cfg, vocab_size=len(vocab))
    data = encode_pairs(pairs, vocab, model_cfg.max_source_len, model_cfg.max_target_len, model_cfg.context_turns)
    schedule = BatchSchedule(data, train_cfg.batch_size, seed=0)
    model = build(model_cfg)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    warm = min(40, schedule.steps_per_epoch)  # every bucket shape gets traced before timing
    for step in range(warm):
        model.train_on_batch(*_xy(schedule.batch(step)))
    tokens, start = 0, time.perf_counter()
    for step in range(warm, warm + steps):
        src, t_in, t_out = schedule.batch(step)
        model.train_on_batch((src, t_in), t_out)
        tokens += int((t_out != 0).sum())
    seconds = time.perf_counter() - start
    return {
        "train_tokens_per_s": tokens / seconds,
        "train_steps": steps,
        "batch_size": train_cfg.batch_size,
        "params": int(model.count_params()),
    }


def _xy(batch):
    src, t_in, t_out = batch
    return (src, t_in), t_out


def bench_decoding(reply_batch: ReplyFn, prompts: list[list[str]], repeats: int) -> dict:
    out: dict = {}
    for name, options in (
        ("greedy", DecodeOptions(strategy="greedy", anti_lm=0.0)),
        ("beam5", DecodeOptions(strategy="beam", beam_size=5, anti_lm=0.0)),
        ("default", DecodeOptions()),
    ):  # what the bot uses: sample_rank of 5 with antiLM
        reply_batch(prompts[:8], options)  # warm caches
        latencies = []
        for conversation in prompts[:repeats]:
            start = time.perf_counter()
            reply_batch([conversation], options)
            latencies.append((time.perf_counter() - start) * 1000)
        out[f"{name}_latency_ms_p50"] = metrics.percentile(latencies, 50)
        out[f"{name}_latency_ms_p95"] = metrics.percentile(latencies, 95)
        for batch in (1, 8, 64, 256):
            done, start = 0, time.perf_counter()
            while done < max(batch * 2, 64) and time.perf_counter() - start < 20:
                chunk = [prompts[(done + i) % len(prompts)] for i in range(batch)]
                reply_batch(chunk, options)
                done += batch
            out[f"{name}_replies_per_s_batch{batch}"] = done / (time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seq2seq_bench", description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--latency-repeats", type=int, default=200)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)

    results: dict = {"machine": platform.machine(), "cpus": os.cpu_count(), "model": str(args.model)}
    if model_dir.kind(args.model) == model_dir.V2:
        reply_batch = open_model(args.model)
    else:
        reply_batch = Replier.load(args.model).reply_batch
    heldout = args.model / "heldout.tsv"
    pairs = corpus.read_pairs(heldout) if heldout.exists() else corpus.chitchat_pairs()[:2000]
    prompts = [[p.context, p.query] if p.context else [p.query] for p in pairs]
    results.update(bench_decoding(reply_batch, prompts, args.latency_repeats))
    if not args.skip_training:
        results.update(bench_training(args.train_steps, pairs_limit=30000))
    publish_figures(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
