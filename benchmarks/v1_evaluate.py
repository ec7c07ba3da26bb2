"""Model v1 measured as `python -m seq2seq evaluate` measures v2, for figures beside it (v1 left the product).

    python -m benchmarks.v1_evaluate --model /work/v1model/default --pairs models/default/heldout.tsv \\
        --json bench-results/evaluate-v1-beside-v2.json
    python -m seq2seq evaluate --model models/default --pairs models/default/heldout.tsv --json

The v1 model is read and decoded by the baseline kept in `benchmarks/baselines/v1` (its NumPy decoder and search):
perplexity per word token as trained, word perplexity on every reply and on the replies v1's vocabulary covers
(`seq2seq.eval.wordcount`, the same count as v2's), the overlap and diversity of its replies at its own default
decoding, and their latency (which moves with the machine's load). The same decoding options as `evaluate`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.baselines.v1.evaluate import evaluate  # noqa: E402
from benchmarks.baselines.v1.replier import Replier  # noqa: E402
from seq2seq import model_dir  # noqa: E402
from seq2seq.cli import add_decoding_options, decoding_options  # noqa: E402
from seq2seq.text.corpus import read_pairs  # noqa: E402
from seq2seq.train.reporting import publish_figures  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a v1 model directory")
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", type=Path)
    add_decoding_options(parser)
    args = parser.parse_args(argv)
    if model_dir.kind(args.model) != model_dir.V1:
        parser.error(f"{args.model} is not a v1 model directory; `python -m seq2seq evaluate` measures v2")
    pairs = read_pairs(args.pairs)[: args.limit]
    figures = evaluate(Replier.load(args.model), pairs, decoding_options(args))
    publish_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
