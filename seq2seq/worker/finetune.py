"""One fine-tuning job's training process: new pairs plus replayed base pairs, train v2, gate (blending if it forgot).

`python -m seq2seq.worker.finetune --base DIR --pairs FILE --out DIR --run-dir DIR --options JSON`
Writes a complete model directory to --out (a hidden temp dir the worker renames) and JSON events, one a
line, on stdout: {"event": "device"|"phase"|"progress"|"result"|"error", ...}. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seq2seq import model_dir  # noqa: E402  (after the environment is set)
from seq2seq.protocol import FinetuneOptions  # noqa: E402
from seq2seq.text import corpus  # noqa: E402
from seq2seq.text.corpus import Pair, is_held_out  # noqa: E402
from seq2seq.text.learnfilter import FilterConfig, filter_pairs  # noqa: E402
from seq2seq.worker.blend import blend_back  # noqa: E402
from seq2seq.worker.gate import GateResult, evaluate, only_forgot, perplexities  # noqa: E402

log = logging.getLogger("banter.worker.finetune")
BASE_SET_LIMIT = 5000  # base held-out pairs scored by the gate (time grows linearly with it)
CHITCHAT_SAMPLE = 500  # held-out chit-chat pairs when the active model has no heldout.tsv


def emit(event: str, **data) -> None:
    print(json.dumps({"event": event, **data}), flush=True)


def die_with_parent() -> None:
    """If the worker dies (even kill -9), this process gets SIGKILL instead of training for nobody."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        parent = os.getppid()  # not Linux: poll instead

        def watch():
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(70)

        threading.Thread(target=watch, daemon=True).start()


def detect_device() -> str:
    """Where Keras will train: the backend's own view of the GPUs."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    try:
        if backend == "jax":
            import jax

            gpus = [str(d) for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch

            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        else:
            import tensorflow as tf

            gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    except Exception as exc:  # an unusable backend still trains on the CPU (or fails later, clearly)
        return f"CPU ({backend}: GPU check failed: {exc})"
    return f"GPU ({backend}: {', '.join(gpus)})" if gpus else f"CPU ({backend}: no GPU visible)"


def split_new(pairs: list[Pair], fraction: float) -> tuple[list[Pair], list[Pair]]:
    """Held-out new pairs by conversation hash; at least one on each side."""
    held = [p for p in pairs if is_held_out("new:" + p.group, fraction)]
    train = [p for p in pairs if not is_held_out("new:" + p.group, fraction)]
    want = max(1, round(len(pairs) * fraction))
    if not held or not train:  # tiny uploads: fall back to the last pairs
        train, held = pairs[:-want], pairs[-want:]
    return train, held


def base_pairs_for_training(base_test_fraction: float) -> list[Pair]:
    """The base corpus' pairs, never from the base held-out conversations (none without chitchat-dataset)."""
    try:
        return [p for p in corpus.chitchat_pairs() if not is_held_out("test:" + p.group, base_test_fraction)]
    except ImportError:
        log.warning("chitchat-dataset is not installed: fine-tuning without replay (the model may forget)")
        return []


def replay_sample(count: int, base_test_fraction: float, seed: int) -> list[Pair]:
    """`count` base pairs to mix in, all distinct up to the corpus' size, then round again."""
    pool = base_pairs_for_training(base_test_fraction) if count > 0 else []
    rng, out = random.Random(seed), []
    while len(out) < count and pool:  # a log of tens of thousands of pairs can ask for more than the corpus holds
        out += rng.sample(pool, min(count - len(out), len(pool)))
    return out


def passes(pairs: list[Pair], epochs: float, seed: int) -> list[Pair]:
    """The new pairs `epochs` times over (a fractional epoch adds a seeded share of them), to be mixed with
    replay pairs that are all distinct: each replayed base pair is seen once. A fixed replay sample seen every
    epoch was learned by heart, and the base held-out perplexity rose 20% at 6 epochs (learncheck newwords)."""
    whole, part = divmod(epochs, 1)
    extra = random.Random(seed).sample(pairs, round(len(pairs) * part))
    return pairs * int(whole) + extra


