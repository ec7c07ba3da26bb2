"""bot/core/finetune.py with real storage and the scripted worker: what one fine-tune sends, and what it records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.core.finetune import FineTuner
from bot.storage import IncomingMessage, LearningFilters, RunStatus, Storage, StorageConfig
from bot.worker import WorkerClient

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def line(i: int) -> IncomingMessage:
    """Two people taking turns in one channel, a second apart: every message after the first answers one."""
    return IncomingMessage(
        id=7_000_000 + i,
        guild_id=900_001,
        channel_id=800_010,
        author_id=100 + i % 2,
        content=f"training line {i}",
        created_at=T0 + timedelta(seconds=i),
    )


async def test_one_export_file_goes_to_the_worker_with_the_configured_validation_fraction(fake_worker, tmp_path):
    learning = LearningFilters(validation_fraction=0.35, max_share_per_user=None)
    config = StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'banter.db'}", learning=learning)
    storage = await Storage.open(config=config)
    fake_worker.job_steps = [
        {"state": "succeeded", "outcome": "activated", "version": "ft-1", "progress": {"phase": "done"}}
    ]
    try:
        await storage.update_guild_settings(900_001, learning_channels=[800_010])
        await storage.log_messages([line(i) for i in range(31)])
        async with WorkerClient(fake_worker.url) as worker:
            tuner = FineTuner(storage, worker, interval_hours=0, min_pairs=10, poll_seconds=0.01)
            report = await tuner.run()
        assert report.status == RunStatus.SUCCEEDED, report.error
        assert report.pairs_new == report.pairs_sent == 30
        [(query, body)] = fake_worker.uploads
        # [learning] validation_fraction is the share the worker holds out (its one split, by conversation).
        assert float(query["holdout_fraction"]) == 0.35
        rows = [json.loads(text) for text in body.decode().splitlines()]
        assert sorted(row["reply"] for row in rows) == sorted(f"training line {i}" for i in range(1, 31))
        assert all(row["group"] for row in rows)  # the conversation travels with each pair
        [run] = await storage.training_runs()
        assert run.status == RunStatus.SUCCEEDED and run.pairs_new == 30
    finally:
        await storage.close()
