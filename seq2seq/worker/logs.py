"""Log records a client can cause at will (bad HTTP, refused connections): one line each, a few per minute at most."""

from __future__ import annotations

import logging
import time

from seq2seq.protocol import clip

# aiohttp's server logs a traceback per malformed request; asyncio logs accept() failures (out of file descriptors).
NOISY_LOGGERS = ("aiohttp.server", "asyncio")


class OneLineRateLimited(logging.Filter):
    """Folds a record's traceback into its line and lets through at most `per_window` records of each kind
    (logger and message template) per `window_s`; the next one let through says how many were dropped."""

    def __init__(self, per_window: int = 5, window_s: float = 60.0, clock=time.monotonic):
        super().__init__()
        self.per_window, self.window_s, self.clock = per_window, window_s, clock
        self._windows: dict[tuple[str, str], list] = {}  # kind → [start, let through, dropped]; templates are few

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        window = self._windows.setdefault((record.name, str(record.msg)), [now, 0, 0])
        if now - window[0] >= self.window_s:
            window[:] = [now, 0, window[2]]
        if window[1] >= self.per_window:
            window[2] += 1
            return False
        window[1] += 1
        line = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
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