def server_tagged(new: list[Pair], replay: list[Pair]) -> list[Pair]:
    """The mix, with the server tag on every new pair; the replayed base pairs stay untagged.

    The fine-tuned model tags every message it answers (`TransformerConfig.server_tag`), so it can take on the
    log's words and ways (an emoji where the base corpus laughs "haha") without the untagged base pairs pulling
    its replies back. What keeps its tagged replies general is distillation toward the active model
    (`seq2seq.train.distill`): tagging half the replay instead kept the base margin only by unlearning most of the
    new words (learncheck newwords, 20 epochs: a third tagged, base +5.0% but 19.5% followed; none, 31% and +18.8%)."""
    return [replace(p, server=True) for p in new] + list(replay)


def base_set(base: Path, base_test_fraction: float) -> tuple[list[Pair], str]:
    """The fixed held-out base set: the active model's heldout.tsv, else held-out chit-chat conversations."""
    heldout = base / model_dir.HELDOUT_FILE
    if heldout.exists():
        return corpus.read_pairs(heldout)[:BASE_SET_LIMIT], model_dir.HELDOUT_FILE
    try:
        pairs = [p for p in corpus.chitchat_pairs() if is_held_out("test:" + p.group, base_test_fraction or 0.02)]
    except ImportError:
        return [], "none"
    return pairs[:CHITCHAT_SAMPLE], "chitchat held-out sample"


def progress_events(min_interval_s: float = 0.5):
    """A training step callback that reports steps as JSON events: the first, the last, and one every
    `min_interval_s` between."""
    last: float | None = None

    def on_step(step: int, total: int, loss: float) -> None:
        nonlocal last
        if last is None or step == total or time.monotonic() - last >= min_interval_s:
            last = time.monotonic()
            emit("progress", phase="training", step=step, total=total, loss=round(loss, 4))

    return on_step


