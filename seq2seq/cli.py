"""Command-line entry points; each subcommand defers to the module that owns the work."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"
ARCHITECTURES = ("transformer", "lstm")


def add_decoding_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("decoding")
    group.add_argument("--strategy", choices=["beam", "greedy", "sample", "sample_rank"], default=None)
    group.add_argument("--beam-size", type=int, default=None)
    group.add_argument("--max-len", type=int, default=None)
    group.add_argument("--min-len", type=int, default=None)
    group.add_argument("--length-penalty", type=float, default=None)
    group.add_argument("--no-repeat-ngram", type=int, default=None)
    group.add_argument(
        "--repetition-penalty", type=float, default=None, help="divides the logits of pieces already said (1 = off)"
    )
    group.add_argument("--temperature", type=float, default=None)
    group.add_argument("--top-k", type=int, default=None)
    group.add_argument("--top-p", type=float, default=None)
    group.add_argument("--anti-lm", type=float, default=None, help="MMI-antiLM weight (0 = off)")
    group.add_argument("--anti-lm-steps", type=int, default=None)
    group.add_argument(
        "--content-repeat-penalty", type=float, default=None, help="ranking: score lost per content word said again"
    )
    group.add_argument(
        "--copy-hypotheses", type=int, default=None, help="ranking: replies opening with each server word (0 = off)"
    )
    group.add_argument("--seed", type=int, default=None)


def decoding_options(args: argparse.Namespace):
    from seq2seq.engine.decoding import DecodeOptions

    names = (
        "strategy",
        "beam_size",
        "max_len",
        "min_len",
        "length_penalty",
        "no_repeat_ngram",
        "repetition_penalty",
        "temperature",
        "top_k",
        "top_p",
        "anti_lm",
        "anti_lm_steps",
        "content_repeat_penalty",
        "copy_hypotheses",
        "seed",
    )
    return DecodeOptions.from_dict({n: getattr(args, n) for n in names if getattr(args, n) is not None})


def add_training_arguments(parser: argparse.ArgumentParser, out: Path) -> None:
    """What training reads besides the preset and the architecture."""
    parser.add_argument("--pairs", type=Path, help="TSV or JSONL pairs (default: the chit-chat corpus)")
    parser.add_argument("--out", type=Path, default=out, help="model directory to write")
    parser.add_argument("--run-dir", type=Path, help="checkpoints and TensorBoard logs (default runs/<out name>)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --run-dir")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (the schedule keeps its length)")
    parser.add_argument("--schedule-steps", type=int, help="learning-rate schedule length (default: preset)")
    parser.add_argument("--max-seconds", type=float, help="hard stop on training time (default: the preset's)")
    parser.add_argument("--warmup-steps", type=int, help="transformer schedule: linear warm-up (default: preset)")
    parser.add_argument("--batch-size", type=int, help="pairs per step (default: the preset's); less memory")
    parser.add_argument("--limit", type=int, help="use only the first N pairs (quick measurements)")
    parser.add_argument("--quiet", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seq2seq", description="Banter's reply model.")
    sub = parser.add_subparsers(dest="command", required=True)

    from seq2seq.model.presets import LSTM_PRESETS
    from seq2seq.model.presets import PRESETS as TRANSFORMER_PRESETS

    p = sub.add_parser("train", help="train a model on the chit-chat corpus or your own pairs")
    p.add_argument(
        "--arch",
        choices=ARCHITECTURES,
        default="transformer",
        help="transformer: model v2, served by the engine (default); lstm: v1's network on a subword tokenizer "
        "(--tokenizer), for comparisons",
    )
    p.add_argument(
        "--preset",
        default="default",
        help=f"transformer: {', '.join(TRANSFORMER_PRESETS)} (or v2-<name>); lstm: {', '.join(LSTM_PRESETS)}",
    )
    add_training_arguments(p, Path("models/trained"))
    p.add_argument(
        "--tokenizer",
        type=Path,
        help="a subword tokenizer's folder (such as models/default/engine) used instead of training one; with "
        "--arch lstm the LSTM trains on its pieces in the transformer's loop and schedule (preset default's)",
    )

    for name, help_text in (("chat", "talk with a model in the terminal"), ("reply", "print one reply")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
        if name == "reply":
            p.add_argument("text", nargs="+")
        add_decoding_options(p)

    p = sub.add_parser("evaluate", help="measure a model on a TSV of pairs")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--pairs", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--limit", type=int)
    add_decoding_options(p)

    p = sub.add_parser("serve", help="run the model worker (HTTP)")
    p.add_argument("--models", type=Path, default=None)
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--config", type=Path, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args, argv)
        if args.command in ("chat", "reply"):
            from seq2seq import chat

            return chat.main(args, decoding_options(args))
        if args.command == "evaluate":
            from seq2seq.eval import evaluate

            return evaluate.main(args, decoding_options(args))
        if args.command == "serve":
            from seq2seq.worker import server

            return server.main(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a clear one-line message, not a traceback, for expected failures
        from seq2seq.model_dir import ModelDirError

        # Only training raises Interrupted, and then seq2seq.train.loop is loaded. Importing it here would load
        # Keras' weights code into every other dying command: seconds and hundreds of MB for a worker on its way out.
        train = sys.modules.get("seq2seq.train.loop")
        if train is not None and isinstance(exc, train.Interrupted):
            print(str(exc), file=sys.stderr)
            return 130
        if isinstance(exc, (ModelDirError, FileNotFoundError, ValueError)):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    from seq2seq.train.transformer import train_from_args

    command = "python -m seq2seq " + " ".join(shlex.quote(a) for a in argv)
    name = args.preset.removeprefix("v2-")
    if args.arch == "transformer" or args.preset.startswith("v2-"):
        from seq2seq.model.presets import PRESETS

        if name not in PRESETS:
            raise ValueError(f"unknown transformer preset {args.preset!r}; choose one of {', '.join(PRESETS)}")
        args.preset = name
        return train_from_args(args, command)
    from seq2seq.model.presets import lstm_preset

    if not args.tokenizer:
        raise ValueError(
            "--arch lstm trains on a subword tokenizer: add --tokenizer DIR (models/default/engine is the shipped "
            "model's); v1's word-vocabulary LSTM is retired (benchmarks/baselines/v1 keeps it as a baseline)"
        )
    network = lstm_preset(args.preset)
    args.preset = "default"  # the Transformer's training settings: only the network differs
    return train_from_args(args, command, network=network)
