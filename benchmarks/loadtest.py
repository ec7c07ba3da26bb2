"""`python -m benchmarks.loadtest --json OUT`: replies/s and latency of a worker over HTTP at 1-256 concurrent clients.

Starts its own worker (a subprocess on a free loopback port) unless --url is given. Each client sends a
request, waits for the reply, and sends the next (a closed loop), so throughput is what the worker can do.
Server overhead = client latency - the batch's decode time the worker reports (HTTP, JSON, queueing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.worker import own_model_worker, own_worker, wait_ready
from seq2seq.cli import DEFAULT_MODEL

PROMPTS = [
    ["hi there"],
    ["how are you doing today?"],
    ["what do you do for fun?"],
    ["i just got back from work", "how was it?"],
    ["do you like music?"],
    ["what's your favourite movie?"],
    ["i'm so tired"],
    ["good morning everyone"],
    ["anyone want to play tonight?"],
    ["that was a great game", "which one?"],
    ["where are you from?"],
    ["lol"],
]
TARGETS = {"speedup_64_over_1": 5.0, "p99_16_over_p50_1": 3.0, "overhead_ms_1": 2.0}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def phase(url: str, clients: int, duration: float, requests: int | None, options: dict, headers: dict) -> dict:
    """`clients` closed-loop clients for `duration` seconds (or until `requests` replies)."""
    latencies, overheads, decodes, batches, errors = [], [], [], [], {}
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    done = 0
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:
        started = time.perf_counter()
        stop_at = started + duration

        async def client(seed: int) -> None:
            nonlocal done
            rng = random.Random(seed)
            while time.perf_counter() < stop_at and (requests is None or done < requests):
                done += 1
                body = (
                    {"context": rng.choice(PROMPTS), "options": options}
                    if options
                    else {"context": rng.choice(PROMPTS)}
                )
                t0 = time.perf_counter()
                try:
                    async with session.post(url + "/v1/reply", json=body) as r:
                        data = await r.json()
                        status = r.status
                except (TimeoutError, aiohttp.ClientError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                ms = (time.perf_counter() - t0) * 1000
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
                    if status == 503:
                        await asyncio.sleep(0.01)
                    continue
                latencies.append(ms)
                decodes.append(data["decode_ms"])
                overheads.append(ms - data["decode_ms"])
                batches.append(data["batch_size"])

        await asyncio.gather(*(client(i) for i in range(clients)))
        seconds = time.perf_counter() - started
    return {
        "clients": clients,
        "replies": len(latencies),
        "seconds": round(seconds, 3),
        "replies_per_s": round(len(latencies) / seconds, 2),
        "p50_ms": round(percentile(latencies, 50), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "decode_ms_mean": round(sum(decodes) / max(len(decodes), 1), 3),
        "overhead_ms_p50": round(percentile(overheads, 50), 3),
        "overhead_ms_mean": round(sum(overheads) / max(len(overheads), 1), 3),
        "batch_size_mean": round(sum(batches) / max(len(batches), 1), 2),
        "errors": errors,
    }


def check_targets(phases: dict[int, dict]) -> dict:
    out = {}
    one, sixteen, sixty_four = phases.get(1), phases.get(16), phases.get(64)
    if one and sixty_four and one["replies_per_s"]:
        value = sixty_four["replies_per_s"] / one["replies_per_s"]
        out["speedup_64_over_1"] = {
            "value": round(value, 2),
            "target": ">= 5",
            "met": value >= TARGETS["speedup_64_over_1"],
        }
    if one and sixteen and one["p50_ms"]:
        value = sixteen["p99_ms"] / one["p50_ms"]
        out["p99_16_over_p50_1"] = {
            "value": round(value, 2),
            "target": "<= 3",
            "met": value <= TARGETS["p99_16_over_p50_1"],
        }
    if one:
        value = one["overhead_ms_p50"]
        out["overhead_ms_1"] = {"value": value, "target": "< 2 ms", "met": value < TARGETS["overhead_ms_1"]}
    return out


async def run(args: argparse.Namespace, url: str, proc) -> dict:
    token = os.environ.get("BANTER_WORKER_TOKEN", "")  # our own worker inherits it too
    version = await wait_ready(url, proc, token)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    options = json.loads(args.options) if args.options else {}
    await phase(url, 4, min(1.0, args.duration), 20, options, headers)  # warm the connections and caches
    phases = {}
    for clients in args.clients:
        result = await phase(url, clients, args.duration, args.requests, options, headers)
        phases[clients] = result
        print(
            f"{clients:>4} clients: {result['replies_per_s']:>8.1f} replies/s  p50 {result['p50_ms']:7.2f} ms  "
            f"p95 {result['p95_ms']:7.2f}  p99 {result['p99_ms']:7.2f}  decode {result['decode_ms_mean']:6.2f}  "
            f"overhead p50 {result['overhead_ms_p50']:5.2f} ms  batch {result['batch_size_mean']:5.1f}  "
            f"errors {result['errors'] or 0}",
            flush=True,
        )
    return {
        "model_version": version,
        "url": url if args.url else "(own worker)",
        "options": options,
        "duration_s": args.duration,
        "requests": args.requests,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "phases": list(phases.values()),
        "targets": check_targets(phases),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtest", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", type=Path, help="models directory for the worker (default: a temp dir linking models/default)"
    )
    parser.add_argument("--url", help="drive an already running worker instead (BANTER_WORKER_TOKEN is sent)")
    parser.add_argument("--clients", default="1,16,64,256", help="comma-separated concurrency levels")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per level")
    parser.add_argument("--requests", type=int, help="stop a level after this many replies (with --duration as a cap)")
    parser.add_argument("--options", help="decoding options as JSON (default: the worker's [decoding])")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--worker-log", type=Path, help="the worker's log (default: beside --json, or a temp file)")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if args.models is None and not args.url and not (DEFAULT_MODEL / "weights.npz").exists():
        print(
            f"error: no model at {DEFAULT_MODEL}; pass --models DIR (a directory holding <version>/ dirs)",
            file=sys.stderr,
        )
        return 2
    if args.url:
        result = asyncio.run(run(args, args.url.rstrip("/"), None))
    else:
        log_path = args.worker_log or (
            args.json.with_suffix(".worker.log")
            if args.json
            else Path(tempfile.gettempdir()) / "banter-loadtest-worker.log"
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        served = own_worker(args.models, log_path) if args.models else own_model_worker(DEFAULT_MODEL, log_path)
        with served as (url, proc):
            result = asyncio.run(run(args, url, proc))
        result["worker_log"] = str(log_path)
    for name, target in result["targets"].items():
        print(f"target {name}: {target['value']} (want {target['target']}): {'met' if target['met'] else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
