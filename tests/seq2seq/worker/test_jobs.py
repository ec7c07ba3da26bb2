"""Fine-tuning jobs through a real worker: success with the gate, one at a time, kill -9 and cancel change nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import aiohttp
import pytest

from tests.worker_process import environment_of

from .conftest import make_models, running

QUESTIONS = [
    "do you like pizza",
    "what is your favourite game",
    "are you a bot",
    "good morning",
    "good night",
    "what's up",
    "who made you",
    "do you play chess",
    "tell me a joke",
    "how old are you",
]
ANSWERS = [
    "pizza is the best food ever",
    "i love playing minecraft with friends",
    "yes i am banter the bot",
    "good morning to you too",
    "sleep well friend",
    "not much just chilling",
    "the banter team made me",
    "chess is fun but hard",
    "why did the chicken cross the road",
    "i am a few days old",
]
PAIRS = [
    {"query": q + ("?" if k % 2 else ""), "reply": a} for k in range(4) for q, a in zip(QUESTIONS, ANSWERS, strict=True)
]
LONG = {"max_steps": 400, "epochs": 50}  # long enough to be caught mid-training


# Started the way Docker Compose starts it, with every secret of the deployment in its environment.
SECRETS = {
    "BANTER_WORKER_TOKEN": "worker-secret-0123456789",
    "DISCORD_TOKEN": "discord-secret-0123456789",
    "BANTER_DATABASE_URL": "postgresql+asyncpg://banter:db-secret-0123456789@db/banter",
}
AUTH = {"Authorization": f"Bearer {SECRETS['BANTER_WORKER_TOKEN']}"}


@pytest.fixture(scope="module")
def job_worker(tiny_model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("jobs")
    with running(
        make_models(base / "models", tiny_model_dir), base / "worker.log", env=SECRETS, headers=AUTH
    ) as worker:
        yield worker


@pytest.fixture
async def http(job_worker):
    async with aiohttp.ClientSession(base_url=job_worker.url, headers=AUTH) as session:
        yield session


async def call(http, method, path, **kwargs):
    async with http.request(method, path, **kwargs) as response:
        return response.status, json.loads(await response.read())


async def wait_job(http, job_id, until, timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = await call(http, "GET", f"/v1/jobs/{job_id}")
        assert status == 200
        if until(job):
            return job
        await asyncio.sleep(0.2)
    raise TimeoutError(f"job {job_id} never reached the condition: {job}")


def version_dirs(worker) -> list[str]:
    return sorted(p.name for p in worker.models.iterdir() if p.is_dir() and p.name != ".jobs")


def raw_text_left(worker, job_id: str) -> list[str]:
    """The job's input file, its checkpoints, and any file under models/ holding a reply it was taught."""
    job_dir = worker.models / ".jobs" / job_id
    left = [p.name for p in (job_dir / "pairs.jsonl", job_dir / "run") if p.exists()]
    taught = [a for a in ANSWERS if a not in (worker.models / "default" / "heldout.tsv").read_text()]
    for file in worker.models.rglob("*"):
        if file.is_file() and file.suffix in (".json", ".jsonl", ".tsv", ".log", ""):
            text = file.read_text(errors="replace")
            left += [f"{file.relative_to(worker.models)}: {a!r}" for a in taught if a in text]
    return left


async def start_and_catch_training(http, options) -> dict:
    status, job = await call(http, "POST", "/v1/jobs/finetune", json={"pairs": PAIRS, "options": options})
    assert status == 202 and job["state"] == "running" and job["pid"]
    return await wait_job(
        http, job["id"], lambda j: j["progress"].get("phase") == "training" or j["state"] != "running"
    )


