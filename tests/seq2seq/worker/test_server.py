"""The worker over HTTP (a real subprocess): replies, bad input, health, metrics, versions and swaps."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import aiohttp
import pytest

from .conftest import REPO


@pytest.fixture
async def http(served):
    async with aiohttp.ClientSession(base_url=served.url) as session:
        yield session


async def call(http, method, path, **kwargs) -> tuple[int, dict | list]:
    async with http.request(method, path, **kwargs) as response:
        return response.status, json.loads(await response.read())


async def test_reply_one_and_a_batch(http):
    status, body = await call(http, "POST", "/v1/reply", json={"context": ["hi there", "how are you?"]})
    assert status == 200 and body["reply"].strip() and body["model_version"] == "default"
    assert body["latency_ms"] > 0 and body["decode_ms"] > 0 and body["batch_size"] >= 1
    status, body = await call(
        http,
        "POST",
        "/v1/reply",
        json=[{"context": ["a"]}, {"context": ["b"]}, {"context": ["c"], "options": {"strategy": "greedy"}}],
    )
    assert status == 200 and isinstance(body, list) and len(body) == 3 and all(r["reply"] for r in body)


async def test_decoding_options_are_validated(http):
    status, body = await call(
        http, "POST", "/v1/reply", json={"context": ["hi"], "options": {"strategy": "sample", "seed": 1}}
    )
    assert status == 200
    penalties = {"repetition_penalty": 1.3, "content_repeat_penalty": 2.0}
    status, body = await call(http, "POST", "/v1/reply", json={"context": ["hi"], "options": penalties})
    assert status == 200 and body["reply"].strip()
    for options, message in (
        ({"beam_size": 0}, "beam_size"),
        ({"nope": 1}, "unknown decoding options"),
        ({"max_len": "5"}, "max_len must be an integer"),
        ({"repetition_penalty": 0.5}, "repetition_penalty must be between 1 (off) and 3"),
        ({"content_repeat_penalty": -1}, "content_repeat_penalty must be between 0 (off) and 10"),
    ):
        status, body = await call(http, "POST", "/v1/reply", json={"context": ["hi"], "options": options})
        assert status == 400 and message in body["error"]["message"]
    status, body = await call(
        http, "POST", "/v1/reply", json=[{"context": ["a"]}, {"context": ["b"], "options": {"top_p": 0}}]
    )
    assert status == 400 and body["error"]["message"].startswith("request 1:")


@pytest.mark.parametrize(
    "data, status, message",
    [
        (b'{"context": ["hi"', 400, "malformed JSON"),
        (b"", 400, "empty body"),
        (b"\xff\xfe", 400, "malformed JSON"),
        (b'{"context": "hi"}', 400, "non-empty list"),
        (b'{"context": [1, 2]}', 400, "must be a string"),
        (b"[]", 400, "empty list"),
        (b"42", 400, "expected an object"),
        (b'{"context": ["' + b"x" * (2 << 20) + b'"]}', 413, "limit"),
    ],
)
async def test_bad_bodies_get_a_clear_4xx(http, data, status, message):
    got, body = await call(http, "POST", "/v1/reply", data=data, headers={"Content-Type": "application/json"})
    assert got == status and message in body["error"]["message"]


async def test_unknown_routes_and_methods_are_json_errors(http):
    assert (await call(http, "GET", "/v1/reply"))[0] == 405
    status, body = await call(http, "GET", "/nowhere")
    assert status == 404 and body["error"]["status"] == 404


async def test_health_readiness_and_metrics(http):
    assert (await call(http, "GET", "/healthz"))[1]["status"] == "alive"
    status, body = await call(http, "GET", "/readyz")
    # Where replies decode: this machine has no GPU, so auto chose the CPU, where the engine runs int8.
    assert status == 200
    assert body == {"ready": True, "model_version": "default", "device": "cpu", "compute_type": "int8"}
    await call(http, "POST", "/v1/reply", json={"context": ["count me"]})
    async with http.get("/metrics") as response:
        text = await response.text()
        assert response.status == 200 and response.content_type == "text/plain"
    for needle in (
        'banter_worker_requests_total{route="/v1/reply",status="200"}',
        "banter_worker_queue_depth",
        "banter_worker_batch_size_bucket",
        "banter_worker_reply_latency_seconds_bucket",
        'banter_worker_model_active{version="default"} 1.0',
        'banter_worker_jobs{state="running"} 0.0',
    ):
        assert needle in text


async def test_versions_refuse_broken_activate_and_roll_back(http):
    status, body = await call(http, "GET", "/v1/models")
    assert status == 200 and body["active"] == "default"
    assert {v["version"]: v["status"] for v in body["versions"]} == {
        "default": "active",
        "alt": "candidate",
        "broken": "candidate",
    }

    status, body = await call(http, "POST", "/v1/models/broken/activate")
    assert status == 422 and "invalid payload size" in body["error"]["message"]
    assert (await call(http, "GET", "/readyz"))[1]["model_version"] == "default"
    assert (await call(http, "POST", "/v1/reply", json={"context": ["still there?"]}))[0] == 200

    # %2e%2e is normalised to ".." by the URL layer and so never names a version: no route (404).
    for path, want in (
        ("/v1/models/nope/activate", {404}),
        ("/v1/models/a..b/activate", {400}),
        ("/v1/models/..%2F..%2Fetc/activate", {400}),
        ("/v1/models/%2e%2e/activate", {400, 404}),
    ):
        status, body = await call(http, "POST", path)
        assert status in want and body["error"]["message"], path

    try:
        status, body = await call(http, "POST", "/v1/models/alt/activate")
        assert status == 200 and body["active"] == "alt"
        assert (await call(http, "POST", "/v1/reply", json={"context": ["hi"]}))[1]["model_version"] == "alt"
        statuses = {v["version"]: v["status"] for v in (await call(http, "GET", "/v1/models"))[1]["versions"]}
        assert statuses["alt"] == "active" and statuses["default"] == "retired"
    finally:
        status, body = await call(http, "POST", "/v1/models/default/activate")  # the rollback
    assert status == 200 and body["active"] == "default"


async def test_a_versions_loss_chart_is_served_as_png(http, served):
    async with http.get("/v1/models/alt/loss.png") as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert await response.read() == (served.models / "alt" / "loss.png").read_bytes()
    for path, status, message in (
        ("/v1/models/broken/loss.png", 404, "has no loss chart"),
        ("/v1/models/nope/loss.png", 404, "unknown model version"),
        ("/v1/models/a..b/loss.png", 400, "bad version name"),
    ):
        got, body = await call(http, "GET", path)
        assert got == status and message in body["error"]["message"], path


async def test_swaps_under_load_drop_nothing(http):
    seen, failures = set(), []
    stop = asyncio.Event()

    async def client(i):
        while not stop.is_set():
            status, body = await call(http, "POST", "/v1/reply", json={"context": [f"message {i}"]})
            if status == 200:
                seen.add(body["model_version"])
            else:
                failures.append((status, body))

    clients = [asyncio.ensure_future(client(i)) for i in range(8)]
    try:
        await asyncio.sleep(0.3)
        assert (await call(http, "POST", "/v1/models/alt/activate"))[0] == 200
        await asyncio.sleep(0.3)
        assert (await call(http, "POST", "/v1/models/default/activate"))[0] == 200
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*clients)
    assert failures == [] and seen == {"default", "alt"}


async def test_job_routes_reject_bad_input(http, tmp_path):
    pairs = [{"query": f"q{i}", "reply": f"r{i}"} for i in range(3)]
    cases = [
        dict(json={"pairs": pairs}, message="at least 10"),
        dict(json={"pairs": pairs * 5, "options": {"lr": 1}}, message="unknown fine-tune options"),
        dict(json={"pairs": pairs, "path": "/x"}, message="exactly one"),
        dict(json={"pairs": pairs * 5, "options": {"version": "registry.json.tmp"}}, message="reserved"),
        dict(
            data=b"\n".join([b'{"query": "a", "reply": "b"}'] * 12),
            headers={"Content-Type": "application/x-ndjson"},
            params={"version": "registry.json"},
            message="reserved",
        ),
        dict(json={"pairs": [{"query": "x"}] * 10}, message="pairs[0]"),
        dict(
            data=b'{"query": "a", "reply": "b"}\n{oops\n',
            headers={"Content-Type": "application/x-ndjson"},
            message="line 2",
        ),
        dict(
            data=b"\n".join([b'{"query": "a", "reply": "b"}'] * 12),
            headers={"Content-Type": "application/x-ndjson"},
            params={"max_steps": "many"},
            message="max_steps must be an integer",
        ),
    ]
    for case in cases:
        message = case.pop("message")
        status, body = await call(http, "POST", "/v1/jobs/finetune", **case)
        assert status == 400 and message in body["error"]["message"], (message, body)
    for path in ("/etc/passwd", str(tmp_path / "missing.jsonl")):  # this worker has no import folder
        status, body = await call(http, "POST", "/v1/jobs/finetune", json={"path": path})
        assert status == 403 and "import_dir" in body["error"]["message"], body
    assert (await call(http, "GET", "/v1/jobs/nope"))[0] == 404
    assert (await call(http, "DELETE", "/v1/jobs/nope"))[0] == 404
    assert (await call(http, "GET", "/v1/jobs"))[1] == {"jobs": []}


async def test_without_a_usable_model_it_is_alive_but_not_ready(tmp_path, tiny_model_dir, start_worker):
    from .conftest import corrupt_weights, make_models

    root = make_models(tmp_path / "models", tiny_model_dir)
    corrupt_weights(root / "default")
    worker = start_worker(root, ready=False)
    async with aiohttp.ClientSession(base_url=worker.url) as http:
        for _ in range(100):
            try:
                status, health = await call(http, "GET", "/healthz")
                if not health["loading"]:
                    break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        assert status == 200 and health["model_version"] is None
        status, body = await call(http, "GET", "/readyz")
        assert status == 503 and "no usable model" in body["error"]["message"]
        async with http.post("/v1/reply", json={"context": ["hi"]}) as response:
            assert response.status == 503 and response.headers["Retry-After"] == "1"
    assert "invalid payload size" in worker.log()


async def test_a_full_queue_answers_503_at_once(tmp_path, tiny_model_dir, start_worker):
    from .conftest import make_models

    config = tmp_path / "worker.toml"
    config.write_text("[worker]\nmax_queue = 4\nmax_batch_size = 2\n")
    worker = start_worker(make_models(tmp_path / "models", tiny_model_dir), args=("--config", str(config)))
    async with aiohttp.ClientSession(base_url=worker.url) as http:
        async with http.post("/v1/reply", json=[{"context": [f"m{i}"]} for i in range(5)]) as response:
            body = await response.json()
            assert response.status == 503 and response.headers["Retry-After"] == "1"
            assert "queue" in body["error"]["message"]
        status, body = await call(http, "POST", "/v1/reply", json=[{"context": [f"m{i}"]} for i in range(4)])
        assert status == 200 and len(body) == 4 and max(r["batch_size"] for r in body) <= 2
        async with http.get("/metrics") as response:
            assert "banter_worker_rejected_total 5.0" in await response.text()


def test_cuda_without_a_gpu_is_a_clear_error_at_start(tmp_path):
    # CUDA_VISIBLE_DEVICES="" hides any GPU, so this machine has none whatever it is.
    env = {**os.environ, "BANTER_DEVICE": "cuda", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "seq2seq", "serve", "--models", str(tmp_path), "--port", "0"]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "BANTER_DEVICE=cuda, but CTranslate2 sees no CUDA device" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_version_the_gate_rejected_is_activated_only_with_force(tmp_path, tiny_model_dir, start_worker):
    from bot.worker import WorkerClient, WorkerError

    from .conftest import make_models

    root = make_models(tmp_path / "models", tiny_model_dir, "default", "ft-bad")
    gate = {"passed": False, "reasons": ["base held-out perplexity 5e21 is worse than 30.0 by more than 5%"]}
    versions = {"default": {"status": "active"}, "ft-bad": {"status": "rejected", "gate": gate, "parent": "default"}}
    (root / "registry.json").write_text(json.dumps({"format": 1, "active": "default", "versions": versions}))
    worker = start_worker(root)
    async with aiohttp.ClientSession(base_url=worker.url) as http:
        status, body = await call(http, "POST", "/v1/models/ft-bad/activate")
        assert status == 409 and "quality gate" in body["error"]["message"] and "5e21" in body["error"]["message"]
        for bad in ({"force": "yes"}, {"forced": True}, [True]):
            status, body = await call(http, "POST", "/v1/models/ft-bad/activate", json=bad)
            assert status == 400 and "force" in body["error"]["message"]
        assert (await call(http, "GET", "/readyz"))[1]["model_version"] == "default"
    async with WorkerClient(worker.url) as client:
        with pytest.raises(WorkerError, match="quality gate") as refused:
            await client.activate("ft-bad")
        assert refused.value.status == 409
        info = await client.activate("ft-bad", force=True)
        assert info.status == "active" and info.forced
        active, listed = await client.models()
        assert active == "ft-bad" and {v.version: v.forced for v in listed}["ft-bad"] == info.forced
    assert json.loads((root / "registry.json").read_text())["versions"]["ft-bad"]["forced"] == info.forced
    assert "activated with force over the quality gate" in worker.log()
