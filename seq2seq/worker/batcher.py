"""Dynamic batching: a bounded queue of reply requests, grouped by decoding options, decoded fairly in a thread."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("banter.worker.batcher")


class QueueFull(Exception):
    """Too many requests waiting: answer 503 at once rather than let the queue grow."""


class DeadlineExceeded(Exception):
    """The request's deadline passed before its reply was ready."""


class NotReady(Exception):
    """No model is loaded."""


@dataclass(frozen=True)
class BatchResult:
    reply: str
    model_version: str
    queue_ms: float
    decode_ms: float
    batch_size: int


@dataclass(eq=False)
class _Item:
    conversation: list[str]
    options: Any
    key: Hashable
    deadline: float
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass(eq=False)
class _Flow:
    """One caller's request of one options key: its items share batches with other callers' in turn."""

    items: deque[_Item]
    served: float  # when it last had an item in a batch (its arrival at first): the longest-waiting goes first


# decode(model, conversations, options, should_stop) -> replies; runs in a worker thread and raises
# (anything) once should_stop() is true: every caller of the batch has left or its deadline has passed.
DecodeFn = Callable[[Any, list[list[str]], Any, Callable[[], bool]], list[str]]


class Batcher:
    """Requests wait at most `batch_timeout_s` for a batch of at most `max_batch_size` with identical options.

    Adaptive like TensorFlow Serving's batcher, with one change: a batch stops waiting as soon as it holds as
    many requests as recent batches did, so a lone client never pays the timeout and a crowd still batches.

    Fair: a batch takes items from every waiting request in turn, the one served longest ago first, and costs at
    most `max_batch_cost` (by `cost(options)`), so one huge request is decoded in slices between everyone else's.
    """

    def __init__(
        self,
        decode: DecodeFn,
        current_model: Callable[[], Any],
        *,
        max_batch_size: int = 64,
        batch_timeout_s: float = 0.002,
        max_queue: int = 256,
        threads: int = 1,
        cost: Callable[[Any], int] = lambda options: 1,
        max_batch_cost: int | None = None,
        metrics=None,
    ):
        self._decode = decode
        self._current_model = current_model  # read once per batch: a swap never splits a batch
        self.max_batch_size = max_batch_size
        self.batch_timeout_s = batch_timeout_s
        self.max_queue = max_queue
        self._cost = cost
        self.max_batch_cost = max_batch_cost
        self._metrics = metrics
        self._pending: dict[Hashable, list[_Flow]] = {}
        self._count = 0
        self._decoding = 0
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(threads)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode")
        self._recent = 1.0  # moving average of batch sizes: how many requests to expect together
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    @property
    def depth(self) -> int:
        return self._count

    @property
    def decoding(self) -> int:
        """Requests in batches being decoded now."""
        return self._decoding

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="batcher")

    async def stop(self) -> None:
        """Let decoding batches finish, fail what still waits, stop the loop."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*self._running, return_exceptions=True)
        for flows in self._pending.values():
            for item in (item for flow in flows for item in flow.items):
                if not item.future.done():
                    item.future.set_exception(NotReady("the worker is shutting down"))
        self._pending.clear()
        self._count = 0
        self._executor.shutdown(wait=False)

    async def submit_many(self, requests: list[tuple[list[str], Any, Hashable]], deadline: float) -> list[BatchResult]:
        """Queue (conversation, options, key) requests together or not at all; await every reply."""
        if self._current_model() is None:
            raise NotReady("no model is loaded yet")
        if self._count + len(requests) > self.max_queue:
            if self._metrics:
                self._metrics.rejected.inc(len(requests))
            raise QueueFull(f"the queue holds {self._count} of {self.max_queue} requests")
        loop = asyncio.get_running_loop()
        items = [_Item(c, o, k, deadline, loop.create_future()) for c, o, k in requests]
        flows: dict[Hashable, _Flow] = {}
        for item in items:
            if item.key not in flows:
                flows[item.key] = _Flow(deque(), item.enqueued)
                self._pending.setdefault(item.key, []).append(flows[item.key])
            flows[item.key].items.append(item)
        self._count += len(items)
        self._set_depth()
        self._wake.set()
        try:
            return list(
                await asyncio.wait_for(asyncio.gather(*(i.future for i in items)), deadline - time.perf_counter())
            )
        except TimeoutError:
            if self._metrics:
                self._metrics.expired.inc(len(items))
            raise DeadlineExceeded("no reply before the request's deadline") from None
        finally:
            for item in items:  # a waiting item whose caller left is skipped by the loop
                if not item.future.done():
                    item.future.cancel()

    async def _loop(self) -> None:
        while True:
            while self._count == 0:
                self._wake.clear()
                await self._wake.wait()
            await self._slots.acquire()  # gather a batch only once a decoder is free: it grows meanwhile
            try:
                items = await self._gather()
            except BaseException:
                self._slots.release()
                raise
            if not items:
                self._slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._run(items))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _gather(self) -> list[_Item]:
        # The options key of the request that has waited longest since it was last served.
        key = min(self._pending, key=lambda k: min(f.served for f in self._pending[k]))
        flows = self._pending[key]
        limit = self._batch_limit(flows[0].items[0].options)
        want = max(1, min(limit, round(self._recent)))
        fill_until = min(f.items[0].enqueued for f in flows) + self.batch_timeout_s
        while sum(len(f.items) for f in flows) < want and (remaining := fill_until - time.perf_counter()) > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                break
        items: list[_Item] = []
        now = time.perf_counter()
        turn = sorted(flows, key=lambda f: f.served)
        while turn and len(items) < limit:  # one item from each request in turn
            for flow in list(turn):
                if len(items) >= limit:
                    break
                if not flow.items:
                    turn.remove(flow)
                    continue
                item = flow.items.popleft()
                self._count -= 1
                if item.future.done():
                    continue  # its caller gave up
                if item.deadline <= now:
                    item.future.set_exception(DeadlineExceeded("the deadline passed while the request was queued"))
                    continue
                flow.served = now
                items.append(item)
        flows[:] = [f for f in flows if f.items]
        if not flows:
            del self._pending[key]
        self._set_depth()
        return items

    def _batch_limit(self, options) -> int:
        if self.max_batch_cost is None:
            return self.max_batch_size
        return max(1, min(self.max_batch_size, self.max_batch_cost // max(1, self._cost(options))))

    async def _run(self, items: list[_Item]) -> None:
        stop = threading.Event()  # set on the loop once no caller of this batch still waits
        waiting = [len(items)]

        def left(_future) -> None:
            waiting[0] -= 1
            if waiting[0] == 0:
                stop.set()

        for item in items:
            item.future.add_done_callback(left)
        latest = max(item.deadline for item in items)

        def should_stop() -> bool:  # asked by the decoding thread between steps
            return stop.is_set() or time.perf_counter() > latest

        self._decoding += len(items)
        try:
            model = self._current_model()
            if model is None:
                raise NotReady("no model is loaded")
            started = time.perf_counter()
            replies = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._decode, model, [i.conversation for i in items], items[0].options, should_stop
            )
            decode_s = time.perf_counter() - started
            self._recent = 0.5 * self._recent + 0.5 * len(items)
            if self._metrics:
                self._metrics.batch_size.observe(len(items))
                self._metrics.decode.observe(decode_s)
            for item, reply in zip(items, replies, strict=True):
                queue_s = started - item.enqueued
                if self._metrics:
                    self._metrics.queue_wait.observe(queue_s)
                if not item.future.done():
                    item.future.set_result(
                        BatchResult(reply, model.version, queue_s * 1000, decode_s * 1000, len(items))
                    )
        except Exception as exc:
            error: Exception = exc
            if should_stop():  # stopped on purpose: nobody waits for these replies any more
                log.info("stopped decoding a batch of %d: its callers left or their deadline passed", len(items))
                if self._metrics:
                    self._metrics.stopped.inc()
                error = DeadlineExceeded("the deadline passed while the request was decoded")
            else:  # a decoding failure fails this batch only
                log.exception("decoding a batch of %d failed", len(items))
            for item in items:
                if not item.future.done():
                    item.future.set_exception(error)
        finally:
            self._decoding -= len(items)
            self._slots.release()

    def _set_depth(self) -> None:
        if self._metrics:
            self._metrics.queue_depth.set(self._count)
