"""Encoded pairs → padded id arrays, in length-bucketed batches whose order is a pure function of the step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seq2seq.text.vocab import BOS_ID, PAD_ID

# Pad lengths to multiples of this, so the compiled train step sees few shapes. JAX/XLA compiles a step for each
# new shape (TensorFlow relaxes its traces instead), so a GPU run under KERAS_BACKEND=jax pads coarser.
BUCKET = 4


@dataclass
class EncodedPairs:
    sources: list[np.ndarray]
    targets: list[np.ndarray]  # each ends with EOS

    def __len__(self) -> int:
        return len(self.sources)


def pad_batch(sources: list[np.ndarray], targets: list[np.ndarray] | None = None, bucket: int = BUCKET):
    """→ (source (B, S), target_in (B, T), target_out (B, T)); target_in starts with BOS."""
    s_len = _round_up(max(len(s) for s in sources), bucket)
    src = np.full((len(sources), s_len), PAD_ID, dtype=np.int32)
    for i, s in enumerate(sources):
        src[i, : len(s)] = s
    if targets is None:
        return src
    return (src, *pad_targets(targets, bucket))


def pad_targets(targets: list[np.ndarray], bucket: int = BUCKET) -> tuple[np.ndarray, np.ndarray]:
    """Teacher forcing: (target_in (B, T) starting with BOS, target_out (B, T) ending with EOS)."""
    t_len = _round_up(max(len(t) for t in targets), bucket)
    t_in = np.full((len(targets), t_len), PAD_ID, dtype=np.int32)
    t_out = np.full((len(targets), t_len), PAD_ID, dtype=np.int32)
    for i, t in enumerate(targets):
        t_in[i, 0] = BOS_ID
        t_in[i, 1 : len(t)] = t[:-1]
        t_out[i, : len(t)] = t
    return t_in, t_out


def _round_up(n: int, bucket: int) -> int:
    return max(bucket, -(-n // bucket) * bucket)


class BatchSchedule:
    """Batch k of epoch e is always the same batch: resuming at a step replays nothing and skips nothing."""

    def __init__(self, data: EncodedPairs, batch_size: int, seed: int, pool: int = 50, bucket: int = BUCKET):
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.pool = pool  # batches sorted together by length: less padding, still shuffled
        self.bucket = bucket
        self.steps_per_epoch = max(1, len(data) // batch_size)
        self._epoch = -1
        self._batches: list[np.ndarray] = []

    def batch(self, step: int):
        epoch, index = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._batches = self._plan(epoch)
            self._epoch = epoch
        rows = self._batches[index]
        return pad_batch([self.data.sources[i] for i in rows], [self.data.targets[i] for i in rows], self.bucket)

    def _plan(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.data))[: self.steps_per_epoch * self.batch_size]
        chunk = self.pool * self.batch_size
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[
                np.argsort([len(self.data.targets[i]) + 0.01 * len(self.data.sources[i]) for i in part], kind="stable")
            ]
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        rng.shuffle(batches)
        return batches


def eval_batches(data: EncodedPairs, batch_size: int, bucket: int = BUCKET):
    """Deterministic batches over every pair, sorted by length to waste little padding."""
    order = np.argsort([len(t) for t in data.targets], kind="stable")
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield pad_batch([data.sources[i] for i in rows], [data.targets[i] for i in rows], bucket)
