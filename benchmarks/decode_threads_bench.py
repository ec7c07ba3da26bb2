"""How the worker's decode threads should meet the engine: one engine with an `inter_threads` replica per thread
(what the worker does), or one engine per thread. Same model, same prompts, same threads; replies/s and memory.

    python -m benchmarks.decode_threads_bench --json bench-results/decode-threads.json

A default-size Transformer with random weights (`engine_bench.random_engine`), int8 on the CPU, replies fixed
at 20 pieces so reply length cannot flatter a figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.engine_bench import random_engine  # noqa: E402
from seq2seq.engine.decode import Engine  # noqa: E402
from seq2seq.engine.options import EngineOptions  # noqa: E402
from seq2seq.text import corpus  # noqa: E402
from seq2seq.train.reporting import publish_figures  # noqa: E402

TOKENS = 20
LAYOUTS = ("one_engine", "engine_per_thread")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def run(engines: list[Engine], prompts: list[list[str]], batch: int, threads: int, options) -> dict:
    batches = [prompts[i : i + batch] for i in range(0, len(prompts), batch)]
    for engine in engines:
        engine.reply_batch(batches[0], options)  # warm
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda ib: engines[ib[0] % len(engines)].reply_batch(ib[1], options), enumerate(batches)))
    seconds = time.perf_counter() - started
    return {"replies_per_s": len(prompts) / seconds, "ms_per_token": seconds * 1000 / (len(prompts) * TOKENS)}


def measure(folder: Path, layout: str, threads: int, count: int) -> dict:
    """In a process of its own (no Keras): the engine(s) of one layout, their memory, then replies/s."""
    options = EngineOptions(strategy="greedy", min_len=TOKENS, max_len=TOKENS, anti_lm=0.0, no_repeat_ngram=0)
    prompts = [[p.query] for p in corpus.chitchat_pairs()[:count]]
    before = rss_mb()
    if layout == "one_engine":
        engines = [Engine(folder, device="cpu", inter_threads=threads, intra_threads=1, seed=0)]
    else:
        engines = [Engine(folder, device="cpu", intra_threads=1, seed=0) for _ in range(threads)]
    figures: dict = {"rss_mb": rss_mb() - before}
    for batch in (1, 8, 64):
        figures[f"batch{batch}"] = run(engines, prompts, batch, threads, options)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decode_threads_bench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", choices=LAYOUTS, help=argparse.SUPPRESS)  # the child process's part
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.folder, args.measure, args.threads, args.prompts)))
        return 0
    figures: dict = {"threads": args.threads, "prompts": args.prompts, "reply_pieces": TOKENS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "engine"
        random_engine(folder)
        for layout in LAYOUTS:
            command = [sys.executable, "-m", "benchmarks.decode_threads_bench", "--measure", layout]
            command += ["--folder", str(folder), "--threads", str(args.threads), "--prompts", str(args.prompts)]
            out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
            figures[layout] = json.loads(out.strip().splitlines()[-1])
    publish_figures({k: json.dumps(v) if isinstance(v, dict) else v for k, v in figures.items()}, None)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
