"""The bot's WorkerClient against a real worker, a dead address and a stub server that misbehaves."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web

from bot.worker import WorkerClient, WorkerError, WorkerUnavailable
from bot.worker.process import free_port
from seq2seq.protocol import FinetuneOptions
from tests.worker_process import make_versions, running


@pytest.fixture(scope="module")
def served(tiny_model_dir, tmp_path_factory):
    """One worker for this module over models default, alt (a copy) and broken (NaN weights)."""
    base = tmp_path_factory.mktemp("client")
    with running(make_versions(base / "models", tiny_model_dir), base / "worker.log") as worker:
        yield worker


async def test_the_client_api_against_a_worker(served, tmp_path):
    async with WorkerClient(served.url, reply_timeout=10) as client:
        assert await client.check() and client.health.up
        result = await client.reply(["hello", "how are you?"])
        assert result.reply and result.model_version == "default" and result.latency_ms > 0
        assert (await client.healthz())["model_version"] == "default"
        active, versions = await client.models()
        assert active == "default" and {m.version for m in versions} == {"default", "alt", "broken"}
        assert (await client.activate("alt")).status == "active"
        assert (await client.reply(["hi"])).model_version == "alt"
        assert (await client.activate("default")).status == "active"
        with pytest.raises(WorkerError) as error:
            await client.activate("broken")
        assert error.value.status == 422 and "NaN" in error.value.message
        assert not isinstance(error.value, WorkerUnavailable)  # a mistake, not an outage
        with pytest.raises(WorkerError) as error:
            await client.activate("nope")
        assert error.value.status == 404
        few = tmp_path / "few.jsonl"
        few.write_text("".join(json.dumps({"query": "q", "reply": f"r{i}"}) + "\n" for i in range(3)))
        with pytest.raises(WorkerError, match="at least 10") as error:
            await client.start_finetune(few, FinetuneOptions())
        assert error.value.status == 400
        with pytest.raises(WorkerError) as error:
            await client.job("nope")
        assert error.value.status == 404
        assert client.health.up  # none of those mistakes looked like an outage


async def test_decoding_options_reach_the_worker(served):
    async with WorkerClient(served.url, reply_timeout=10) as client:
        seeded = [(await client.reply(["what do you do for fun?"], options={"seed": 7})).reply for _ in range(2)]
        assert seeded[0] == seeded[1]  # the same seed, the same sampled reply
        short = await client.reply(["hello"], options={"strategy": "greedy", "max_len": 1, "min_len": 1})
        assert len(short.reply.split()) == 1
        with pytest.raises(WorkerError, match="beam_size") as error:
            await client.reply(["hello"], options={"beam_size": 0})
        assert error.value.status == 400


async def test_a_versions_loss_chart_comes_from_the_worker(real_worker, tiny_model_dir):
    async with WorkerClient(real_worker.url) as client:
        active, _ = await client.models()
        assert await client.loss_chart(active) == (tiny_model_dir / "loss.png").read_bytes()
        assert await client.loss_chart("no-such-version") is None


async def test_a_dead_worker_fails_fast_and_marks_it_down():
    url = f"http://127.0.0.1:{free_port()}"
    async with WorkerClient(url, reply_timeout=5, probe_max=0.5) as client:
        started = time.perf_counter()
        with pytest.raises(WorkerUnavailable) as error:
            await client.reply(["anyone?"])
        assert time.perf_counter() - started < 1.0 and error.value.status == 0
        assert not client.health.up and client.health.last_error
        assert not await client.check()


@pytest.fixture
async def stub():
    """An in-process server whose answers the test chooses; it records the Authorization header it saw."""
    behaviour: dict = {"seen": []}

    async def handler(request):
        behaviour["seen"].append(request.headers.get("Authorization"))
        kind = behaviour["kind"]
        if kind == "busy":
            return web.json_response(
                {"error": {"status": 503, "message": "queue full"}}, status=503, headers={"Retry-After": "3"}
            )
        if kind == "slow":
            await asyncio.sleep(5)
        if kind == "auth":
            return web.json_response({"error": {"status": 401, "message": "missing or wrong bearer token"}}, status=401)
        if kind == "crash":
            return web.Response(status=500, text="boom")
        return web.json_response({"reply": "ok", "model_version": "v", "latency_ms": 1.0})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)  # do not wait out the slow handler
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", behaviour
    await runner.cleanup()


async def test_error_mapping(stub):
    url, behaviour = stub
    async with WorkerClient(url, token="t0ken", reply_timeout=0.5, probe_max=0.5) as client:
        assert "t0ken" not in repr(client)
        behaviour["kind"] = "busy"
        with pytest.raises(WorkerUnavailable) as busy:
            await client.reply(["hi"])
        assert busy.value.status == 503 and "queue full" in busy.value.message
        behaviour["kind"] = "auth"
        with pytest.raises(WorkerError) as auth:
            await client.reply(["hi"])
        assert auth.value.status == 401 and not isinstance(auth.value, WorkerUnavailable)
        behaviour["kind"] = "crash"
        with pytest.raises(WorkerUnavailable) as crash:
            await client.reply(["hi"])
        assert crash.value.status == 500
        behaviour["kind"] = "slow"
        started = time.perf_counter()
        with pytest.raises(WorkerUnavailable, match="Timeout"):
            await client.reply(["hi"])
        assert time.perf_counter() - started < 2.5
        behaviour["kind"] = "ok"
        assert (await client.reply(["hi"])).reply == "ok"
        asked = len(behaviour["seen"])
        with pytest.raises(WorkerError, match="version names") as error:
            await client.activate("../etc")  # in a URL it would name another route: refused before any request
        assert error.value.status == 400 and len(behaviour["seen"]) == asked
    assert behaviour["seen"] and set(behaviour["seen"]) == {"Bearer t0ken"}
