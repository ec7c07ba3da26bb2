"""Model v2's presets and the batch shapes they train on: few shapes (a JAX step compiles once per shape), and
never longer than the position table."""

from __future__ import annotations

import numpy as np
import pytest

from seq2seq.model.presets import PRESETS, preset
from seq2seq.text.vocab import EOS_ID, PAD_ID
from seq2seq.train.batching import BatchSchedule, EncodedPairs, eval_batches, pad_batch


def ragged_pairs(count: int, max_source: int, max_target: int, seed: int = 0) -> EncodedPairs:
    rng = np.random.default_rng(seed)
    sources = [rng.integers(5, 100, rng.integers(1, max_source + 1)).astype(np.int32) for _ in range(count)]
    targets = [
        np.append(rng.integers(5, 100, rng.integers(0, max_target + 1)), EOS_ID).astype(np.int32) for _ in range(count)
    ]
    return EncodedPairs(sources, targets)


def test_a_coarser_bucket_gives_fewer_shapes_and_keeps_every_id():
    data = ragged_pairs(2000, max_source=128, max_target=63)
    shapes = {}
    for bucket in (4, 16):
        schedule = BatchSchedule(data, batch_size=32, seed=1, bucket=bucket)
        seen = set()
        for step in range(schedule.steps_per_epoch):
            src, t_in, t_out = schedule.batch(step)
            assert src.shape[1] % bucket == 0 and t_in.shape[1] % bucket == 0 and t_out.shape == t_in.shape
            seen.add((src.shape[1], t_in.shape[1]))
        shapes[bucket] = seen
    assert len(shapes[16]) <= (128 // 16) * (64 // 16) < len(shapes[4])

    # Padding only adds PAD: each row still holds its pair, whatever the bucket.
    batches = list(eval_batches(data, batch_size=500, bucket=16))
    rows = [
        (s[s != PAD_ID].tolist(), t[t != PAD_ID].tolist())
        for src, _, t_out in batches
        for s, t in zip(src, t_out, strict=True)
    ]
    assert sorted(rows) == sorted((s.tolist(), t.tolist()) for s, t in zip(data.sources, data.targets, strict=True))
    assert all(src.shape[1] % 16 == 0 and t_out.shape[1] % 16 == 0 for src, _, t_out in batches)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_padded_batches_never_outgrow_the_position_table(name):
    """Training pads sources and targets (+ EOS) up to the bucket; the final report scores held-out replies of up
    to positions - 1 pieces + EOS. Every such length must stay within the sinusoidal table, or the step fails."""
    model, train = preset(name)
    ids = lambda n: np.full(n, 7, dtype=np.int32)  # noqa: E731
    for target_len in (model.max_target_len + 1, model.positions):
        src, t_in, _ = pad_batch([ids(model.max_source_len)], [ids(target_len)], train.bucket)
        assert src.shape[1] <= model.positions and t_in.shape[1] <= model.positions
