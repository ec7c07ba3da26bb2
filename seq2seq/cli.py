"""Command-line entry points; each subcommand defers to the module that owns the work."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"


def add_decoding_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("decoding")
    group.add_argument("--strategy", choices=["beam", "greedy", "sample", "sample_rank"], default=None)
    group.add_argument("--beam-size", type=int, default=None)
    group.add_argument("--max-len", type=int, default=None)
    group.add_argument("--min-len", type=int, default=None)
    group.add_argument("--length-penalty", type=float, default=None)
    group.add_argument("--no-repeat-ngram", type=int, default=None)
    group.add_argument("--temperature", type=float, default=None)
    group.add_argument("--top-k", type=int, default=None)
    group.add_argument("--top-p", type=float, default=None)
    group.add_argument("--anti-lm", type=float, default=None, help="MMI-antiLM weight (0 = off)")
    group.add_argument("--anti-lm-steps", type=int, default=None)
    group.add_argument("--seed", type=int, default=None)


def decoding_options(args: argparse.Namespace):
    from seq2seq.decoding import DecodeOptions

    names = (
        "strategy",
        "beam_size",
        "max_len",
        "min_len",
        "length_penalty",
        "no_repeat_ngram",
        "temperature",
        "top_k",
        "top_p",
        "anti_lm",
        "anti_lm_steps",
        "seed",
    )
    return DecodeOptions.from_dict({n: getattr(args, n) for n in names if getattr(args, n) is not None})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seq2seq", description="Banter's reply model.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model on the chit-chat corpus or your own pairs")
    p.add_argument("--preset", default="default", choices=["tiny", "default", "large"])
    p.add_argument("--pairs", type=Path, help="TSV (query<TAB>reply) or JSONL {query, reply} file")
    p.add_argument("--out", type=Path, default=Path("models/trained"), help="model directory to write")
    p.add_argument("--run-dir", type=Path, help="checkpoints and TensorBoard logs (default runs/<out name>)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --run-dir")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--epochs", type=float)
    p.add_argument("--limit", type=int, help="use only the first N pairs (quick experiments)")
    p.add_argument("--quiet", action="store_true")

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
            from seq2seq import evaluate

            return evaluate.main(args, decoding_options(args))
        if args.command == "serve":
            from seq2seq.worker import server

            return server.main(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a clear one-line message, not a traceback, for expected failures
        from seq2seq.model_dir import ModelDirError

        # Only training raises Interrupted, and then seq2seq.train is loaded. Importing it here would load
        # TensorFlow into every other dying command: seconds and hundreds of MB for a worker on its way out.
        train = sys.modules.get("seq2seq.train")
        if train is not None and isinstance(exc, train.Interrupted):
            print(str(exc), file=sys.stderr)
            return 130
        if isinstance(exc, (ModelDirError, FileNotFoundError, ValueError)):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    from dataclasses import replace

    from seq2seq import corpus
    from seq2seq.presets import preset
    from seq2seq.train import TrainJob, run

    model_cfg, train_cfg = preset(args.preset)
    if args.epochs is not None:
        train_cfg = replace(train_cfg, max_epochs=args.epochs)
    pairs = corpus.read_pairs(args.pairs) if args.pairs else corpus.chitchat_pairs()
    if args.limit:
        pairs = pairs[: args.limit]
    run_dir = args.run_dir or Path("runs") / args.out.name
    command = "python -m seq2seq " + " ".join(shlex.quote(a) for a in argv)
    run(
        TrainJob(
            pairs,
            args.out,
            run_dir,
            model_cfg,
            train_cfg,
            resume=args.resume,
            quiet=args.quiet,
            max_steps=args.max_steps,
            command=command,
        )
    )
    print(f"model written to {args.out}")
    return 0
