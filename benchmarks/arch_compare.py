"""Architectures side by side in one run: `seq2seq`'s evaluate on several model directories, one held-out split.

    python -m benchmarks.arch_compare --pairs models/default/heldout.tsv \\
        --model shipped=models/default --model transformer=runs/cmp-transformer --model lstm=runs/cmp-lstm \\
        --json bench-results/arch-compare.json

Each directory is scored on the same pairs: word perplexity (the whole reply's NLL, end token included, over v1's
words + 1) on every reply and on those v1's vocabulary covers, the per-piece perplexity, the parameters and the
training budget from its metrics.json. A v2 directory is scored by its engine (as `evaluate` and the worker do),
an LSTM trained on subword pieces (`train --arch lstm --tokenizer`) by Keras. Perplexity only: no decoding, so
the figures do not move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from seq2seq import model_dir  # noqa: E402
from seq2seq.eval import evaluate  # noqa: E402
from seq2seq.text import corpus  # noqa: E402
from seq2seq.train.reporting import publish_figures  # noqa: E402

TRAINING = ("params", "steps", "train_seconds", "steps_per_second", "train_pairs", "command")


def word_figures(path: Path, pairs: list[corpus.Pair]) -> dict:
    """The perplexity part of `python -m seq2seq evaluate` for either kind of directory compared here."""
    if evaluate.is_subword_lstm(path):
        return {"scored_by": "keras float32", **evaluate.evaluate_subword_lstm(path, pairs)}
    from seq2seq.engine import evaluate as engine_evaluate
    from seq2seq.engine.decode import Engine

    engine = Engine(model_dir.engine_dir(path), device="cpu")
    return {"scored_by": f"engine {engine.compute_type}", **engine_evaluate.score_figures(engine, pairs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=Path, default=REPO / "models" / "default" / "heldout.tsv")
    parser.add_argument("--model", action="append", required=True, help="NAME=DIR, once per model")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--limit", type=int, help="only the first N pairs (a quick check)")
    args = parser.parse_args(argv)
    pairs = corpus.read_pairs(args.pairs)[: args.limit]
    figures: dict = {"pairs_file": str(args.pairs), "pairs": len(pairs)}
    for entry in args.model:
        name, _, folder = entry.partition("=")
        path = Path(folder)
        started = time.perf_counter()
        result = word_figures(path, pairs)
        trained = model_dir.read_metrics(path)
        figures.update({f"{name}_{k}": v for k, v in result.items() if k != "pairs"})
        figures.update({f"{name}_{k}": trained[k] for k in TRAINING if k in trained})
        figures[f"{name}_kind"] = "lstm, subword pieces" if evaluate.is_subword_lstm(path) else "transformer (v2)"
        figures[f"{name}_eval_seconds"] = time.perf_counter() - started
    publish_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
