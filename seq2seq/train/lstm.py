"""The training loop: vocabulary, batches, checkpoints, early stopping and the finished model directory."""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.eval.scoring import score
from seq2seq.model.lstm import build
from seq2seq.model.lstm_config import ModelConfig
from seq2seq.model.lstm_presets import TrainConfig
from seq2seq.text.corpus import Pair, is_held_out, write_tsv
from seq2seq.text.vocab import Vocabulary
from seq2seq.text.words import tokenize
from seq2seq.train import checkpoint
from seq2seq.train.batching import BatchSchedule, encode_pairs
from seq2seq.train.reporting import Progress, Scalars, plot_losses


@dataclass
class TrainJob:
    pairs: list[Pair]
    out_dir: Path
    run_dir: Path
    model_config: ModelConfig
    train_config: TrainConfig
    resume: bool = False
    quiet: bool = False
    max_steps: int | None = None  # stop after this many steps (tests, benchmarks)
    init: model_dir.ModelBundle | None = None  # fine-tune from these weights and this vocabulary
    command: str = ""
    extra_eval: dict[str, list[Pair]] = field(default_factory=dict)  # more held-out sets to report
    on_step: Callable[[int, int, float], None] | None = None  # after every step: (step, total steps, its loss)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived; a checkpoint was written first."""


def split_three(pairs: list[Pair], cfg: TrainConfig) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """train / validation (early stopping) / test (final report only), by conversation."""
    test = [p for p in pairs if is_held_out("test:" + p.group, cfg.test_fraction)]
    rest = [p for p in pairs if not is_held_out("test:" + p.group, cfg.test_fraction)]
    val = [p for p in rest if is_held_out("val:" + p.group, cfg.val_fraction)]
    train = [p for p in rest if not is_held_out("val:" + p.group, cfg.val_fraction)]
    return train, val, test


def build_vocab(pairs: list[Pair], size: int) -> Vocabulary:
    def streams():
        for p in pairs:
            yield tokenize(p.query)
            yield tokenize(p.reply)

    return Vocabulary.build(streams(), size)


def run(job: TrainJob) -> dict:
    """Train (or fine-tune, or resume) and write the model directory; returns its metrics."""
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
    config: ModelConfig
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


def _vocabulary(job: TrainJob, train_pairs: list[Pair]) -> tuple[Vocabulary, ModelConfig]:
    """The base model's when fine-tuning; else the run's own (kept in the run directory for --resume)."""
    if job.init is not None:
        return job.init.vocab, job.init.config
    vocab_file = job.run_dir / "vocab.json"
    if job.resume and vocab_file.exists():
        vocab = Vocabulary.load(vocab_file)
    else:
        vocab = build_vocab(train_pairs, job.train_config.vocab_size)
        vocab.save(vocab_file)
    return vocab, replace(job.model_config, vocab_size=len(vocab))


def _compile(job: TrainJob, config: ModelConfig):
    import keras

    cfg = job.train_config
    model = build(config)
    if job.init is not None:
        model_dir.assign_weights(model, job.init.weights, str(job.init.path / model_dir.WEIGHTS_FILE))
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
        _save_best(model, best_file)
    return state


def _train(job: TrainJob, model, schedule: BatchSchedule, val_data, state: dict, total_steps: int) -> None:
    """Steps until the schedule ends or validation stops improving; Ctrl-C/SIGTERM checkpoint and raise Interrupted."""
    cfg = job.train_config
    scalars = Scalars(job.run_dir / "tensorboard")
    progress = Progress(total_steps, state["step"], job.quiet)

    def validate() -> None:
        _validate(model, val_data, state, cfg, _best_file(job), scalars, progress)

    stop = _StopFlag()
    started, seconds_before = time.perf_counter(), state["seconds"]
    try:
        while state["step"] < total_steps and state["bad_evals"] < cfg.patience:
            loss, tokens = _step(model, schedule, state)
            progress.update(loss, tokens)
            if job.on_step is not None:
                job.on_step(state["step"], total_steps, loss)
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


def _step(model, schedule: BatchSchedule, state: dict) -> tuple[float, int]:
    """One batch: (its loss, its target tokens); counts the step."""
    src, t_in, t_out = schedule.batch(state["step"])
    loss = float(np.asarray(model.train_on_batch((src, t_in), t_out)))
    if not math.isfinite(loss):
        raise FloatingPointError(f"training loss became {loss} at step {state['step']}; lower --lr")
    tokens = int((t_out != 0).sum())
    state["step"] += 1
    state["tokens"] += tokens
    return loss, tokens


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
        _save_best(model, best_file)
    else:
        state["bad_evals"] += 1
        state["lr"] *= cfg.lr_decay  # halve on a plateau, as Luong et al. did
        model.optimizer.learning_rate.assign(state["lr"])
    progress.write(
        f"step {state['step']}: validation perplexity {result['perplexity']:.2f} "
        f"(best {math.exp(min(state['best_val'], 50)):.2f}, lr {state['lr']:.2e})"
    )


def _save_best(model, best_file: Path) -> None:
    tmp = best_file.with_name("best.tmp.npz")
    np.savez(tmp, **model_dir.weights_of(model))
    tmp.replace(best_file)


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
    for name, pairs in job.extra_eval.items():
        if pairs:
            metrics[f"{name}_perplexity"] = score(model, data.encode(pairs))["perplexity"]
    return metrics


class _StopFlag:
    """Turns Ctrl-C / SIGTERM into a clean checkpoint at the end of the current step."""

    def __init__(self):
        self.raised = False
        self._old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: the caller handles signals
                pass

    def _handle(self, signum, frame):
        if self.raised:  # a second Ctrl-C means now
            raise KeyboardInterrupt
        self.raised = True

    def restore(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
