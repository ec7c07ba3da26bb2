"""One expensive request cannot hold the worker: a cost budget, decoding stopped at its deadline, fair slices."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from .conftest import make_models

# Every reply runs the full 100 steps with 32 hypotheses: about a second per 32 items on the tiny model.
HEAVY = {"strategy": "sample_rank", "beam_size": 32, "max_len": 100, "min_len": 100, "no_repeat_ngram": 0}


def heavy(items: int, timeout_s: float) -> list[dict]:
    return [{"context": [f"tell me everything {i}"], "options": HEAVY, "timeout_s": timeout_s} for i in range(items)]


async def call(http, path, body=None) -> tuple[int, dict | list | str]:
    method = "GET" if body is None else "POST"
    async with http.request(method, path, json=body) as response:
        text = await response.text()
        return response.status, (await response.json() if response.content_type == "application/json" else text)


async def batches_done(http) -> int:
    _, text = await call(http, "/metrics")
    return int(float(re.search(r"^banter_worker_batch_size_count (\S+)$", text, re.M).group(1)))


async def test_a_request_over_the_cost_budget_is_a_400(served):
    async with aiohttp.ClientSession(base_url=served.url) as http:
        status, body = await call(http, "/v1/reply", heavy(256, 10))
        assert status == 400 and "max_request_cost" in body["error"]["message"]
        assert "819200" in body["error"]["message"]
        status, _ = await call(http, "/v1/reply", heavy(1, 10)[:1])  # one such reply is within the default budget
        assert status == 200


@pytest.fixture
async def roomy(tmp_path, tiny_model_dir, start_worker):
    """A worker that accepts heavy requests (a large budget, a long deadline) and decodes one batch at a time."""
    config = tmp_path / "worker.toml"
    config.write_text(
        "[worker]\nmax_request_cost = 10000000\nrequest_timeout_s = 120\ndecode_threads = 1\nmax_batch_size = 256\n"
    )
    worker = start_worker(make_models(tmp_path / "models", tiny_model_dir), args=("--config", str(config)))
    async with aiohttp.ClientSession(base_url=worker.url) as http:
        yield worker, http


async def test_decoding_stops_at_the_deadline_and_the_next_reply_is_served(roomy):
    worker, http = roomy
    status, _ = await call(http, "/v1/reply", heavy(256, 1.0))
    assert status == 504
    # Left running, its batches (one of 256 before batches were capped by cost) would hold the only decoder
    # for seconds more, and this reply would time out too.
    status, body = await call(http, "/v1/reply", {"context": ["are you there?"], "timeout_s": 2.0})
    assert status == 200 and body["reply"]
    _, text = await call(http, "/metrics")
    # Stopped mid-batch, or its slices still queued at the deadline skipped (a loaded machine): either way, far
    # from all 256 heavy replies were decoded (about 8 s of work), and only the quick reply after them.
    decoded = float(re.search(r"^banter_worker_batch_size_sum (\S+)$", text, re.M).group(1))
    assert decoded < 256
    assert "Traceback" not in worker.log()


async def test_a_later_small_request_is_served_between_a_big_ones_slices(roomy):
    _, http = roomy
    before = await batches_done(http)
    big = asyncio.ensure_future(call(http, "/v1/reply", heavy(32, 100)))
    while await batches_done(http) == before:  # the barrier: the big request has had a batch decoded
        assert not big.done(), await big
        await asyncio.sleep(0.02)
    status, body = await call(http, "/v1/reply", {"context": ["quick one?"], "timeout_s": 100})
    assert status == 200 and body["reply"]
    assert not big.done()  # served in turn, not after all of the big request
    status, body = await big
    assert status == 200 and len(body) == 32
