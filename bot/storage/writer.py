"""The single writer: every write runs here, in call order, and calls that arrive together commit together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .engine import is_lock_error, is_not_a_database
from .errors import DatabaseLockedError, NotADatabaseError, StorageClosedError

log = logging.getLogger(__name__)

# A handler runs inside one transaction. It gets the items of its group and a list to which it
# appends callbacks that must run only once the transaction has committed (in-memory caches).
Hooks = list[Callable[[], None]]
Handler = Callable[[AsyncConnection, list[Any], Hooks], Awaitable[Sequence[Any]]]


@dataclass(slots=True)
class _Job:
    handler: Handler
    item: Any
    batchable: bool
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Writer:
    """Owns the write connection.

    Why one task: on SQLite only one writer can hold the lock anyway, a delete can never
    overtake the insert it follows, and a burst of messages becomes one transaction (one
    fsync) instead of hundreds. A call returns only after its transaction has committed.
    """

    def __init__(self, engine: AsyncEngine, *, lock_retries: int = 3, max_batch: int = 500):
        self._engine = engine
        self._retries = lock_retries
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._closed = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="banter-storage-writer")

    async def submit(self, handler: Handler, item: Any = None, *, batchable: bool = False) -> Any:
        """Run `handler` on `item` in the writer and return its result once committed."""
        if self._closed:
            raise StorageClosedError("storage is closed")
        job = _Job(handler, item, batchable)
        self._queue.put_nowait(job)
        return await job.future

    async def close(self) -> None:
        """Finish what was submitted, then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        stopping = False
        while not stopping:
            jobs = [await self._queue.get()]
            while len(jobs) < self._max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            if jobs[-1] is None:
                stopping = True
                jobs.pop()
            for group in _groups(jobs):
                await self._run_group(group)

    async def _run_group(self, group: list[_Job]) -> None:
        try:
            results = await self._transaction(group[0].handler, [job.item for job in group])
        except Exception as exc:  # noqa: BLE001 - handed to the callers, never swallowed
            if len(group) > 1 and not isinstance(exc, DatabaseLockedError | NotADatabaseError):
                # One bad item must not fail its neighbours: run them one by one.
                for job in group:
                    await self._run_group([job])
                return
            for job in group:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        for job, result in zip(group, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    async def _transaction(self, handler: Handler, items: list[Any]) -> Sequence[Any]:
        delay = 0.05
        attempt = 0
        while True:
            hooks: Hooks = []
            try:
                async with self._engine.begin() as conn:
                    results = await handler(conn, items, hooks)
                break
            except DBAPIError as exc:
                if is_not_a_database(exc):
                    raise NotADatabaseError(f"{self._engine.url.database} is not a database") from exc
                if not is_lock_error(exc):
                    raise
                if attempt == self._retries:
                    raise DatabaseLockedError(
                        f"database {self._engine.url.render_as_string(hide_password=True)} stayed locked "
                        f"through {attempt + 1} attempts; is another process holding a write "
                        "transaction open?"
                    ) from exc
                attempt += 1
                log.warning("database locked, retrying in %.2fs (attempt %d)", delay, attempt)
                await asyncio.sleep(delay)
                delay *= 4
        for hook in hooks:
            hook()
        return results


def _groups(jobs: list[_Job]) -> list[list[_Job]]:
    """Consecutive batchable jobs with the same handler share a transaction; others run alone."""
    groups: list[list[_Job]] = []
    for job in jobs:
        last = groups[-1] if groups else None
        if last and job.batchable and last[0].batchable and last[0].handler == job.handler:
            last.append(job)
        else:
            groups.append([job])
    return groups
