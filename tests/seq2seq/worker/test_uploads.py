"""Fine-tune uploads are streamed: a large one neither balloons the worker's memory nor stalls its health checks."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from .conftest import make_models

JSONL = {"Content-Type": "application/x-ndjson"}


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak so far) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


def big_jsonl(megabytes: int) -> tuple[bytes, int]:
    """Many short pairs (the costliest shape for a parser that keeps them all), and how many lines."""
    line = b'{"query": "hey there how are you doing %07d", "reply": "fine thanks and you"}\n'
    count = megabytes * (1 << 20) // len(line % 0)
    return b"".join(line % i for i in range(count)), count


async def test_a_large_upload_is_parsed_off_the_loop_in_bounded_memory(tmp_path, tiny_model_dir, start_worker):
    worker = start_worker(make_models(tmp_path / "models", tiny_model_dir))
    body, lines = big_jsonl(48)
    body += b'{"query": "the last line is broken"\n'  # so every line is parsed, then the upload refused (no job)
    before = memory_kib(worker.proc.pid)
    gaps: list[float] = []
    async with aiohttp.ClientSession(base_url=worker.url) as http:
        upload = asyncio.ensure_future(http.post("/v1/jobs/finetune", data=body, headers=JSONL))
        last = time.perf_counter()
        while not upload.done():
            async with http.get("/healthz", timeout=aiohttp.ClientTimeout(total=30)) as response:
                assert response.status == 200
            gaps.append(time.perf_counter() - last)
            last = time.perf_counter()
            await asyncio.sleep(0.05)
        async with await upload as response:
            answer = await response.json()
        assert response.status == 400 and f"line {lines + 1}" in answer["error"]["message"]
        async with http.get("/v1/jobs") as response:
            assert (await response.json())["jobs"] == []
    after = memory_kib(worker.proc.pid)
    grown_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    print(f"48 MiB upload: peak RSS +{grown_mib:.0f} MiB, longest health-check gap {max(gaps):.2f} s")
    assert grown_mib < 100, grown_mib  # the body itself is never held whole, let alone a million dicts
    assert max(gaps) < 1.0, gaps  # health checks kept being answered (parsing on the loop stalled them for seconds)
    assert list((worker.models / ".jobs").glob("*")) == []  # the spooled upload is gone


async def test_an_upload_becomes_the_jobs_pairs_and_json_bodies_have_a_smaller_cap(
    tmp_path, tiny_model_dir, start_worker
):
    worker = start_worker(make_models(tmp_path / "models", tiny_model_dir))
    pairs = [{"query": f"question {i}\u2028with a line separator", "reply": f"answer {i}"} for i in range(12)]
    body = b"\r\n".join(json.dumps(p, ensure_ascii=False).encode() for p in pairs) + b"\n\n"
    async with aiohttp.ClientSession(base_url=worker.url) as http:
        async with http.post(
            "/v1/jobs/finetune", data=body, headers=JSONL, params={"max_steps": "1", "activate": "false"}
        ) as response:
            job = await response.json()
            assert response.status == 202 and job["pairs"] == 12, job
        written = (worker.models / ".jobs" / job["id"] / "pairs.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
        assert [json.loads(line) for line in written] == [{"group": f"upload:{i}", **p} for i, p in enumerate(pairs)]
        async with http.delete(f"/v1/jobs/{job['id']}") as response:
            assert response.status == 200
        big = json.dumps({"pairs": [pairs[0]] * 200_000}).encode()
        async with http.post("/v1/jobs/finetune", data=big, headers={"Content-Type": "application/json"}) as response:
            answer = await response.json()
            assert response.status == 413 and "application/x-ndjson" in answer["error"]["message"]
