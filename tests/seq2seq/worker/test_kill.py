"""kill -9 of the worker: clients get prompt errors, a running training process dies with it, a restart serves."""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request

from bot.worker import WorkerClient, WorkerUnavailable
from seq2seq.protocol import FinetuneOptions

from .conftest import make_models
from .test_jobs import PAIRS


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split(") ")[-1][0] != "Z"


async def test_kill_9_under_load_gives_prompt_errors_then_a_restart_serves(tmp_path, tiny_model_dir, start_worker):
    root = make_models(tmp_path / "models", tiny_model_dir)
    worker = start_worker(root)
    outcomes: list[tuple[str, float]] = []
    killed_at = None

    async def client_loop(client):
        while killed_at is None or time.perf_counter() - killed_at < 0.5:
            started = time.perf_counter()
            try:
                await client.reply(["are you still there?"])
                outcomes.append(("ok", time.perf_counter() - started))
            except WorkerUnavailable:
                outcomes.append(("unavailable", time.perf_counter() - started))
                await asyncio.sleep(0.01)

    async with WorkerClient(worker.url, reply_timeout=10) as client:
        loops = [asyncio.ensure_future(client_loop(client)) for _ in range(16)]
        deadline = time.perf_counter() + 15
        while sum(kind == "ok" for kind, _ in outcomes) < 3 and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)  # under load: kill only once it is really serving
        worker.proc.kill()  # SIGKILL
        killed_at = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*loops), timeout=5)  # no client hangs
    oks = [t for kind, t in outcomes if kind == "ok"]
    errors = [t for kind, t in outcomes if kind == "unavailable"]
    assert oks and errors and max(errors) < 1.0

    again = start_worker(root, port=worker.port)  # same address, as a supervisor would restart it
    async with WorkerClient(again.url) as client:
        assert (await client.reply(["back?"])).model_version == "default"


async def test_training_dies_with_a_killed_worker_and_the_job_is_failed_after_restart(
    tmp_path, tiny_model_dir, start_worker
):
    root = make_models(tmp_path / "models", tiny_model_dir)
    worker = start_worker(root)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    async with WorkerClient(worker.url) as client:
        job_id = (await client.start_finetune(pairs, FinetuneOptions(max_steps=400, epochs=50))).id
        pid = (await client.job(job_id)).pid
    assert pid and alive(pid)
    job_dir = root / ".jobs" / job_id
    deadline = time.monotonic() + 120
    while not (job_dir / "run" / "latest").exists():  # a checkpoint is on disk: there is something to clean up
        assert time.monotonic() < deadline and alive(pid), "no checkpoint was written"
        await asyncio.sleep(0.2)
    assert (job_dir / "pairs.jsonl").exists()
    worker.proc.kill()
    worker.proc.wait()
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not alive(pid), "the training process outlived its worker"

    again = start_worker(root, port=worker.port)
    async with WorkerClient(again.url) as client:
        job = await client.job(job_id)
        assert job.state == "failed" and "stopped" in job.error
        active, versions = await client.models()
        assert active == "default" and [v.version for v in versions] == ["default"]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [".jobs", "default"]  # the temp dir was cleaned
    # Checkpoints and the people's pairs are gone; the record and the training log stay.
    assert sorted(p.name for p in job_dir.iterdir()) == ["job.json", "train.log"]
    with urllib.request.urlopen(again.url + "/metrics") as response:
        assert 'banter_worker_jobs{state="failed"} 1.0' in response.read().decode()
    assert json.loads((root / "registry.json").read_text())["active"] == "default"
