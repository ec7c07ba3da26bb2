"""The dynamic batcher with a fake decoder: grouping, limits, adaptive waiting, back-pressure, deadlines, swaps."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import pytest

from seq2seq.worker.batcher import Batcher, DeadlineExceeded, NotReady, QueueFull


@dataclass
class FakeModel:
    version: str


class FakeDecoder:
    """Records every batch; can be held (to fill the queue) or made to fail for one options key."""

    def __init__(self, seconds: float = 0.0):
        self.batches: list[tuple[str, int, str]] = []
        self.seconds = seconds
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, model, conversations, options, should_stop):
        self.started.set()
        self.gate.wait(5)
        if options == "bad":
            raise RuntimeError("decoder exploded")
        time.sleep(self.seconds)
        self.batches.append((model.version, len(conversations), options))
        return [f"{options}:{c[-1]}" for c in conversations]


def make(decoder, model=None, **kwargs) -> tuple[Batcher, dict]:
    holder = {"model": FakeModel("v1") if model is None else model}
    batcher = Batcher(decoder, lambda: holder["model"], **kwargs)
    batcher.start()
    return batcher, holder


def ask(batcher, text, key="beam", timeout=5.0):
    return batcher.submit_many([([text], key, key)], time.perf_counter() + timeout)


async def test_batches_group_by_options_and_respect_the_size_limit():
    decoder = FakeDecoder(seconds=0.02)
    batcher, _ = make(decoder, max_batch_size=4, batch_timeout_s=0.01)
    try:
        jobs = [ask(batcher, f"a{i}", "beam") for i in range(10)] + [ask(batcher, f"g{i}", "greedy") for i in range(3)]
        results = [r[0] for r in await asyncio.gather(*jobs)]
    finally:
        await batcher.stop()
    assert [r.reply for r in results] == [f"beam:a{i}" for i in range(10)] + [f"greedy:g{i}" for i in range(3)]
    assert all(size <= 4 for _, size, _ in decoder.batches)
    assert sum(size for _, size, key in decoder.batches if key == "beam") == 10
    assert sum(size for _, size, key in decoder.batches if key == "greedy") == 3
    assert max(size for _, size, _ in decoder.batches) > 1  # it did batch
    assert all(r.model_version == "v1" and r.decode_ms >= 20 for r in results)


async def test_a_lone_request_does_not_wait_for_the_timeout():
    batcher, _ = make(FakeDecoder(), batch_timeout_s=0.5)
    try:
        started = time.perf_counter()
        (result,) = await ask(batcher, "hi")
        assert time.perf_counter() - started < 0.25 and result.batch_size == 1
    finally:
        await batcher.stop()


async def test_after_a_crowd_it_waits_to_fill_a_batch():
    decoder = FakeDecoder(seconds=0.01)
    batcher, _ = make(decoder, max_batch_size=16, batch_timeout_s=0.3)
    try:
        await asyncio.gather(*(ask(batcher, f"c{i}") for i in range(8)))  # recent batches were large
        decoder.batches.clear()

        async def late(i):
            await asyncio.sleep(0.03 * i)
            return await ask(batcher, f"late{i}")

        await asyncio.gather(*(late(i) for i in range(3)))
    finally:
        await batcher.stop()
    assert decoder.batches[0][1] == 3  # staggered arrivals still made one batch


async def test_a_full_queue_refuses_at_once():
    decoder = FakeDecoder()
    decoder.gate.clear()  # the decoder is stuck on the first batch
    batcher, _ = make(decoder, max_batch_size=2, batch_timeout_s=0.0, max_queue=3)
    try:
        first = asyncio.ensure_future(ask(batcher, "first"))
        await asyncio.to_thread(decoder.started.wait, 2)
        waiting = [asyncio.ensure_future(ask(batcher, f"w{i}")) for i in range(3)]
        await asyncio.sleep(0.01)
        assert batcher.depth == 3
        started = time.perf_counter()
        with pytest.raises(QueueFull):
            await ask(batcher, "one too many")
        assert time.perf_counter() - started < 0.05
        with pytest.raises(QueueFull):  # a batch is queued whole or not at all
            await batcher.submit_many([(["x"], "k", "k")] * 2, time.perf_counter() + 1)
        decoder.gate.set()
        assert len(await asyncio.gather(first, *waiting)) == 4
    finally:
        decoder.gate.set()
        await batcher.stop()


async def test_deadline_passes_and_the_expired_request_is_never_decoded():
    decoder = FakeDecoder()
    decoder.gate.clear()
    batcher, _ = make(decoder, max_batch_size=1, batch_timeout_s=0.0)
    try:
        first = asyncio.ensure_future(ask(batcher, "first"))
        await asyncio.to_thread(decoder.started.wait, 2)
        started = time.perf_counter()
        with pytest.raises(DeadlineExceeded):
            await ask(batcher, "late", timeout=0.1)
        assert 0.08 < time.perf_counter() - started < 0.5
        decoder.gate.set()
        await first
        (after,) = await ask(batcher, "after")
        assert after.reply == "beam:after"
    finally:
        decoder.gate.set()
        await batcher.stop()
    assert sum(n for _, n, _ in decoder.batches) == 2  # "late" was skipped


async def test_a_failing_batch_fails_only_its_requests():
    batcher, _ = make(FakeDecoder(), batch_timeout_s=0.005)
    try:
        bad, good = await asyncio.gather(ask(batcher, "x", "bad"), ask(batcher, "y", "good"), return_exceptions=True)
    finally:
        await batcher.stop()
    assert isinstance(bad, RuntimeError) and good[0].reply == "good:y"


async def test_a_swap_applies_between_batches_never_inside_one():
    decoder = FakeDecoder()
    decoder.gate.clear()
    batcher, holder = make(decoder, batch_timeout_s=0.0)
    try:
        first = asyncio.ensure_future(ask(batcher, "old"))
        await asyncio.to_thread(decoder.started.wait, 2)
        holder["model"] = FakeModel("v2")  # swapped while "old" is being decoded
        decoder.gate.set()
        (old,) = await first
        (new,) = await ask(batcher, "new")
    finally:
        decoder.gate.set()
        await batcher.stop()
    assert (old.model_version, new.model_version) == ("v1", "v2")


async def test_no_model_means_not_ready_and_stop_fails_the_waiting():
    batcher, holder = make(FakeDecoder(), model=None)
    holder["model"] = None
    with pytest.raises(NotReady):
        await ask(batcher, "hi")
    holder["model"] = FakeModel("v1")
    decoder_gate = FakeDecoder()
    await batcher.stop()
    stuck = Batcher(decoder_gate, lambda: FakeModel("v1"), batch_timeout_s=0.0)
    decoder_gate.gate.clear()
    stuck.start()
    first = asyncio.ensure_future(ask(stuck, "a"))
    await asyncio.to_thread(decoder_gate.started.wait, 2)
    second = asyncio.ensure_future(ask(stuck, "b"))
    await asyncio.sleep(0.01)
    decoder_gate.gate.set()
    await stuck.stop()
    assert (await first)[0].reply == "beam:a"  # decoding batches finish
    with pytest.raises(NotReady):
        await second


class SteppingDecoder:
    """Decodes in steps, as the search does, asking should_stop before each; records every batch."""

    def __init__(self, steps: int = 20, step_s: float = 0.005):
        self.steps, self.step_s = steps, step_s
        self.batches: list[list[str]] = []
        self.stopped = threading.Event()

    def __call__(self, model, conversations, options, should_stop):
        slow = any(c[-1] == "slow" for c in conversations)
        for _ in range(10_000 if slow else self.steps):  # "slow" takes ten seconds unless stopped
            if should_stop():
                self.stopped.set()
                raise RuntimeError("stopped")
            time.sleep(self.step_s)
        self.batches.append([c[-1] for c in conversations])
        return [c[-1] for c in conversations]


async def test_a_big_request_shares_batches_with_later_ones_in_turn():
    decoder = SteppingDecoder()
    batcher, _ = make(decoder, max_batch_size=4, batch_timeout_s=0.0)
    try:
        big = asyncio.ensure_future(
            batcher.submit_many([([f"big{i}"], "k", "k") for i in range(40)], time.perf_counter() + 30)
        )
        while not decoder.batches:  # the big one has started
            await asyncio.sleep(0.001)
        small = await ask(batcher, "small", "k", timeout=30)
        assert not big.done()  # served between the big request's slices, not after all of them
        assert small[0].reply == "small" and len(await big) == 40
    finally:
        await batcher.stop()
    mixed = next(b for b in decoder.batches if "small" in b)
    assert any(name.startswith("big") for name in mixed)  # it shared a batch in turn with the big request


async def test_batches_are_capped_by_cost():
    decoder = SteppingDecoder(steps=1)
    batcher, _ = make(decoder, max_batch_size=64, batch_timeout_s=0.0, cost=len, max_batch_cost=12)
    try:  # the options key is the "cost" here: "xxxx" costs 4 per item, so 3 items per batch
        await batcher.submit_many([([f"m{i}"], "xxxx", "xxxx") for i in range(7)], time.perf_counter() + 5)
        await batcher.submit_many([([f"h{i}"], "x" * 50, "x" * 50) for i in range(2)], time.perf_counter() + 5)
    finally:
        await batcher.stop()
    assert [len(b) for b in decoder.batches] == [3, 3, 1, 1, 1]  # over the cap alone: one item per batch


async def test_decoding_stops_between_steps_once_the_deadline_passes():
    decoder = SteppingDecoder(step_s=0.001)
    batcher, _ = make(decoder, batch_timeout_s=0.0)
    try:
        with pytest.raises(DeadlineExceeded):
            await ask(batcher, "slow", timeout=0.2)
        assert await asyncio.to_thread(decoder.stopped.wait, 5)
        (after,) = await ask(batcher, "after", timeout=5)  # the decoder is free again
        assert after.reply == "after"
    finally:
        await batcher.stop()
