"""`python -m benchmarks.decoding_sweep --json OUT`: reply quality of a grid of decoding settings, model loaded once.

Each setting is the worker's [decoding] (config.toml, read as the worker reads it) with a few options changed,
mapped to the engine as the worker maps it, and answers the same held-out prompts as `benchmarks.reply_quality`
(the same seeded sample) with the same figures (its `figures` and `check_targets`), averaged over `--draws`
samplings. It drives the engine directly, in batches, so a dozen settings take minutes on two cores; the engine's
generator is seeded once per run (`--sampling-seed`), so draws differ from the worker's per-prompt seeds: confirm
a chosen setting with `benchmarks.reply_quality` through the worker.

`--grid FILE` takes a JSON object {name: {option: value, ...}} instead of the built-in grid; `--only NAME` runs
the named settings of the grid.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.reply_quality import PROMPTS, SEED, check_targets, choose, conversation, figures
from seq2seq import model_dir
from seq2seq.cli import DEFAULT_MODEL
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.text.corpus import read_pairs

BATCH = 16  # conversations per engine call: the worker's batches at a busy server's load
SAMPLES_KEPT = 12  # replies per setting kept in the JSON, to read
# Changes from the [decoding] defaults ("config"): each line moves one knob a step, so the table shows what each does.
GRID: dict[str, dict] = {
    "config": {},
    # [decoding] before the repetition penalties (and the sweep) came
    "before": {
        "min_len": 6,
        "temperature": 1.0,
        "anti_lm": 0.5,
        "repetition_penalty": 1.0,
        "content_repeat_penalty": 0.0,
    },
    "no-content-repeat-penalty": {"content_repeat_penalty": 0.0},
    "no-repetition-penalty": {"repetition_penalty": 1.0},
    "repetition_penalty=2": {"repetition_penalty": 2.0},
    "temperature=1.0": {"temperature": 1.0},
    "temperature=1.3": {"temperature": 1.3},
    "anti_lm=0.5": {"anti_lm": 0.5},
    "anti_lm_steps=5": {"anti_lm_steps": 5},
    "min_len=6": {"min_len": 6},
    "min_len=10": {"min_len": 10},
    "length_penalty=2": {"length_penalty": 2.0},
    "top_k=100": {"top_k": 100},
    "beam_size=8": {"beam_size": 8},
    "strategy=beam": {"strategy": "beam"},
}


def base_options(config: Path | None) -> DecodeOptions:
    """The worker's [decoding], read by the worker's own settings loader (the same file, the same checks)."""
    from seq2seq.worker.settings import load

    return replace(load(config).decoding, seed=None)


def run_setting(engine, options, conversations: list[list[str]], humans: list[str], draws: int) -> dict:
    from seq2seq.engine.options import EngineOptions

    engine_options = EngineOptions.from_decode_options(options)
    runs, started = [], time.perf_counter()
    for _ in range(draws):
        replies: list[str] = []
        for at in range(0, len(conversations), BATCH):
            replies += engine.reply_batch(conversations[at : at + BATCH], engine_options)
        runs.append(replies)
    seconds = time.perf_counter() - started
    per_draw = [figures(replies, humans) for replies in runs]
    return {
        "figures": {k: sum(f[k] for f in per_draw) / draws for k in per_draw[0]} | {"prompts": len(humans)},
        "spread": {k: [min(f[k] for f in per_draw), max(f[k] for f in per_draw)] for k in per_draw[0]},
        "seconds": seconds,
        "replies": runs[0][:SAMPLES_KEPT],
    }


COLUMNS = ("mean_reply_words", "top10_share", "distinct2", "content_repeat_rate", "unigram_f1")
SHORT = {"mean_reply_words": "words", "top10_share": "top10", "distinct2": "dist2", "content_repeat_rate": "repeat"}


def table(results: dict) -> str:
    names = {c: SHORT.get(c, c) for c in COLUMNS}
    head = f"{'setting':<24}" + "".join(f"{names[c]:>11}" for c in COLUMNS) + f"{'F1 ×base':>10}{'met':>6}{'s':>7}"
    lines = [head]
    for name, r in results.items():
        f, targets = r["figures"], r["targets"]
        ratio = targets.get("unigram_f1_over_baseline", {}).get("value", float("nan"))
        met = f"{sum(t['met'] for t in targets.values())}/{len(targets)}"
        row = "".join(f"{f[c]:>11.4f}" for c in COLUMNS)
        lines.append(f"{name:<24}{row}{ratio:>10.3f}{met:>6}{r['seconds']:>7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decoding_sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="a v2 model directory")
    parser.add_argument("--pairs", type=Path, help="held-out pairs (default: the model's heldout.tsv)")
    parser.add_argument("--prompts", type=int, default=PROMPTS, help="held-out prompts (reply_quality's sample)")
    parser.add_argument("--seed", type=int, default=SEED, help="which prompts (reply_quality's default)")
    parser.add_argument("--draws", type=int, default=2, help="samplings per prompt and setting, figures averaged")
    parser.add_argument("--sampling-seed", type=int, default=1, help="the engine's generator seed for the run")
    parser.add_argument("--config", type=Path, help="the config.toml whose [decoding] the grid changes")
    parser.add_argument("--grid", type=Path, help="JSON {name: {option: value}} instead of the built-in grid")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these settings of the grid")
    parser.add_argument("--baseline", type=Path, help="an earlier reply_quality report: adds the F1 ratio target")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.draws < 1 or args.prompts < 1:
        parser.error("--draws and --prompts must be at least 1")
    grid = json.loads(args.grid.read_text()) if args.grid else GRID
    if args.only:
        missing = sorted(set(args.only) - set(grid))
        if missing:
            parser.error(f"not in the grid: {', '.join(missing)}")
        grid = {name: grid[name] for name in args.only}
    pairs_file = args.pairs or args.model / "heldout.tsv"
    try:
        v2 = model_dir.kind(args.model) == model_dir.V2
    except model_dir.ModelDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not v2 or not pairs_file.is_file():
        print(f"error: {args.model} is not a v2 model directory, or {pairs_file} is missing", file=sys.stderr)
        return 2
    base = base_options(args.config)
    try:  # every setting checked before the model loads: a typo costs nothing
        settings = {name: DecodeOptions.from_dict({**base.to_dict(), **changes}) for name, changes in grid.items()}
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    pairs = choose(read_pairs(pairs_file), args.prompts, args.seed)
    conversations, humans = [conversation(p) for p in pairs], [p.reply for p in pairs]
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None

    from seq2seq.engine.decode import Engine

    engine = Engine(model_dir.engine_dir(args.model), seed=args.sampling_seed)
    results = {}
    for name, options in settings.items():
        results[name] = run_setting(engine, options, conversations, humans, args.draws)
        results[name]["options"] = options.to_dict()
        results[name]["targets"] = check_targets(results[name]["figures"], baseline)
        print(table({name: results[name]}).splitlines()[-1], file=sys.stderr, flush=True)
        write(args, engine, base, grid, len(pairs), pairs_file, results)  # a run cut short keeps what it measured
    print(table(results))
    if args.json:
        print(f"results written to {args.json}")
    return 0


def write(args, engine, base: DecodeOptions, grid: dict, prompts: int, pairs_file: Path, results: dict) -> None:
    if args.json:
        report = {
            "model": str(args.model),
            "pairs_file": str(pairs_file),
            "prompts": prompts,
            "seed": args.seed,
            "draws": args.draws,
            "sampling_seed": args.sampling_seed,
            "device": engine.device,
            "base": base.to_dict(),
            "grid": grid,
            "machine": platform.machine(),
            "python": platform.python_version(),
            "settings": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
