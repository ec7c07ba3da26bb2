"""Log records a client can cause at will (bad HTTP, refused connections): one line each, a few per minute at most."""

from __future__ import annotations

import logging
import time

from seq2seq.protocol import clip

# aiohttp's server logs a traceback per malformed request; asyncio logs accept() failures (out of file
# descriptors: tens of thousands a second); the connection guard logs each connection it closes.
NOISY_LOGGERS = ("aiohttp.server", "asyncio", "banter.worker.connections")


class OneLineRateLimited(logging.Filter):
    """Folds a record's traceback into its line and lets through at most `per_window` records of each kind
    per `window_s`; the next one let through says how many were dropped. A kind is the logger and the
    exception's type, or else the message template (asyncio formats its messages itself: each one differs)."""

    def __init__(self, per_window: int = 5, window_s: float = 60.0, clock=time.monotonic):
        super().__init__()
        self.per_window, self.window_s, self.clock = per_window, window_s, clock
        self._windows: dict[tuple[str, str], list] = {}  # kind → [start, let through, dropped]; templates are few

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        exc = record.exc_info[1] if record.exc_info else None
        kind = type(exc).__name__ if exc is not None else str(record.msg)[:60]
        window = self._windows.setdefault((record.name, kind), [now, 0, 0])
        if now - window[0] >= self.window_s:
            window[:] = [now, 0, window[2]]
        if window[1] >= self.per_window:
            window[2] += 1
            return False
        window[1] += 1
        line = clip(" ".join(record.getMessage().split()), 300)
        if exc is not None:
            line = f"{line}: {type(exc).__name__}: {clip(' '.join(str(exc).split()), 200)}"
        if window[2]:
            line += f" ({window[2]} more like this were not logged)"
            window[2] = 0
        record.msg, record.args, record.exc_info, record.exc_text, record.stack_info = line, None, None, None, None
        return True


def quiet_noisy_loggers() -> None:
    """Install the filter once on each logger a hostile client can make noisy."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OneLineRateLimited) for f in logger.filters):
            logger.addFilter(OneLineRateLimited())
