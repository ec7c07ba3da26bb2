"""The filter on loggers a client can make noisy: one line per record, a few per window, then a count of the rest."""

from __future__ import annotations

import logging

from seq2seq.worker.logs import OneLineRateLimited


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tracebacks_fold_into_one_line_and_floods_are_counted(caplog):
    clock = Clock()
    logger = logging.getLogger("test.noisy")
    logger.addFilter(OneLineRateLimited(per_window=2, window_s=10, clock=clock))
    try:
        with caplog.at_level(logging.WARNING, logger="test.noisy"):
            for i in range(50):
                try:
                    raise ValueError(f"bad\nrequest {i}")
                except ValueError:
                    logger.exception("Error handling request from %s", "10.0.0.1")
            clock.now = 11
            try:
                raise ValueError("again")
            except ValueError:
                logger.exception("Error handling request from %s", "10.0.0.2")
            logger.warning("a different message, %s", "counted apart")
    finally:
        logger.filters.clear()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Error handling request from 10.0.0.1: ValueError: bad request 0",
        "Error handling request from 10.0.0.1: ValueError: bad request 1",
        "Error handling request from 10.0.0.2: ValueError: again (48 more like this were not logged)",
        "a different message, counted apart",
    ]
    assert all(r.exc_info is None for r in caplog.records)
