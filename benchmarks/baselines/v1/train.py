"""v1's training loop (word vocabulary, LSTM, learning rate halved on a plateau), kept to make v1 baselines and the
v1 model directories the upgrade tests start from; the product trains in `seq2seq.train.transformer`."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks.baselines.v1.encoding import encode_pairs
from benchmarks.baselines.v1.presets import TrainConfig
from seq2seq import model_dir
from seq2seq.eval.scoring import score
from seq2seq.model.config import LSTMConfig
from seq2seq.model.lstm import build
from seq2seq.text.corpus import Pair, write_tsv
from seq2seq.text.vocab import Vocabulary
from seq2seq.text.words import tokenize
from seq2seq.train import checkpoint
from seq2seq.train.batching import BatchSchedule
from seq2seq.train.loop import Interrupted, StopFlag, save_best, split_three, train_step
from seq2seq.train.reporting import Progress, Scalars, plot_losses


@dataclass
class TrainJob:
    pairs: list[Pair]
    out_dir: Path
    run_dir: Path
    model_config: LSTMConfig
    train_config: TrainConfig
    resume: bool = False
    quiet: bool = False
    max_steps: int | None = None  # stop after this many steps (tests, benchmarks)
    command: str = ""


def build_vocab(pairs: list[Pair], size: int) -> Vocabulary:
    def streams():
        for p in pairs:
            yield tokenize(p.query)
            yield tokenize(p.reply)

    return Vocabulary.build(streams(), size)


def run(job: TrainJob) -> dict:
    """Train (or resume) and write the model directory; returns its metrics."""
    import keras

    cfg = job.train_config
    keras.utils.set_random_seed(cfg.seed)
    job.run_dir.mkdir(parents=True, exist_ok=True)
    log = (lambda *_: None) if job.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    data = _prepare(job, log)
    schedule = BatchSchedule(data.encode(data.train), cfg.batch_size, cfg.seed)
    total_steps = max(1, int(cfg.max_epochs * schedule.steps_per_epoch))
    if job.max_steps is not None:
        total_steps = min(total_steps, job.max_steps)
    model = _compile(job, data.config)
    state = _start_state(job, model, total_steps, log)
    _train(job, model, schedule, data.encode(data.val), state, total_steps)
    return _publish(job, model, data, state, log)


@dataclass
class _Data:
    """The pairs of one run, split, with the vocabulary and model config that encode them."""

    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    vocab: Vocabulary
    config: LSTMConfig
    unk_rate: float  # of the training replies' tokens

    def encode(self, pairs: list[Pair]):
        c = self.config
        return encode_pairs(pairs, self.vocab, c.max_source_len, c.max_target_len, c.context_turns)


def _prepare(job: TrainJob, log: Callable[[str], None]) -> _Data:
    train_pairs, val_pairs, test_pairs = split_three(job.pairs, job.train_config)
    if job.train_config.val_fraction == 0:
        val_pairs = train_pairs  # a deliberate choice for tiny data sets: watch the training pairs
    if not train_pairs or not val_pairs:
        raise ValueError(f"need more pairs: {len(train_pairs)} for training, {len(val_pairs)} for validation")
    vocab, config = _vocabulary(job, train_pairs)
    unk = vocab.unk_rate(tokenize(p.reply) for p in train_pairs)
    log(
        f"pairs: {len(train_pairs)} train, {len(val_pairs)} validation, {len(test_pairs)} test; "
        f"vocabulary {len(vocab)}; training UNK rate {unk:.2%}"
    )
    return _Data(train_pairs, val_pairs, test_pairs, vocab, config, unk)


def _vocabulary(job: TrainJob, train_pairs: list[Pair]) -> tuple[Vocabulary, LSTMConfig]:
    """The run's own, kept in the run directory for --resume."""
    vocab_file = job.run_dir / "vocab.json"
    if job.resume and vocab_file.exists():
        vocab = Vocabulary.load(vocab_file)
    else:
        vocab = build_vocab(train_pairs, job.train_config.vocab_size)
        vocab.save(vocab_file)
    return vocab, replace(job.model_config, vocab_size=len(vocab))


def _compile(job: TrainJob, config: LSTMConfig):
    import keras

    cfg = job.train_config
    model = build(config)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate, global_clipnorm=cfg.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    return model


def _start_state(job: TrainJob, model, total_steps: int, log: Callable[[str], None]) -> dict:
    """The loop's counters: fresh, or the latest checkpoint's (weights and optimizer restored into `model`)."""
    cfg = job.train_config
    state = {
        "step": 0,
        "best_val": math.inf,
        "bad_evals": 0,
        "lr": cfg.learning_rate,
        "history": {"train": [], "val": []},
        "seconds": 0.0,
        "tokens": 0,
    }
    if job.resume:
        restored = checkpoint.load(job.run_dir, model)
        if restored:
            state = restored
            log(f"resumed at step {state['step']} of {total_steps}")
    model.optimizer.learning_rate.assign(state["lr"])
    state.setdefault("commands", []).append(job.command)  # provenance: every command that trained it
    best_file = _best_file(job)
    if state["step"] == 0 or not best_file.exists():
        save_best(model, best_file)
    return state


