"""The shared secret: required off loopback, checked on every request when set, never logged."""

from __future__ import annotations

import subprocess
import sys

import aiohttp
import pytest

from bot.worker import WorkerClient, WorkerError

from .conftest import REPO, make_models

TOKEN = "tok-1f2e3d4c5b6a-never-log-me"


async def test_every_request_needs_the_token(tmp_path, tiny_model_dir, start_worker):
    root = make_models(tmp_path / "models", tiny_model_dir)
    worker = start_worker(root, env={"BANTER_WORKER_TOKEN": TOKEN}, headers={"Authorization": f"Bearer {TOKEN}"})
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            for method, path in (
                ("GET", "/healthz"),
                ("GET", "/metrics"),
                ("POST", "/v1/reply"),
                ("GET", "/v1/models"),
            ):
                async with http.request(method, worker.url + path, headers=headers, json={"context": ["hi"]}) as r:
                    assert r.status == 401, (headers, path)
                    assert r.headers["WWW-Authenticate"].startswith("Bearer")
                    assert "bearer token" in (await r.json())["error"]["message"]
        for scheme in ("bearer", "BEARER", "Bearer"):  # the scheme is case-insensitive (RFC 9110)
            async with http.get(worker.url + "/healthz", headers={"Authorization": f"{scheme} {TOKEN}"}) as r:
                assert r.status == 200, scheme
    async with WorkerClient(worker.url, token="wrong") as client:
        with pytest.raises(WorkerError) as refused:
            await client.reply(["hi"])
        assert refused.value.status == 401
    async with WorkerClient(worker.url, token=TOKEN) as client:
        assert (await client.reply(["hi"])).reply
        assert await client.check()
    worker.stop()
    assert TOKEN not in worker.log() and "BANTER_WORKER_TOKEN is set" in worker.log()


def test_binding_beyond_loopback_without_a_token_is_refused(tmp_path):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "seq2seq", "serve", "--host", "0.0.0.0", "--port", "0", "--models", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "BANTER_WORKER_TOKEN" in result.stderr
