"""The single writer: every write runs here, in call order, and calls that arrive together commit together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .engine import is_lock_error, is_not_a_database, not_a_database
from .errors import DatabaseLockedError, NotADatabaseError, StorageClosedError

log = logging.getLogger(__name__)

LOCK_RETRY_MAX_S = 5.0  # while the database stays locked, try again at least this often
CLOSE_GRACE_S = 10.0  # on close, how long held writes wait for a locked database before they are given up

# A handler runs inside one transaction. It gets the items of its group and a list to which it
# appends callbacks that must run only once the transaction has committed (in-memory caches).
Hooks = list[Callable[[], None]]
Handler = Callable[[AsyncConnection, list[Any], Hooks], Awaitable[Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class Backlog:
    """Writes submitted and not yet committed, and since when (wall clock) the database has been locked."""

    waiting: int
    locked_since: float | None = None


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

    A locked database loses nothing: after `lock_retries` quick retries the writer keeps the
    writes in order and tries again until the lock is gone. The backlog is bounded: past
    `max_backlog` waiting writes a new one is refused at once (DatabaseLockedError).
    """

    def __init__(self, engine: AsyncEngine, *, lock_retries: int = 3, max_batch: int = 500, max_backlog: int = 10_000):
        self._engine = engine
        self._retries = lock_retries
        self._max_batch = max_batch
        self._max_backlog = max_backlog
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._closed = False
        self._give_up = False  # set when close() stops waiting for a locked database
        self._waiting = 0
        self._locked_since: float | None = None

    @property
    def backlog(self) -> Backlog:
        return Backlog(self._waiting, self._locked_since)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="banter-storage-writer")

    async def submit(self, handler: Handler, item: Any = None, *, batchable: bool = False) -> Any:
        """Run `handler` on `item` in the writer and return its result once committed."""
        if self._closed:
            raise StorageClosedError("storage is closed")
        if self._waiting >= self._max_backlog:
            raise DatabaseLockedError(
                f"{self._waiting} writes are already waiting{self._locked_for()}: this one was refused"
            )
        job = _Job(handler, item, batchable)
        self._queue.put_nowait(job)
        self._waiting += 1
        try:
            return await job.future
        finally:
            self._waiting -= 1

    async def close(self) -> None:
        """Finish what was submitted, then stop; held writes wait CLOSE_GRACE_S at most for a locked database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_GRACE_S)
        if not self._task.done():
            self._give_up = True
            log.error("the database stayed locked: giving up %d write(s) that were waiting", self._waiting)
            await self._task

    def _locked_for(self) -> str:
        if self._locked_since is None:
            return ""
        return f" for a database locked {time.time() - self._locked_since:.0f} s ago"

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
                    raise not_a_database(self._engine.url, exc) from exc
                if not is_lock_error(exc):
                    raise
                if self._give_up:
                    raise DatabaseLockedError(
                        f"database {self._engine.url.render_as_string(hide_password=True)} stayed locked "
                        "until storage closed; is another process holding a write transaction open?"
                    ) from exc
                attempt += 1
                if attempt > self._retries and self._locked_since is None:
                    self._locked_since = time.time()
                    log.warning(
                        "database %s is locked (another process holding a write transaction?): keeping %d "
                        "write(s) until it is free, retrying every %.0f s at most",
                        self._engine.url.render_as_string(hide_password=True),
                        self._waiting,
                        LOCK_RETRY_MAX_S,
                    )
                elif attempt <= self._retries:
                    log.info("database locked, retrying in %.2fs (attempt %d)", delay, attempt)
                await asyncio.sleep(delay)
                delay = min(delay * 4, LOCK_RETRY_MAX_S)
        if self._locked_since is not None:
            log.warning(
                "database free again after %.0f s: writing the %d write(s) kept meanwhile",
                time.time() - self._locked_since,
                self._waiting,
            )
            self._locked_since = None
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
