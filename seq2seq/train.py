"""The training loop: vocabulary, batches, checkpoints, early stopping and the finished model directory."""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seq2seq import checkpoint, model_dir
from seq2seq.batching import BatchSchedule, encode_pairs
from seq2seq.corpus import Pair, is_held_out, write_tsv
from seq2seq.model import build
from seq2seq.model_config import ModelConfig
from seq2seq.presets import TrainConfig
from seq2seq.reporting import Progress, Scalars, plot_losses
from seq2seq.scoring import score
from seq2seq.text import tokenize
from seq2seq.vocab import Vocabulary


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
    import keras

    cfg = job.train_config
    keras.utils.set_random_seed(cfg.seed)
    job.run_dir.mkdir(parents=True, exist_ok=True)
    train_pairs, val_pairs, test_pairs = split_three(job.pairs, cfg)
    if cfg.val_fraction == 0:
        val_pairs = train_pairs  # a deliberate choice for tiny data sets: watch the training pairs
    if not train_pairs or not val_pairs:
        raise ValueError(f"need more pairs: {len(train_pairs)} for training, {len(val_pairs)} for validation")
    log = (lambda *_: None) if job.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    if job.init is not None:
        vocab = job.init.vocab
        mcfg = job.init.config
    else:
        vocab_file = job.run_dir / "vocab.json"
        if job.resume and vocab_file.exists():
            vocab = Vocabulary.load(vocab_file)
        else:
            vocab = build_vocab(train_pairs, cfg.vocab_size)
            vocab.save(vocab_file)
        from dataclasses import replace

        mcfg = replace(job.model_config, vocab_size=len(vocab))
    unk = vocab.unk_rate(tokenize(p.reply) for p in train_pairs)
    log(
        f"pairs: {len(train_pairs)} train, {len(val_pairs)} validation, {len(test_pairs)} test; "
        f"vocabulary {len(vocab)}; training UNK rate {unk:.2%}"
    )

    def enc(ps):
        return encode_pairs(ps, vocab, mcfg.max_source_len, mcfg.max_target_len, mcfg.context_turns)

    train_data, val_data = enc(train_pairs), enc(val_pairs)
    schedule = BatchSchedule(train_data, cfg.batch_size, cfg.seed)
    total_steps = max(1, int(cfg.max_epochs * schedule.steps_per_epoch))
    if job.max_steps is not None:
        total_steps = min(total_steps, job.max_steps)

    model = build(mcfg)
    if job.init is not None:
        model_dir.assign_weights(model, job.init.weights, str(job.init.path / model_dir.WEIGHTS_FILE))
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate, global_clipnorm=cfg.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
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
    best_file = job.run_dir / "best.weights.npz"
    if state["step"] == 0 or not best_file.exists():
        _save_best(model, best_file)

    scalars = Scalars(job.run_dir / "tensorboard")
    progress = Progress(total_steps, state["step"], job.quiet)
    stop = _StopFlag()
    started = time.perf_counter()
    seconds_before = state["seconds"]
    try:
        while state["step"] < total_steps and state["bad_evals"] < cfg.patience:
            src, t_in, t_out = schedule.batch(state["step"])
            loss = float(np.asarray(model.train_on_batch((src, t_in), t_out)))
            if not math.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at step {state['step']}; lower --lr")
            tokens = int((t_out != 0).sum())
            state["step"] += 1
            state["tokens"] += tokens
            progress.update(loss, tokens)
            if state["step"] % 20 == 0:
                state["history"]["train"].append((state["step"], loss))
                scalars.add("train/loss", loss, state["step"])
            if state["step"] % cfg.eval_every == 0 or state["step"] == total_steps:
                _validate(model, val_data, state, cfg, best_file, scalars, progress)
            state["seconds"] = seconds_before + time.perf_counter() - started
            if state["step"] % cfg.checkpoint_every == 0 or stop.raised:
                checkpoint.save(job.run_dir, model, state)
                if stop.raised:
                    raise Interrupted(f"stopped at step {state['step']}; continue with --resume")
        if not state["history"]["val"] or state["history"]["val"][-1][0] != state["step"]:
            _validate(model, val_data, state, cfg, best_file, scalars, progress)
        checkpoint.save(job.run_dir, model, state)
    finally:
        progress.close()
        scalars.close()
        stop.restore()

    with np.load(best_file) as data:
        model_dir.assign_weights(model, {k: data[k] for k in data.files}, str(best_file))
    metrics = _final_metrics(model, enc, val_pairs, test_pairs, job, state, unk, len(train_pairs))
    job.out_dir.mkdir(parents=True, exist_ok=True)
    model_dir.save(
        job.out_dir,
        mcfg,
        vocab,
        model_dir.weights_of(model),
        extra={"train": cfg.to_dict(), "command": job.command},
        metrics=metrics,
    )
    if test_pairs:
        write_tsv(test_pairs, job.out_dir / "heldout.tsv")
    plot_losses(state["history"], job.out_dir / model_dir.LOSS_CHART_FILE)
    log(json.dumps({k: metrics.get(k) for k in ("val_perplexity", "test_perplexity", "steps", "tokens_per_second")}))
    return metrics


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


def _final_metrics(model, enc, val_pairs, test_pairs, job, state, unk, n_train) -> dict:
    val = score(model, enc(val_pairs))
    metrics = {
        "val_perplexity": val["perplexity"],
        "val_token_accuracy": val["token_accuracy"],
        "steps": state["step"],
        "train_pairs": n_train,
        "train_unk_rate": unk,
        "train_seconds": state["seconds"],
        "tokens_per_second": state["tokens"] / max(state["seconds"], 1e-9),
        "best_val_nll": state["best_val"],
        "command": state["commands"][0] if state["commands"] else job.command,
        "commands": state["commands"],
    }
    if test_pairs:
        test = score(model, enc(test_pairs))
        metrics.update(
            test_perplexity=test["perplexity"], test_token_accuracy=test["token_accuracy"], test_pairs=len(test_pairs)
        )
    for name, pairs in job.extra_eval.items():
        if pairs:
            metrics[f"{name}_perplexity"] = score(model, enc(pairs))["perplexity"]
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
