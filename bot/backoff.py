"""The wait before another try, for whatever the bot retries (logging in to Discord, opening a locked database)."""

from __future__ import annotations


class Backoff:
    """Waits before another try: `first`, then doubling up to `ceiling` seconds; `reset()` starts over."""

    def __init__(self, first: float = 1.0, ceiling: float = 60.0):
        self.first, self.ceiling = first, ceiling
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.ceiling)
        return delay

    def reset(self) -> None:
        self._next = self.first
