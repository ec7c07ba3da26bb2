"""Whether the worker is up: an outage starts a probe with back-off that brings the bot back by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("banter.worker_health")

FIRST_PROBE_S = 0.5


class WorkerHealth:
    """Up until a request fails; then down (replies are not even tried) until a probe of /readyz succeeds."""

    def __init__(self, probe: Callable[[], Awaitable[object]], *, probe_max: float = 10.0):
        self._probe = probe
        self.probe_max = probe_max
        self.up = True
        self.since = time.time()
        self.last_error: str | None = None
        self.outages = 0
        self._task: asyncio.Task | None = None
        self._changed = asyncio.Event()

    def failed(self, error: str, *, expected: bool = False) -> None:
        """`expected`: a worker that is still starting, not an outage worth a warning."""
        self.last_error = error
        if self.up:
            self.up = False
            self.since = time.time()
            if not expected:
                self.outages += 1
            log.log(
                logging.INFO if expected else logging.WARNING,
                "worker unavailable (%s): resting until it answers again",
                error,
            )
            self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._recover(), name="banter-worker-probe")

    def succeeded(self) -> None:
        if not self.up:
            self.up = True
            self.since = time.time()
            log.info("worker is back")
            self._changed.set()

    async def _recover(self) -> None:
        delay = FIRST_PROBE_S
        while not self.up:
            await asyncio.sleep(delay)
            try:
                await self._probe()
            except Exception as exc:  # any failure: still down; never a tight loop, the delay doubles
                self.last_error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                delay = min(delay * 2, self.probe_max)
            else:
                self.succeeded()

    async def wait_until_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.up:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
