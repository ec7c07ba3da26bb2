"""WorkerClient against a real worker and against stub servers that misbehave."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from seq2seq.client import WorkerAuthError, WorkerBusy, WorkerClient, WorkerRequestError, WorkerUnavailable

from .conftest import free_port


async def test_the_client_api_against_a_worker(served):
    async with WorkerClient(served.url, timeout=10) as client:
        result = await client.reply(["hello", "how are you?"])
        assert result.reply and result.model_version == "default" and result.latency_ms > 0
        batch = await client.reply_batch([["a"], ["b"]], options={"strategy": "greedy"})
        assert len(batch) == 2 and all(r.reply for r in batch)
        assert await client.health() == {"alive": True, "ready": True, "model_version": "default"}
        active, versions = await client.models()
        assert active == "default" and {m.version for m in versions} == {"default", "alt", "broken"}
        assert (await client.activate("alt")).status == "active"
        assert (await client.reply(["hi"])).model_version == "alt"
        assert (await client.activate("default")).status == "active"
        with pytest.raises(WorkerRequestError) as error:
            await client.activate("broken")
        assert error.value.status == 422 and "NaN" in str(error.value)
        with pytest.raises(WorkerRequestError) as error:
            await client.activate("nope")
        assert error.value.status == 404
        with pytest.raises(WorkerRequestError, match="beam_size"):
            await client.reply(["hi"], options={"beam_size": 99})
        with pytest.raises(WorkerRequestError, match="at least 10"):
            await client.start_finetune([("q", "r")] * 3)
        with pytest.raises(ValueError):
            await client.activate("../etc")  # refused before any request
        assert await client.jobs() == []


async def test_a_dead_worker_fails_fast():
    url = f"http://127.0.0.1:{free_port()}"
    async with WorkerClient(url, timeout=5) as client:
        started = time.perf_counter()
        with pytest.raises(WorkerUnavailable, match="unavailable"):
            await client.reply(["anyone?"])
        assert time.perf_counter() - started < 1.0
        assert await client.health() == {"alive": False, "ready": False, "model_version": None}


@pytest.fixture
async def stub():
    """An in-process server whose answers the test chooses."""
    behaviour = {}

    async def handler(request):
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
        return web.json_response(
            {"reply": "ok", "model_version": "v", "latency_ms": 1.0, "auth": request.headers.get("Authorization")}
        )

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
    async with WorkerClient(url, token="t0ken", timeout=0.5) as client:
        assert "t0ken" not in repr(client)
        behaviour["kind"] = "busy"
        with pytest.raises(WorkerBusy) as busy:
            await client.reply(["hi"])
        assert busy.value.retry_after == 3.0 and busy.value.status == 503
        behaviour["kind"] = "auth"
        with pytest.raises(WorkerAuthError):
            await client.reply(["hi"])
        behaviour["kind"] = "crash"
        with pytest.raises(WorkerUnavailable) as crash:
            await client.reply(["hi"])
        assert crash.value.status == 500
        behaviour["kind"] = "slow"
        started = time.perf_counter()
        with pytest.raises(WorkerUnavailable, match="timed out"):
            await client.reply(["hi"])
        assert time.perf_counter() - started < 1.5
        behaviour["kind"] = "ok"
        assert (await client.reply(["hi"])).reply == "ok"
