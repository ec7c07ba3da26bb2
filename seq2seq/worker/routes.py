"""The HTTP/JSON handlers: parse and check the request, call the batcher/registry/jobs, shape the answer."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from seq2seq import model_dir
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.engine.options import EngineOptions
from seq2seq.protocol import (
    MAX_JOB_BODY,
    MAX_JOB_JSON_BODY,
    MAX_REPLY_BODY,
    MIN_FINETUNE_PAIRS,
    FinetuneOptions,
    ReplyResult,
    clip,
    clip_names,
    loads_json,
    pair_from_json,
    parse_reply_body,
    validate_version,
)
from seq2seq.worker.imports import pairs_from_import
from seq2seq.worker.metrics import CONTENT_TYPE_LATEST
from seq2seq.worker.uploads import receive_jsonl, write_pairs

_JOB_ID_RE = re.compile(r"^[0-9a-f]{1,64}$")  # jobs are named by hex ids
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines")


class ApiError(Exception):
    """An answer other than 2xx, with a message meant for the caller."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def worker_of(request: web.Request):
    return request.app["worker"]


async def body_chunks(request: web.Request, limit: int) -> AsyncIterator[bytes]:
    """The body as it arrives: 413 as soon as it passes `limit` (at once when the length is declared),
    408 when the client pauses longer than [worker] idle_timeout_s (a stalled upload holds nothing for long)."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"request body of {request.content_length} bytes is over the {limit}-byte limit")
    idle_s, size = worker_of(request).settings.idle_timeout_s, 0
    while True:
        try:
            async with asyncio.timeout(idle_s):
                chunk = await request.content.readany()
        except TimeoutError:
            raise ApiError(408, f"no part of the request body arrived for {idle_s:g} s") from None
        if not chunk:
            return
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over the {limit}-byte limit")
        yield chunk


async def read_body(request: web.Request, limit: int) -> bytes:
    return b"".join([chunk async for chunk in body_chunks(request, limit)])


def parse_json(body: bytes):
    if not body.strip():
        raise ApiError(400, "empty body: expected JSON")
    try:
        return loads_json(body)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def json_response(data, status: int = 200) -> web.Response:
    # A lone surrogate (JSON input may carry "\ud800", and a message may quote it) goes back as that escape.
    body = json.dumps(data, ensure_ascii=False).encode("utf-8", "backslashreplace")
    return web.Response(body=body, status=status, content_type="application/json")


# ----- replies
async def reply(request: web.Request) -> web.Response:
    started = time.perf_counter()
    worker = worker_of(request)
    try:
        requests, is_list = parse_reply_body(parse_json(await read_body(request, MAX_REPLY_BODY)))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    decoded, options = [], []
    for i, r in enumerate(requests):
        try:
            decoded.append(decode_options(worker.settings.decoding, r.options))
            options.append(engine_options(decoded[-1], r.options))
        except ValueError as exc:
            raise ApiError(400, f"request {i}: {exc}" if is_list else str(exc)) from None
    cost, budget = sum(d.cost for d in decoded), worker.settings.max_request_cost  # in the caller's words
    if cost > budget:
        raise ApiError(
            400,
            f"this request would decode {cost} hypothesis-steps (items × beams × max_len); the worker allows "
            f"{budget} per request ([worker] max_request_cost): send fewer items, a smaller beam_size or max_len",
        )
    timeout = min([worker.settings.request_timeout_s, *[r.timeout_s for r in requests if r.timeout_s]])
    results = await worker.batcher.submit_many(
        [(r.context, o, o) for r, o in zip(requests, options, strict=False)], started + timeout
    )
    latency_ms = (time.perf_counter() - started) * 1000
    worker.metrics.latency.observe(latency_ms / 1000)
    worker.metrics.replies.inc(len(results))
    out = [
        ReplyResult(
            r.reply, r.model_version, round(latency_ms, 3), round(r.decode_ms, 3), round(r.queue_ms, 3), r.batch_size
        ).to_json()
        for r in results
    ]
    return json_response(out if is_list else out[0])


# ----- health and metrics
async def healthz(request: web.Request) -> web.Response:
    worker = worker_of(request)
    return json_response(
        {
            "status": "alive",
            "model_version": worker.registry.active,
            "loading": worker.registry.starting,
            "queue_depth": worker.batcher.depth,
            "decoding": worker.batcher.decoding,
        }
    )


async def readyz(request: web.Request) -> web.Response:
    registry = worker_of(request).registry
    if registry.active is None:
        why = "loading the model" if registry.starting else "no usable model version: activate one (see the log)"
        raise ApiError(503, why, {"Retry-After": "1"})
    current = registry.current
    engine = current.engine
    return json_response(
        {"ready": True, "model_version": current.version, "device": engine.device, "compute_type": engine.compute_type}
    )


async def metrics(request: web.Request) -> web.Response:
    body = worker_of(request).metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


# ----- model versions
def _version(request: web.Request) -> str:
    try:
        return validate_version(request.match_info["version"])
    except ValueError as exc:
        raise ApiError(400, f"bad version name {clip(request.match_info['version'])!r}: {exc}") from None


async def list_models(request: web.Request) -> web.Response:
    registry = worker_of(request).registry
    return json_response({"active": registry.active, "versions": [m.to_json() for m in registry.list()]})


async def get_model(request: web.Request) -> web.Response:
    return json_response(worker_of(request).registry.info(_version(request)).to_json())


async def loss_chart(request: web.Request) -> web.Response:
    """The version's training-loss chart, drawn by training (the bot attaches it to its fine-tune report)."""
    registry = worker_of(request).registry
    version = registry.info(_version(request)).version  # 404 for an unknown version
    try:
        png = await asyncio.to_thread((registry.path(version) / model_dir.LOSS_CHART_FILE).read_bytes)
    except FileNotFoundError:
        raise ApiError(404, f"model version {version} has no loss chart") from None
    return web.Response(body=png, content_type="image/png")


