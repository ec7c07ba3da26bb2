"""Decoding speed, side by side in one run: v1's NumPy decoder (models/default) and CTranslate2 (model v2's engine).

    python benchmarks/engine_bench.py --json bench-results/engine.json

The engine serves a random-weight Transformer of the default v2 size (3+3 layers, width 256, 4 heads, FFN
1024, 8,000 pieces; int8, one intra-op thread). Both answer the held-out prompts of models/default, text in,
text out, in one process with the worker's thread settings. Replies are forced to 20 tokens (minimum =
maximum length; n-gram blocking and the anti-LM off), so reply length cannot flatter a figure: greedy and
beam-5 p50 at batch 1, replies/s at batch 64, ms per generated token. Default decoding (the bot's default
request; free length) is reported with its mean reply length. This is never a timed unit test; CPU figures
move with the machine's load: compare within one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
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


def random_engine(folder: Path, threads: int):
    """Export a random-weight default-size Transformer with a tokenizer trained on the prompts' corpus."""
    import keras

    from seq2seq.engine.convert import export
    from seq2seq.engine.decode import Engine
    from seq2seq.model.transformer import build
    from seq2seq.model.transformer_presets import preset
    from seq2seq.model_dir import weights_of
    from seq2seq.text.subword import SubwordSettings, SubwordTokenizer

    texts = [p.reply for p in corpus.chitchat_pairs()[:60_000]]
    tokenizer = SubwordTokenizer.train(texts, SubwordSettings(vocab_size=8000))
    config, _ = preset("default", vocab_size=len(tokenizer))
    keras.utils.set_random_seed(0)
    model = build(config)
    export(folder, config, weights_of(model), tokenizer)
    return Engine(folder, device="cpu", compute_type="int8", intra_threads=threads, seed=0), model.count_params()


def measure(reply_batch, prompts: list[list[str]], options, repeats: int, prefix: str) -> dict:
    reply_batch(prompts[:8], options)  # warm caches and lazily built state
    latencies, lengths = [], []
    for conversation in prompts[:repeats]:
        start = time.perf_counter()
        lengths.append(len(reply_batch([conversation], options)[0].split()))
        latencies.append((time.perf_counter() - start) * 1000)
    out = {
        f"{prefix}_p50_ms_batch1": metrics.percentile(latencies, 50),
        f"{prefix}_p95_ms_batch1": metrics.percentile(latencies, 95),
        f"{prefix}_mean_reply_words": sum(lengths) / len(lengths),
    }
    done, start = 0, time.perf_counter()
    while done < 256 and time.perf_counter() - start < 30:
        reply_batch([prompts[(done + i) % len(prompts)] for i in range(64)], options)
        done += 64
    out[f"{prefix}_replies_per_s_batch64"] = done / (time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--v1-model", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeats", type=int, default=100, help="batch-1 replies timed per setting")
    parser.add_argument("--intra-threads", type=int, default=1)
    args = parser.parse_args(argv)

    from seq2seq.replier import Replier

    pairs = corpus.read_pairs(args.v1_model / "heldout.tsv")
    prompts = [[p.context, p.query] if p.context else [p.query] for p in pairs]
    figures: dict = {"machine": platform.machine(), "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0]}
    v1 = Replier.load(args.v1_model)
    fixed = dict(min_len=TOKENS, max_len=TOKENS, no_repeat_ngram=0, anti_lm=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        engine, params = random_engine(Path(tmp) / "engine", args.intra_threads)
        figures.update(v2_params=params, v2_compute_type=engine.compute_type, v2_intra_threads=args.intra_threads)
        for name, v1_options, v2_options in (
            ("greedy", DecodeOptions(strategy="greedy", **fixed), EngineOptions(strategy="greedy", **fixed)),
            ("beam5", DecodeOptions(strategy="beam", beam_size=5, **fixed), EngineOptions(strategy="beam", **fixed)),
            # What the worker would ask of each: the bot's default request (v2: its piece budget).
            ("default", DecodeOptions(), EngineOptions.from_decode_options(DecodeOptions())),
        ):
            figures.update(measure(v1.reply_batch, prompts, v1_options, args.repeats, f"v1_{name}"))
            figures.update(measure(engine.reply_batch, prompts, v2_options, args.repeats, f"v2_{name}"))
    for side in ("v1", "v2"):
        for name in ("greedy", "beam5"):
            figures[f"{side}_{name}_ms_per_token_batch1"] = figures[f"{side}_{name}_p50_ms_batch1"] / TOKENS
            figures[f"{side}_{name}_ms_per_token_batch64"] = 1000 / (
                figures[f"{side}_{name}_replies_per_s_batch64"] * TOKENS
            )
    for name in ("greedy", "beam5", "default"):
        figures[f"{name}_p50_v2_over_v1"] = figures[f"v2_{name}_p50_ms_batch1"] / figures[f"v1_{name}_p50_ms_batch1"]
        figures[f"{name}_batch64_v2_over_v1"] = (
            figures[f"v2_{name}_replies_per_s_batch64"] / figures[f"v1_{name}_replies_per_s_batch64"]
        )
    publish_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
