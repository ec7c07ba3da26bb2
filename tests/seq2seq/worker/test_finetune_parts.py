"""The fine-tune process's parts: the one split of the uploaded pairs, by conversation, the training mix, and its
progress events."""

from __future__ import annotations

import json

import pytest

from seq2seq.corpus import Pair, is_held_out
from seq2seq.protocol import FinetuneOptions
from seq2seq.worker.finetune import finetune_mix, progress_events, split_new


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


def test_each_pass_over_the_new_pairs_brings_fresh_replay_pairs():
    new = conversations(20, turns=3)
    mix, replay, schedule = finetune_mix(new, FinetuneOptions(epochs=6.0), 0.75, 0.02)
    assert len(replay) == len(set(replay)) == 60 * 6 * 3  # three replay pairs for each new one, none repeated
    assert all(mix.count(p) == 6 for p in new)  # the new pairs once a pass
    assert len(mix) == 60 * 6 + len(replay)
    assert not [p for p in replay if is_held_out("test:" + p.group, 0.02)]  # never the base's held-out pairs
    # One pass over this mix is the six epochs: as many steps as six passes over new + replay pairs would take.
    assert schedule.epochs == 1.0
    assert finetune_mix(new, FinetuneOptions(epochs=0.5), 0.75, 0.02)[2].epochs == 0.5


def test_passes_with_fresh_replay_pairs_stop_where_the_base_corpus_ends():
    many = conversations(20_000, turns=3)  # 60,000 new pairs want 180,000 replay pairs a pass: more than there are
    mix, replay, schedule = finetune_mix(many, FinetuneOptions(epochs=6.0), 0.75, 0.02)
    assert len(mix) == len(many) + len(replay) and schedule.epochs == 6.0  # one pass, repeated by the schedule
