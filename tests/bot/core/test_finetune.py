"""bot/core/finetune.py with real storage and the scripted worker: what one fine-tune sends and records, and
that only one runs across processes (bot shards) on one database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.finetune import LOCK_NAME, AlreadyRunning, FineTuner
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


DONE = {
    "state": "succeeded",
    "outcome": "activated",
    "version": "ft-1",
    "progress": {"phase": "done"},
    "metrics": {
        "val_perplexity": 60.0,
        "missing_words": {"unk_rate": 0.02, "distinct": 2, "top": [["zorblaxian", 3], ["quuxly", 1]]},
    },
}


@pytest.fixture
async def db_url(tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'banter.db'}"
    store = await Storage.open(url)
    await store.update_guild_settings(900_001, learning_channels=[800_010])
    await store.log_messages([line(i) for i in range(31)])
    await store.close()
    return url


@pytest.fixture
async def open_finetuner(db_url, fake_worker):
    """open_finetuner() -> a FineTuner with a Storage of its own on the database: another process's."""
    opened = []

    async def _open() -> FineTuner:
        storage = await Storage.open(db_url)
        worker = WorkerClient(fake_worker.url, reply_timeout=5, probe_max=0.5)
        await worker.__aenter__()
        opened.append((storage, worker))
        return FineTuner(storage, worker, interval_hours=24, min_pairs=10, poll_seconds=0.05)

    yield _open
    for storage, worker in opened:
        await worker.__aexit__(None, None, None)
        await storage.close()


async def test_a_run_records_figures_but_not_the_words_the_vocabulary_lacked(open_finetuner, fake_worker):
    fake_worker.job_steps = [DONE]
    finetuner = await open_finetuner()
    report = await finetuner.run(7001)
    assert report.status == "succeeded" and report.version == "ft-1"
    [run] = await finetuner.storage.training_runs()
    assert run.metrics["after"]["val_perplexity"] == 60.0
    assert run.metrics["after"]["missing_words"] == {"unk_rate": 0.02, "distinct": 2}
    assert "zorblaxian" not in json.dumps(run.metrics)


async def test_a_fine_tune_in_another_process_keeps_this_one_from_starting(open_finetuner, fake_worker):
    fake_worker.job_steps = [DONE]
    here, there = await open_finetuner(), await open_finetuner()
    async with there.storage.exclusive(LOCK_NAME) as held:  # the other shard is fine-tuning
        assert held and await here.running_anywhere() and not here.running
        with pytest.raises(AlreadyRunning, match="another process"):
            await here.run(7001)
        with pytest.raises(AlreadyRunning, match="another process"):
            await here.run_if_due()
    assert await here.storage.training_runs() == [] and fake_worker.uploads == []
    assert not await here.running_anywhere()
    assert (await here.run(7001)).status == "succeeded"


async def test_the_schedule_checks_again_once_no_other_process_can_be_fine_tuning(open_finetuner, fake_worker):
    fake_worker.job_steps = [DONE]
    here, there = await open_finetuner(), await open_finetuner()
    assert await here.due() and await there.due()  # both shards' schedules see it due...
    assert (await there.run_if_due()).status == "succeeded"  # ...one runs it first
    assert await here.run_if_due() is None
    assert len(await here.storage.training_runs()) == 1 and len(fake_worker.uploads) == 1