def _train(job: TrainJob, model, schedule: BatchSchedule, val_data, state: dict, total_steps: int) -> None:
    """Steps until the schedule ends or validation stops improving; Ctrl-C/SIGTERM checkpoint and raise Interrupted."""
    cfg = job.train_config
    scalars = Scalars(job.run_dir / "tensorboard")
    progress = Progress(total_steps, state["step"], job.quiet)

    def validate() -> None:
        _validate(model, val_data, state, cfg, _best_file(job), scalars, progress)

    stop = StopFlag()
    started, seconds_before = time.perf_counter(), state["seconds"]
    try:
        while state["step"] < total_steps and state["bad_evals"] < cfg.patience:
            loss, tokens = train_step(model, schedule, state)
            progress.update(loss, tokens)
            if state["step"] % 20 == 0:
                state["history"]["train"].append((state["step"], loss))
                scalars.add("train/loss", loss, state["step"])
            if state["step"] % cfg.eval_every == 0 or state["step"] == total_steps:
                validate()
            state["seconds"] = seconds_before + time.perf_counter() - started
            if state["step"] % cfg.checkpoint_every == 0 or stop.raised:
                checkpoint.save(job.run_dir, model, state)
                if stop.raised:
                    raise Interrupted(f"stopped at step {state['step']}; continue with --resume")
        if not state["history"]["val"] or state["history"]["val"][-1][0] != state["step"]:
            validate()
        checkpoint.save(job.run_dir, model, state)
    finally:
        progress.close()
        scalars.close()
        stop.restore()


def _publish(job: TrainJob, model, data: _Data, state: dict, log: Callable[[str], None]) -> dict:
    """The best weights, scored, written as a complete model directory with its held-out pairs and loss chart."""
    best_file = _best_file(job)
    with np.load(best_file) as best:
        model_dir.assign_weights(model, {k: best[k] for k in best.files}, str(best_file))
    metrics = _final_metrics(model, data, job, state)
    job.out_dir.mkdir(parents=True, exist_ok=True)
    model_dir.save(
        job.out_dir,
        data.config,
        data.vocab,
        model_dir.weights_of(model),
        extra={"train": job.train_config.to_dict(), "command": job.command},
        metrics=metrics,
    )
    if data.test:
        write_tsv(data.test, job.out_dir / "heldout.tsv")
    plot_losses(state["history"], job.out_dir / model_dir.LOSS_CHART_FILE)
    log(json.dumps({k: metrics.get(k) for k in ("val_perplexity", "test_perplexity", "steps", "tokens_per_second")}))
    return metrics


def _best_file(job: TrainJob) -> Path:
    return job.run_dir / "best.weights.npz"


def _validate(model, val_data, state, cfg, best_file, scalars, progress) -> None:
    result = score(model, val_data)
    state["history"]["val"].append((state["step"], result["nll"]))
    scalars.add("val/loss", result["nll"], state["step"])
    scalars.add("val/perplexity", result["perplexity"], state["step"])
    scalars.flush()
    if result["nll"] < state["best_val"] - 1e-4:
        state["best_val"], state["bad_evals"] = result["nll"], 0
        save_best(model, best_file)
    else:
        state["bad_evals"] += 1
        state["lr"] *= cfg.lr_decay  # halve on a plateau, as Luong et al. did
        model.optimizer.learning_rate.assign(state["lr"])
    progress.write(
        f"step {state['step']}: validation perplexity {result['perplexity']:.2f} "
        f"(best {math.exp(min(state['best_val'], 50)):.2f}, lr {state['lr']:.2e})"
    )


def _final_metrics(model, data: _Data, job: TrainJob, state: dict) -> dict:
    val = score(model, data.encode(data.val))
    metrics = {
        "val_perplexity": val["perplexity"],
        "val_token_accuracy": val["token_accuracy"],
        "steps": state["step"],
        "train_pairs": len(data.train),
        "train_unk_rate": data.unk_rate,
        "train_seconds": state["seconds"],
        "tokens_per_second": state["tokens"] / max(state["seconds"], 1e-9),
        "best_val_nll": state["best_val"],
        "command": state["commands"][0] if state["commands"] else job.command,
        "commands": state["commands"],
    }
    if data.test:
        test = score(model, data.encode(data.test))
        metrics.update(
            test_perplexity=test["perplexity"], test_token_accuracy=test["token_accuracy"], test_pairs=len(data.test)
        )
    return metrics


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.baselines.v1.train --preset default --out DIR`: what `python -m seq2seq train --arch
    lstm` did before v1 left the product (the shipped v1 model's metrics.json names that command)."""
    import argparse

    from benchmarks.baselines.v1.presets import PRESETS, preset
    from seq2seq.text import corpus

    parser = argparse.ArgumentParser(prog="python -m benchmarks.baselines.v1.train", description=__doc__)
    parser.add_argument("--preset", default="default", choices=list(PRESETS))
    parser.add_argument("--pairs", type=Path, help="TSV or JSONL pairs (default: the chit-chat corpus)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, help="checkpoints (default runs/<out name>)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    model_cfg, train_cfg = preset(args.preset)
    if args.epochs is not None:
        train_cfg = replace(train_cfg, max_epochs=args.epochs)
    pairs = corpus.read_pairs(args.pairs) if args.pairs else corpus.chitchat_pairs()
    run_dir = args.run_dir or Path("runs") / args.out.name
    command = "python -m benchmarks.baselines.v1.train " + " ".join(argv if argv is not None else sys.argv[1:])
    job = TrainJob(
        pairs[: args.limit], args.out, run_dir, model_cfg, train_cfg, args.resume, args.quiet, args.max_steps, command
    )
    try:
        run(job)
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    print(f"model written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
