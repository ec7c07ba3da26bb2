"""Dynamic batching: a bounded queue of reply requests, grouped by decoding options, decoded in a thread."""

from __future__ import annotations

import asyncio
import logging
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


# decode(model, conversations, options) -> replies; runs in a worker thread.
DecodeFn = Callable[[Any, list[list[str]], Any], list[str]]


class Batcher:
    """Requests wait at most `batch_timeout_s` for a batch of at most `max_batch_size` with identical options.

    Adaptive like TensorFlow Serving's batcher, with one change: a batch stops waiting as soon as it holds as
    many requests as recent batches did, so a lone client never pays the timeout and a crowd still batches.
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
        metrics=None,
    ):
        self._decode = decode
        self._current_model = current_model  # read once per batch: a swap never splits a batch
        self.max_batch_size = max_batch_size
        self.batch_timeout_s = batch_timeout_s
        self.max_queue = max_queue
        self._metrics = metrics
        self._pending: dict[Hashable, deque[_Item]] = {}
        self._count = 0
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(threads)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode")
        self._recent = 1.0  # moving average of batch sizes: how many requests to expect together
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    @property
    def depth(self) -> int:
        return self._count

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="batcher")

    async def stop(self) -> None:
        """Let decoding batches finish, fail what still waits, stop the loop."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*self._running, return_exceptions=True)
        for queue in self._pending.values():
            for item in queue:
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
        for item in items:
            self._pending.setdefault(item.key, deque()).append(item)
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
        key = min(self._pending, key=lambda k: self._pending[k][0].enqueued)  # oldest request first
        queue = self._pending[key]
        want = max(1, min(self.max_batch_size, round(self._recent)))
        fill_until = queue[0].enqueued + self.batch_timeout_s
        while len(queue) < want and (remaining := fill_until - time.perf_counter()) > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                break
        items: list[_Item] = []
        now = time.perf_counter()
        while queue and len(items) < self.max_batch_size:
            item = queue.popleft()
            self._count -= 1
            if item.future.done():
                continue  # its caller gave up
            if item.deadline <= now:
                item.future.set_exception(DeadlineExceeded("the deadline passed while the request was queued"))
                continue
            items.append(item)
        if not queue:
            del self._pending[key]
        self._set_depth()
        return items

    async def _run(self, items: list[_Item]) -> None:
        try:
            model = self._current_model()
            if model is None:
                raise NotReady("no model is loaded")
            started = time.perf_counter()
            replies = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._decode, model, [i.conversation for i in items], items[0].options
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
        except Exception as exc:  # a decoding failure fails this batch only
            log.exception("decoding a batch of %d failed", len(items))
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)
        finally:
            self._slots.release()

    def _set_depth(self) -> None:
        if self._metrics:
            self._metrics.queue_depth.set(self._count)
