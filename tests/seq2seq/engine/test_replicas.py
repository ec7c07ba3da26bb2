"""An engine with several replicas (the worker's decode threads) cuts each batch among them and answers in order."""

from __future__ import annotations

import threading

import pytest

from seq2seq.engine.decode import Engine
from seq2seq.engine.options import EngineOptions

# Lengths that differ a lot: CTranslate2 sorts a cut batch by length, so an answer out of order would show.
CONVERSATIONS = [
    ["hi"],
    ["what do you do for fun", "i like games"],
    ["x" * 500],
    ["how are you?"],
    ["tell me about your day at work, was it long"],
    ["ok"],
    ["where do you live", "near the sea", "do you like it"],
    ["😂"],
]


def test_a_batch_cut_among_replicas_answers_in_order(random_engine_dir):
    # The random model says much the same to everyone; what it makes of each source shows in the log-probabilities
    # its beam hypotheses are ranked by (scored again, on the replicas as well).
    options = EngineOptions(strategy="beam", anti_lm=0.3, max_len=12)
    one = Engine(random_engine_dir, device="cpu", compute_type="float32")
    two = Engine(random_engine_dir, device="cpu", compute_type="float32", inter_threads=2)
    alone = [one.candidates([c], options)[0] for c in CONVERSATIONS]
    assert len({found[0].log_prob for found in alone}) == len(CONVERSATIONS)  # each source tells itself apart
    cut = two.candidates(CONVERSATIONS, options)
    assert [[c.text for c in found] for found in cut] == [[c.text for c in found] for found in alone]
    for found, expected in zip(cut, alone, strict=True):
        assert [c.log_prob for c in found] == pytest.approx([c.log_prob for c in expected], abs=1e-4)
    assert two.reply_batch(CONVERSATIONS, options) == [found[0].text for found in alone]
    replies = [found[0].text for found in alone]
    assert two.score(CONVERSATIONS, replies) == [pytest.approx(s, abs=1e-4) for s in one.score(CONVERSATIONS, replies)]


def test_both_replicas_decode_one_batch_at_once(random_engine_dir):
    # Greedy search calls back from the thread decoding each slice (the caller's own thread asks before and
    # after). The first call-back waits (at most 30 s) for one from another thread: it comes only if the batch
    # was cut and the slices decode at the same time.
    engine = Engine(random_engine_dir, device="cpu", compute_type="float32", inter_threads=2)
    caller = threading.get_ident()
    threads: set[int] = set()
    second = threading.Event()
    lock = threading.Lock()

    def should_stop() -> bool:
        if threading.get_ident() == caller:
            return False
        with lock:
            first = not threads
            threads.add(threading.get_ident())
            if len(threads) > 1:
                second.set()
        if first:
            second.wait(30)
        return False

    options = EngineOptions(strategy="greedy", min_len=8, max_len=8, anti_lm=0.0)
    replies = engine.reply_batch(CONVERSATIONS, options, should_stop=should_stop)
    assert len(replies) == len(CONVERSATIONS) and all(replies)
    assert second.is_set()