async def activate(request: web.Request) -> web.Response:
    registry = worker_of(request).registry
    version = _version(request)
    info = await registry.activate(version, force=_force(await read_body(request, 1024)))
    return json_response({"active": registry.active, "version": info.to_json()})


def _force(body: bytes) -> bool:
    """An activation's optional body: {"force": true} activates a version the quality gate rejected."""
    if not body.strip():
        return False
    data = parse_json(body)
    if not isinstance(data, dict) or set(data) - {"force"} or not isinstance(data.get("force", False), bool):
        raise ApiError(400, 'the body of an activation is empty or {"force": true|false}')
    return data.get("force", False)


# ----- fine-tuning jobs
async def start_finetune(request: web.Request) -> web.Response:
    worker = worker_of(request)
    if worker.jobs.running:  # answer 409 before reading a large upload
        raise ApiError(409, f"job {worker.jobs.running.info.id} is still running; one job at a time")
    upload = worker.jobs.upload_path()
    try:
        if request.content_type in JSONL_TYPES:
            options = FinetuneOptions.from_query(dict(request.query))
            pairs = await receive_jsonl(body_chunks(request, MAX_JOB_BODY), upload)
        else:
            body = await read_body(request, MAX_JOB_JSON_BODY)
            if not body.strip():
                raise ApiError(400, "empty body: expected JSON")
            data = await asyncio.to_thread(loads_json, body)
            options, listed = await _finetune_json(data, worker.settings.import_dir)
            pairs = await asyncio.to_thread(write_pairs, listed, upload)
        if pairs.count < MIN_FINETUNE_PAIRS:
            raise ApiError(400, f"{pairs.count} pairs: a fine-tune needs at least {MIN_FINETUNE_PAIRS}")
        info = await worker.jobs.start(pairs, options)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    except ApiError as exc:
        if exc.status == 413 and request.content_type not in JSONL_TYPES:
            exc.message += ": send large fine-tunes as JSONL (Content-Type: application/x-ndjson, options as query)"
        raise
    finally:
        upload.unlink(missing_ok=True)  # moved into the job when it started
    return json_response(info.to_json(), status=202)


async def _finetune_json(data, import_dir: Path | None) -> tuple[FinetuneOptions, list[dict]]:
    if not isinstance(data, dict):
        raise ValueError("expected an object with 'pairs' (a list) or 'path' (a file on the worker), and 'options'")
    unknown = sorted(set(data) - {"pairs", "path", "options"})
    if unknown:
        raise ValueError(f"unknown fields: {clip_names(unknown)}")
    options = FinetuneOptions.from_json(data.get("options"))
    if ("pairs" in data) == ("path" in data):
        raise ValueError("send exactly one of 'pairs' (a list of {query, reply, context?}) or 'path'")
    if "pairs" in data:
        if not isinstance(data["pairs"], list):
            raise ValueError("'pairs' must be a list of {query, reply, context?} objects")
        return options, [pair_from_json(p, f"pairs[{i}]") for i, p in enumerate(data["pairs"])]
    return options, await asyncio.to_thread(pairs_from_import, import_dir, data["path"])


async def list_jobs(request: web.Request) -> web.Response:
    return json_response({"jobs": [j.to_json() for j in worker_of(request).jobs.list()]})


def _job_id(request: web.Request) -> str:
    job_id = request.match_info["id"]
    if not _JOB_ID_RE.match(job_id):  # never a job's id: answer without quoting all of it
        raise ApiError(404, f"unknown job: {clip(job_id)}")
    return job_id


async def get_job(request: web.Request) -> web.Response:
    return json_response(worker_of(request).jobs.get(_job_id(request)).to_json())


async def cancel_job(request: web.Request) -> web.Response:
    return json_response((await worker_of(request).jobs.cancel(_job_id(request))).to_json())


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/reply", reply)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{version}", get_model)
    app.router.add_get("/v1/models/{version}/loss.png", loss_chart)
    app.router.add_post("/v1/models/{version}/activate", activate)
    app.router.add_post("/v1/jobs/finetune", start_finetune)
    app.router.add_get("/v1/jobs", list_jobs)
    app.router.add_get("/v1/jobs/{id}", get_job)
    app.router.add_delete("/v1/jobs/{id}", cancel_job)


def engine_options(decoded: DecodeOptions, overrides: dict | None) -> EngineOptions:
    """The bot's word-based options (validated) as the engine's piece-based ones; requests with equal engine
    options batch together. Only a request's own seed makes its replies repeatable (at a cost: see
    EngineOptions); a [decoding] seed is the engines' own (`server.engine_args`)."""
    options = EngineOptions.from_decode_options(decoded)
    return options if overrides and "seed" in overrides else replace(options, seed=None)


def decode_options(defaults: DecodeOptions, overrides: dict | None) -> DecodeOptions:
    """The worker's [decoding] defaults with the request's options on top (validated)."""
    if not overrides:
        return defaults
    return DecodeOptions.from_dict({**defaults.to_dict(), **overrides})
