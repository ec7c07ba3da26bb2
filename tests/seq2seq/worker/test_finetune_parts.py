"""The fine-tune process's parts: the one split of the uploaded pairs, by conversation, and its progress events."""

from __future__ import annotations

import json

import pytest

from seq2seq.text.corpus import Pair
from seq2seq.worker.finetune import progress_events, split_new


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
