"""Decoding speed, side by side in one run: v1's NumPy decoder (the baseline in benchmarks/baselines/v1, on a v1
model directory) and CTranslate2 (model v2's engine).

    python -m benchmarks.engine_bench --v1-model /work/v1model/default --json bench-results/engine.json

(/work/v1model/default: the shipped v1 model, see `benchmarks.baselines.v1`.)

The engine serves a random-weight Transformer of the default v2 size (3+3 layers, width 256, 4 heads, FFN
1024, 8,000 pieces; int8), opened as the worker opens it (`seq2seq.worker.server.engine_args` of config.toml's
[worker]: one replica per decode thread, one intra-op thread each, a batch cut among the replicas). v1 decodes
as its worker did: a batch in one thread, one BLAS thread. Both answer the held-out prompts of the v1 model,
text in, text out, in one process. Replies are forced to 20 tokens (minimum = maximum length; n-gram blocking
and the anti-LM off), so reply length cannot flatter a figure: greedy and beam-5 p50 at batch 1, replies/s at
batch 64, ms per generated token. "default" is each side's default request (v1: `DecodeOptions()`, v2: the
config's [decoding]), free length, with ms per reply word. For fairness at batch 64 the run also times v2 on
one replica (one core) and v1 with the batch cut in two threads (both cores, as its worker's two decode
threads could). The sides take turns batch by batch, so the load of a shared machine falls on both alike;
CPU-ms per token (process CPU time, all threads) is the figure load moves least. Never a timed unit test.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import seq2seq.worker  # noqa: E402, F401  (first: the worker's one BLAS thread, set before NumPy loads, as served)
from seq2seq.engine.decoding import DecodeOptions  # noqa: E402
from seq2seq.engine.options import EngineOptions  # noqa: E402
from seq2seq.eval import metrics  # noqa: E402
from seq2seq.text import corpus  # noqa: E402
from seq2seq.train.reporting import publish_figures  # noqa: E402

TOKENS = 20
BATCH = 64


def random_engine(folder: Path) -> int:
    """Export a random-weight default-size Transformer with a tokenizer trained on the prompts' corpus; its
    parameter count."""
    import keras

    from seq2seq.engine.convert import export
    from seq2seq.model.presets import preset
    from seq2seq.model.transformer import build
    from seq2seq.model_dir import weights_of
    from seq2seq.text.subword import SubwordSettings, SubwordTokenizer

    texts = [p.reply for p in corpus.chitchat_pairs()[:60_000]]
    tokenizer = SubwordTokenizer.train(texts, SubwordSettings(vocab_size=8000))
    config, _ = preset("default", vocab_size=len(tokenizer))
    keras.utils.set_random_seed(0)
    model = build(config)
    export(folder, config, weights_of(model), tokenizer)
    return model.count_params()


def cut_in(threads: int, reply_batch):
    """reply_batch with each batch cut into `threads` slices decoded at once."""
    pool = ThreadPoolExecutor(threads)

    def replies(conversations, options):
        size = -(-len(conversations) // threads)
        slices = [conversations[i : i + size] for i in range(0, len(conversations), size)]
        return [r for part in pool.map(lambda s: reply_batch(s, options), slices) for r in part]

    return replies


def timed(reply_batch, conversations, options) -> tuple[list[str], float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    replies = reply_batch(conversations, options)
    return replies, time.perf_counter() - wall, time.process_time() - cpu


def measure(name: str, sides: dict, prompts: list[list[str]], repeats: int, batches: int) -> dict:
    """sides: label -> (reply_batch, options, batch-1 too?). Sides take turns: prompt by prompt, batch by batch."""
    for reply_batch, options, _ in sides.values():
        reply_batch(prompts[:8], options)  # warm caches and lazily built state
    latencies = {label: [] for label, side in sides.items() if side[2]}
    words = {label: 0 for label in latencies}
    for conversation in prompts[:repeats]:
        for label in latencies:
            reply_batch, options, _ = sides[label]
            replies, wall, _ = timed(reply_batch, [conversation], options)
            latencies[label].append(wall * 1000)
            words[label] += len(replies[0].split())
    wall = {label: 0.0 for label in sides}
    cpu, batch_words = dict(wall), dict.fromkeys(sides, 0)
    for b in range(batches):
        conversations = [prompts[(b * BATCH + i) % len(prompts)] for i in range(BATCH)]
        for label, (reply_batch, options, _) in sides.items():
            replies, seconds, cpu_seconds = timed(reply_batch, conversations, options)
            wall[label] += seconds
            cpu[label] += cpu_seconds
            batch_words[label] += sum(len(r.split()) for r in replies)
    out = {}
    for label in sides:
        per = f"{label}_{name}"
        replies = batches * BATCH
        # Fixed length: TOKENS tokens a reply. Free length (default): per reply word, as v1 counts words.
        tokens = replies * TOKENS if name != "default" else batch_words[label]
        unit = "token" if name != "default" else "word"
        if label in latencies:
            p50 = metrics.percentile(latencies[label], 50)
            out[f"{per}_p50_ms_batch1"] = p50
            out[f"{per}_p95_ms_batch1"] = metrics.percentile(latencies[label], 95)
            out[f"{per}_mean_reply_words"] = words[label] / len(latencies[label])
            if name != "default":
                out[f"{per}_ms_per_token_batch1"] = p50 / TOKENS
        out[f"{per}_replies_per_s_batch64"] = replies / wall[label]
        out[f"{per}_ms_per_{unit}_batch64"] = wall[label] * 1000 / tokens
        out[f"{per}_cpu_ms_per_{unit}_batch64"] = cpu[label] * 1000 / tokens
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--v1-model", type=Path, required=True, help="a v1 model directory (config.json, vocab.json)")
    parser.add_argument("--config", type=Path, default=REPO / "config.toml", help="whose [worker] and [decoding]")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeats", type=int, default=100, help="batch-1 replies timed per setting and side")
    parser.add_argument("--batches", type=int, default=4, help="batches of 64 timed per setting and side")
    args = parser.parse_args(argv)

    from benchmarks.baselines.v1.replier import Replier
    from seq2seq.engine.decode import Engine
    from seq2seq.worker import settings as worker_settings
    from seq2seq.worker.server import engine_args

    settings = worker_settings.load(args.config, env={})
    served = dict(engine_args(settings), device="cpu", compute_type="int8")
    pairs = corpus.read_pairs(args.v1_model / "heldout.tsv")
    prompts = [[p.context, p.query] if p.context else [p.query] for p in pairs]
    figures: dict = {"machine": platform.machine(), "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0]}
    v1 = Replier.load(args.v1_model)
    fixed = dict(min_len=TOKENS, max_len=TOKENS, no_repeat_ngram=0, anti_lm=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "engine"
        figures["v2_params"] = random_engine(folder)
        v2 = Engine(folder, **served)
        one_core = Engine(folder, **dict(served, inter_threads=1))
        v1_cut = cut_in(settings.decode_threads, v1.reply_batch)
        figures.update(
            v2_compute_type=v2.compute_type,
            v2_replicas=served["inter_threads"],
            v2_intra_threads=served["intra_threads"],
            v2_default_options=str(EngineOptions.from_decode_options(settings.decoding)),
        )
        for name, v1_options, v2_options in (
            ("greedy", DecodeOptions(strategy="greedy", **fixed), EngineOptions(strategy="greedy", **fixed)),
            ("beam5", DecodeOptions(strategy="beam", beam_size=5, **fixed), EngineOptions(strategy="beam", **fixed)),
            ("default", DecodeOptions(), EngineOptions.from_decode_options(settings.decoding)),
        ):
            sides = {
                "v1": (v1.reply_batch, v1_options, True),
                "v2": (v2.reply_batch, v2_options, True),
                "v2_one_replica": (one_core.reply_batch, v2_options, False),
                "v1_cut_in_threads": (v1_cut, v1_options, False),
            }
            figures.update(measure(name, sides, prompts, args.repeats, args.batches))
            figures[f"{name}_p50_v2_over_v1"] = (
                figures[f"v2_{name}_p50_ms_batch1"] / figures[f"v1_{name}_p50_ms_batch1"]
            )
            for v2_side, v1_side in (("v2", "v1"), ("v2_one_replica", "v1"), ("v2", "v1_cut_in_threads")):
                figures[f"{name}_batch64_{v2_side}_over_{v1_side}"] = (
                    figures[f"{v2_side}_{name}_replies_per_s_batch64"]
                    / figures[f"{v1_side}_{name}_replies_per_s_batch64"]
                )
    figures["load_average_1m_after"] = os.getloadavg()[0]
    publish_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