async def test_killing_the_training_process_fails_the_job_and_changes_nothing(http, job_worker):
    before = await call(http, "GET", "/v1/models")
    job = await start_and_catch_training(http, LONG)
    assert job["state"] == "running", job
    # Issue 12, item 15: the training process inherited every secret of the worker (DISCORD_TOKEN included).
    assert environment_of(job_worker.proc.pid).keys() >= SECRETS.keys()
    assert environment_of(job["pid"]).keys() & SECRETS.keys() == set()
    os.kill(job["pid"], signal.SIGKILL)
    job = await wait_job(http, job["id"], lambda j: j["state"] != "running", timeout=20)
    assert job["state"] == "failed" and "SIGKILL" in job["error"] and job["pid"] is None
    assert await call(http, "GET", "/v1/models") == before
    assert version_dirs(job_worker) == ["default"]  # no new version, no leftover temp directory
    assert raw_text_left(job_worker, job["id"]) == []


async def test_cancel_stops_the_job(http, job_worker):
    status, job = await call(http, "POST", "/v1/jobs/finetune", json={"pairs": PAIRS, "options": LONG})
    assert status == 202 and job["state"] == "running"
    started = time.monotonic()
    status, job = await call(http, "DELETE", f"/v1/jobs/{job['id']}")
    assert status == 200 and job["state"] == "cancelled" and time.monotonic() - started < 15
    assert (await call(http, "GET", "/v1/models"))[1]["active"] == "default"
    assert version_dirs(job_worker) == ["default"]
    assert raw_text_left(job_worker, job["id"]) == []
    assert (await call(http, "DELETE", f"/v1/jobs/{job['id']}"))[1]["state"] == "cancelled"  # idempotent


async def test_a_job_trains_gates_and_publishes_one_at_a_time(http, job_worker):
    body = "\n".join(json.dumps(p) for p in PAIRS).encode()
    status, job = await call(
        http,
        "POST",
        "/v1/jobs/finetune",
        data=body,
        params={"max_steps": "6", "epochs": "3"},
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert status == 202 and job["pairs"] == len(PAIRS) and job["base_version"] == "default"
    status, second = await call(http, "POST", "/v1/jobs/finetune", json={"pairs": PAIRS})
    assert status == 409 and "one job at a time" in second["error"]["message"]

    job = await wait_job(http, job["id"], lambda j: j["state"] != "running")
    assert job["state"] == "succeeded", job
    gate, version = job["gate"], job["version"]
    assert gate["base_set"] == "heldout.tsv" and gate["base_pairs"] > 0 and gate["new_pairs"] > 0
    assert gate["passed"] == (
        gate["base_after"] <= gate["base_before"] * 1.05 and gate["new_after"] < gate["new_before"]
    )
    assert job["outcome"] == ("activated" if gate["passed"] else "rejected")
    assert job["device"].startswith(("CPU", "GPU")) and job["progress"]["phase"] == "done"
    assert job["metrics"]["replay_pairs"] > 0 and job["metrics"]["new_heldout_pairs"] > 0

    models = (await call(http, "GET", "/v1/models"))[1]
    entry = next(v for v in models["versions"] if v["version"] == version)
    assert entry["status"] == ("active" if gate["passed"] else "rejected") and entry["parent"] == "default"
    assert entry["metrics"]["gate"]["passed"] == gate["passed"]
    assert models["active"] == (version if gate["passed"] else "default")
    for name in ("config.json", "vocab.json", "weights.npz", "metrics.json", "heldout.tsv"):
        assert (job_worker.models / version / name).exists(), name
    # Forget-me cannot reach the worker: once the job ends it keeps figures, never the people's text.
    assert not (job_worker.models / version / "heldout_new.tsv").exists()
    assert raw_text_left(job_worker, job["id"]) == []
    assert set(job["metrics"]["missing_words"]) == {"unk_rate", "distinct"}
    assert version_dirs(job_worker) == sorted(["default", version])
    on_disk = json.loads((job_worker.models / "registry.json").read_text())
    assert on_disk["active"] == models["active"] and on_disk["versions"][version]["job"] == job["id"]

    status, body = await call(http, "POST", "/v1/models/default/activate")  # roll back either way
    assert status == 200 and body["active"] == "default"
    status, listed = await call(http, "GET", "/v1/jobs")
    assert [j["state"] for j in listed["jobs"]][:1] == ["succeeded"]
