"""What every training loop shares: the three-way split, one optimizer step, the best weights' copy, Ctrl-C/SIGTERM."""

from __future__ import annotations

import math
import signal
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.text.corpus import Pair, is_held_out
from seq2seq.train.batching import BatchSchedule


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived; a checkpoint was written first."""


def split_three(pairs: list[Pair], cfg) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """train / validation (early stopping) / test (final report only), by conversation; `cfg` has the
    `test_fraction` and `val_fraction` of a training config."""
    test = [p for p in pairs if is_held_out("test:" + p.group, cfg.test_fraction)]
    rest = [p for p in pairs if not is_held_out("test:" + p.group, cfg.test_fraction)]
    val = [p for p in rest if is_held_out("val:" + p.group, cfg.val_fraction)]
    train = [p for p in rest if not is_held_out("val:" + p.group, cfg.val_fraction)]
    return train, val, test


def train_step(model, schedule: BatchSchedule, state: dict, soft_targets=None) -> tuple[float, int]:
    """One batch: (its loss, its target tokens); counts the step. `soft_targets(src, t_in, t_out)`: what the
    model is trained toward instead of the gold ids (a fine-tune's distillation)."""
    src, t_in, t_out = schedule.batch(state["step"])
    target = t_out if soft_targets is None else soft_targets(src, t_in, t_out)
    loss = float(np.asarray(model.train_on_batch((src, t_in), target)))
    if not math.isfinite(loss):
        raise FloatingPointError(f"training loss became {loss} at step {state['step']}; lower --lr")
    tokens = int((t_out != 0).sum())
    state["step"] += 1
    state["tokens"] += tokens
    return loss, tokens


def save_best(model, best_file: Path) -> None:
    """The model's weights as the run's best so far, written atomically."""
    tmp = best_file.with_name("best.tmp.npz")
    np.savez(tmp, **model_dir.weights_of(model))
    tmp.replace(best_file)


class StopFlag:
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