def train_settings(base_train, opts: FinetuneOptions, mix_size: int):
    """The base model's training settings turned into a fine-tune's (or, with `full`, a retrain's) for `mix_size`
    pairs. A fine-tune's mix already holds its epochs (`passes`), so its schedule is one pass over the mix: a
    short warm-up (fresh optimizer moments on trained weights), then the decay, from half the base peak learning
    rate, keeping the last weights for the gate to judge."""
    batch = opts.batch_size or base_train.batch_size
    if opts.full:  # the base recipe on the new mix; the base held-out set stays the gate's, so nothing is held out
        return replace(
            base_train,
            batch_size=batch,
            seed=opts.seed,
            learning_rate=opts.learning_rate or base_train.learning_rate,
            test_fraction=0.0,
        )
    steps = max(1, -(-mix_size // batch))
    per_epoch = max(1, steps // max(1, round(opts.epochs)))  # the new pairs' epochs: validation and checkpoints
    return replace(
        base_train,
        batch_size=batch,
        seed=opts.seed,
        learning_rate=opts.learning_rate or base_train.learning_rate / 2,
        warmup_steps=max(1, steps // 20),
        max_steps=steps,
        eval_every=max(1, min(base_train.eval_every, per_epoch)),
        checkpoint_every=max(1, min(base_train.checkpoint_every, per_epoch)),
        test_fraction=0.0,
        val_fraction=min(0.2, max(0.02, 20 / mix_size)),
        keep_best=False,
    )


def run(args: argparse.Namespace) -> int:
    from seq2seq.engine.decode import Engine
    from seq2seq.model.presets import TransformerTrainConfig
    from seq2seq.train.distill import Distillation
    from seq2seq.train.transformer import TransformerJob
    from seq2seq.train.transformer import run as train_run

    opts = FinetuneOptions.from_json(json.loads(args.options))
    emit("phase", phase="loading")
    device = detect_device()
    log.info("fine-tuning on %s", device)
    emit("device", device=device)

    base = model_dir.load_transformer(args.base)
    base_train = TransformerTrainConfig.from_dict(base.train)
    # Defence in depth: the bot's export already filters, but anything may POST pairs to the worker.
    filtered = filter_pairs(corpus.read_pairs(args.pairs), FilterConfig())
    log.info("learning filters kept %d pairs; dropped %s", len(filtered.kept), dict(filtered.dropped) or "none")
    if len(filtered.kept) < 2:
        raise ValueError(f"only {len(filtered.kept)} pairs passed the learning filters ({dict(filtered.dropped)})")
    new_train, new_held = split_new(filtered.kept, opts.holdout_fraction)
    replay_share = opts.replay_fraction if opts.replay_fraction is not None else args.replay_fraction
    if opts.full:  # a new tokenizer from the whole base corpus plus the log, trained from scratch
        seen, replay = new_train, base_pairs_for_training(base_train.test_fraction)
    else:
        seen = passes(new_train, opts.epochs, opts.seed)
        wanted = round(len(seen) * replay_share / (1 - replay_share))
        replay = replay_sample(wanted, base_train.test_fraction, opts.seed)
    mix = server_tagged(seen, replay)
    cfg = train_settings(base_train, opts, len(mix))
    log.info(
        "mix: %d new pairs + %d replay pairs; %d new pairs held out; lr %.2e, %d scheduled steps",
        len(new_train),
        len(replay),
        len(new_held),
        cfg.learning_rate,
        cfg.max_steps,
    )
    # A fine-tune keeps the tokenizer, so new words are new sequences of known pieces, and starts from the
    # active version's weights; a full retrain starts from nothing and learns its own pieces.
    metrics = train_run(
        TransformerJob(
            mix,
            args.out,
            args.run_dir,
            replace(base.config, server_tag=True),
            cfg,
            quiet=True,
            max_steps=opts.max_steps,
            tokenizer=None if opts.full else base.tokenizer(),
            init_weights=None if opts.full else base.weights,
            command=f"{'full retrain' if opts.full else 'finetune'} from {args.base.name}",
            distill=None if opts.full or not opts.distill else Distillation(opts.distill, base.config.server_tag),
            on_step=progress_events(),
        )
    )

    emit("phase", phase="evaluating")
    base_pairs, source = base_set(args.base, base_train.test_fraction)
    margin = opts.margin if opts.margin is not None else args.margin
    # Judged as they serve: each model's own engine (int8 on a CPU, float16 on CUDA).
    before = perplexities(Engine(base.engine), base_pairs, new_held)

    def judge() -> GateResult:  # what --out holds now, against the active model's figures
        return evaluate(before, Engine(model_dir.engine_dir(args.out)), base_pairs, new_held, margin, source)

    gate = judge()
    blend = 1.0
    if only_forgot(gate) and not opts.full:  # part of the way back to the base keeps much of what it learned
        blend, gate = blend_back(
            args.out,
            base,
            gate,
            judge=judge,
            announce=lambda share: emit("phase", phase=f"blending {share:g}"),
        )
    log.info("gate %s: %s", "passed" if gate.passed else "failed", "; ".join(gate.reasons) or "all checks met")

    # The next generation is judged on the same fixed base set, so it travels with the model. The held-out
    # new pairs do not: they are people's text, and only their figures (in the gate's result) are kept.
    if (args.base / model_dir.HELDOUT_FILE).exists():
        shutil.copyfile(args.base / model_dir.HELDOUT_FILE, args.out / model_dir.HELDOUT_FILE)
    metrics = {
        **metrics,
        "full_retrain": opts.full,
        "filtered": filtered.to_json(),
        "new_pairs": len(new_train),
        "replay_pairs": len(replay),
        "new_heldout_pairs": len(new_held),
        "blend": blend,  # the fine-tune's share of the published weights (1: not blended)
        "device": device,
        "gate": gate.to_json(),
    }
    tmp = args.out / (model_dir.METRICS_FILE + ".tmp")
    tmp.write_text(json.dumps(_finite(metrics), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, args.out / model_dir.METRICS_FILE)
    emit("result", gate=gate.to_json(), metrics=_finite(metrics))
    return 0


def _finite(value):
    """JSON has no Infinity or NaN; the worker's API must stay standard JSON."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seq2seq.worker.finetune")
    parser.add_argument("--base", type=Path, required=True, help="the active version's model directory")
    parser.add_argument("--pairs", type=Path, required=True, help="new pairs, JSONL or TSV")
    parser.add_argument("--out", type=Path, required=True, help="where to write the candidate (a hidden temp dir)")
    parser.add_argument("--run-dir", type=Path, required=True, help="checkpoints")
    parser.add_argument("--options", default="{}", help="FinetuneOptions as JSON")
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--replay-fraction", type=float, default=0.75)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s finetune %(levelname)s %(message)s")
    die_with_parent()
    from seq2seq.train.loop import Interrupted

    try:
        return run(args)
    except Interrupted as exc:
        emit("error", message=f"cancelled: {exc}")
        return 130
    except Exception as exc:
        log.exception("fine-tuning failed")
        emit("error", message=f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
