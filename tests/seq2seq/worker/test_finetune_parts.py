"""The fine-tune process's parts: the split of the uploaded pairs, the mix of new and replayed pairs, the schedule,
its progress events."""

from __future__ import annotations

import json

import pytest

from seq2seq.model.presets import TransformerTrainConfig
from seq2seq.protocol import FinetuneOptions
from seq2seq.text.corpus import Pair, is_held_out
from seq2seq.worker.finetune import (
    passes,
    progress_events,
    replay_sample,
    server_tagged,
    split_new,
    train_settings,
)


def conversations(n: int, turns: int = 5) -> list[Pair]:
    return [Pair(f"c{c} query {t}", f"c{c} reply {t}", group=str(c)) for c in range(n) for t in range(turns)]


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5])
def test_whole_conversations_are_held_out_at_about_the_configured_fraction(fraction):
    pairs = conversations(400)
    train, held = split_new(pairs, fraction)
    assert sorted(train + held, key=pairs.index) == pairs  # nothing lost, nothing twice
    train_groups, held_groups = {p.group for p in train}, {p.group for p in held}
    assert not train_groups & held_groups  # no held-out reply was ever a training query
    assert abs(len(held_groups) / 400 - fraction) < 0.05
    assert split_new(pairs, fraction) == (train, held)  # the same upload, the same split


def test_more_held_out_with_a_larger_fraction():
    pairs = conversations(200)
    assert len(split_new(pairs, 0.1)[1]) < len(split_new(pairs, 0.4)[1])


def test_a_tiny_upload_still_has_pairs_on_both_sides():
    train, held = split_new(conversations(1, turns=10), 0.2)  # one conversation: cannot be split by it
    assert len(held) == 2 and len(train) == 8


def test_progress_events_are_throttled_but_the_last_step_always_reported(capsys):
    on_step = progress_events(min_interval_s=3600)
    for step in range(1, 6):
        on_step(step, 5, 2.0 / step)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events == [
        {"event": "progress", "phase": "training", "step": 1, "total": 5, "loss": 2.0},
        {"event": "progress", "phase": "training", "step": 5, "total": 5, "loss": 0.4},
    ]


def test_the_new_pairs_come_epochs_times_over_with_a_seeded_share_for_a_fractional_epoch():
    pairs = conversations(20)  # 100 pairs
    assert passes(pairs, 3.0, seed=1) == pairs * 3
    more = passes(pairs, 2.5, seed=1)
    assert len(more) == 250 and more[:200] == pairs * 2 and len(set(more[200:])) == 50
    assert set(more[200:]) <= set(pairs)
    assert passes(pairs, 2.5, seed=1) == more  # the same job, the same mix


def test_replayed_base_pairs_are_all_distinct_until_the_corpus_runs_out():
    replay = replay_sample(3000, base_test_fraction=0.02, seed=7)
    assert len(replay) == 3000 and len(set(replay)) == 3000  # a pair seen once, not once an epoch
    assert replay_sample(3000, base_test_fraction=0.02, seed=7) == replay
    assert not [p for p in replay if is_held_out("test:" + p.group, 0.02)]  # never the base's held-out conversations


def test_every_new_pair_carries_the_server_tag_and_no_replayed_pair_does():
    new, replay = conversations(20), replay_sample(2000, base_test_fraction=0.02, seed=7)
    mix = server_tagged(new, replay)
    assert [p.query for p in mix] == [p.query for p in new + replay]  # the same pairs, in order
    assert all(p.server for p in mix[: len(new)])
    assert not any(p.server for p in mix[len(new) :])


def test_a_fine_tune_schedule_is_one_pass_over_its_mix_keeping_the_last_weights():
    base = TransformerTrainConfig(batch_size=64, learning_rate=1e-3, eval_every=500, checkpoint_every=250)
    cfg = train_settings(base, FinetuneOptions(epochs=6.0), mix_size=6400)
    assert cfg.max_steps == 100  # the epochs are in the mix already
    assert cfg.eval_every == cfg.checkpoint_every == 16  # once for each of the new pairs' epochs
    assert cfg.learning_rate == 5e-4 and cfg.warmup_steps == 5
    assert not cfg.keep_best  # the gate judges the last weights: validation here is mostly replayed base pairs
    assert train_settings(base, FinetuneOptions(full=True), mix_size=6400).keep_best
