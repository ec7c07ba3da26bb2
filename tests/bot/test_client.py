"""The Banter bot class itself: the heartbeat the container health check reads."""

from __future__ import annotations

import os
import time


async def test_heartbeat_file_is_touched_while_connected(server, world, fake_worker, start_bot, tmp_path, monkeypatch):
    beat = tmp_path / "heartbeat"
    monkeypatch.setenv("BANTER_HEARTBEAT_FILE", str(beat))
    started = time.time()
    async with start_bot(fake_worker.url) as bot:
        await server.wait_until(beat.exists, timeout=10)
        assert os.path.getmtime(beat) >= started - 1
        assert bot.heartbeat.is_running()
    assert not beat.exists() or os.path.getmtime(beat) <= time.time()
