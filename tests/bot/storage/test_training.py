"""bot/storage/training.py through Storage: runs and pair counts (model versions are the worker's registry)."""

import pytest

from bot.storage import RunStatus

ADMIN = 5001


async def test_a_run_records_status_metrics_and_who_started_it(storage):
    run_id = await storage.start_training_run(triggered_by=ADMIN)
    run = await storage.get_training_run(run_id)
    assert run.status == RunStatus.RUNNING and run.triggered_by == ADMIN and run.finished_at is None
    await storage.finish_training_run(run_id, "succeeded", metrics={"val_perplexity": 64.6})
    run = await storage.get_training_run(run_id)
    assert run.status == RunStatus.SUCCEEDED and run.metrics == {"val_perplexity": 64.6}
    assert run.finished_at >= run.started_at
    entry = (await storage.audit_log())[0]
    assert entry.action == "training.start" and entry.actor_id == ADMIN


async def test_finishing_needs_a_final_status_and_a_real_run(storage):
    run_id = await storage.start_training_run()
    with pytest.raises(ValueError):
        await storage.finish_training_run(run_id, RunStatus.RUNNING)
    with pytest.raises(KeyError):
        await storage.finish_training_run(run_id + 100, RunStatus.FAILED, error="boom")
    await storage.finish_training_run(run_id, RunStatus.FAILED, error="out of memory")
    assert (await storage.training_runs())[0].error == "out of memory"


async def test_pair_counts_since_the_last_successful_run(storage, msg, tmp_path):
    await storage.log_messages([msg(i, 100 + i % 2, f"turn {i}", i) for i in range(1, 6)])
    assert (await storage.pair_counts()).since_last_run == 4

    failed = await storage.start_training_run()
    await storage.export_training_pairs(tmp_path / "a", run_id=failed)
    await storage.finish_training_run(failed, RunStatus.FAILED)
    assert (await storage.pair_counts()).since_last_run == 4  # a failed run taught nothing

    ok = await storage.start_training_run()
    counts = await storage.export_training_pairs(tmp_path / "b", run_id=ok)
    await storage.log_message(msg(6, 100, "turn 6", 6))  # arrives while training
    await storage.finish_training_run(ok, RunStatus.SUCCEEDED)
    run = await storage.get_training_run(ok)
    assert run.pair_watermark == counts.watermark and run.pairs_new == 4
    assert await storage.pair_counts() == type(await storage.pair_counts())(total=5, since_last_run=1)
    assert (await storage.pair_counts(guild_id=424242)).total == 0
