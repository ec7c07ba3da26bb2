"""The bot's aiohttp client of the worker's HTTP API (seq2seq.protocol types; never the model code)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp

from seq2seq.protocol import FinetuneOptions, JobInfo, ModelInfo, ReplyRequest, ReplyResult, validate_version

from .health import WorkerHealth

log = logging.getLogger("banter.worker_client")


class WorkerError(Exception):
    """The worker answered, but not with what was asked for (a 4xx): a mistake, not an outage."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class WorkerUnavailable(WorkerError):
    """Not reachable, timed out, busy or not ready (503/504/5xx): the bot rests until it is back."""


class WorkerClient:
    """One keep-alive session to one worker. Outages are recorded in `health`, which probes until it is back."""

    def __init__(self, base_url: str, token: str = "", *, reply_timeout: float = 8.0, probe_max: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.reply_timeout = reply_timeout
        self.health = WorkerHealth(self._probe, probe_max=probe_max)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=60, sock_connect=5),
                connector=aiohttp.TCPConnector(limit=64, enable_cleanup_closed=True),
            )

    async def close(self) -> None:
        await self.health.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> WorkerClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing -------------------------------------------------------------------------------
    async def _request(
        self, method: str, path: str, *, timeout: float | None = None, raw: bool = False, **kwargs: Any
    ) -> Any:
        """The answer's JSON (or its bytes when `raw`); WorkerError for a 4xx, WorkerUnavailable otherwise."""
        if self._session is None:
            await self.start()
        assert self._session is not None
        client_timeout = aiohttp.ClientTimeout(total=timeout) if timeout else None
        try:
            async with self._session.request(method, self.base_url + path, timeout=client_timeout, **kwargs) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    message = _error_message(_json(body), body, resp.status)
                    cls = WorkerUnavailable if resp.status >= 500 or resp.status == 429 else WorkerError
                    raise cls(resp.status, message)
                return body if raw else _json(body)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise WorkerUnavailable(0, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    async def _probe(self) -> dict:
        return await self._request("GET", "/readyz", timeout=5)

    async def check(self) -> bool:
        """Probe once now: at start-up the worker may still be loading (then the health probe takes over)."""
        try:
            await self._probe()
        except WorkerError as exc:
            self.health.failed(exc.message)
            return False
        self.health.succeeded()
        return True

    # -- replies --------------------------------------------------------------------------------
    async def reply(
        self, context: list[str], *, timeout: float | None = None, options: dict | None = None
    ) -> ReplyResult:
        """The worker's reply to the last turn of `context`. WorkerUnavailable marks the worker down.
        `options` override the worker's [decoding] defaults (the bot sends none; benchmarks fix a seed)."""
        timeout = timeout or self.reply_timeout
        body = ReplyRequest(context, options, timeout_s=timeout).to_json()
        try:
            data = await self._request("POST", "/v1/reply", json=body, timeout=timeout + 1)
        except WorkerUnavailable as exc:
            self.health.failed(exc.message)
            raise
        self.health.succeeded()
        return ReplyResult.from_json(data)

    # -- state ----------------------------------------------------------------------------------
    async def healthz(self) -> dict:
        return await self._request("GET", "/healthz", timeout=5)

    async def models(self) -> tuple[str | None, list[ModelInfo]]:
        data = await self._request("GET", "/v1/models", timeout=10)
        return data.get("active"), [ModelInfo.from_json(m) for m in data.get("versions", [])]

    async def loss_chart(self, version: str) -> bytes | None:
        """The version's training-loss chart as PNG bytes, drawn by the worker; None if it has none."""
        try:
            return await self._request("GET", f"/v1/models/{version}/loss.png", timeout=30, raw=True)
        except WorkerError as exc:
            if exc.status == 404:
                return None
            raise

    async def activate(self, version: str, *, force: bool = False) -> ModelInfo:
        """Promote or roll back to `version`. A name that is not a version is refused before any request (a 400
        WorkerError, as the worker would answer): in a URL, "../x" would name another route. `force` activates a
        version the quality gate rejected (the worker records it); without it that is a 409."""
        try:
            validate_version(version)
        except ValueError as exc:
            raise WorkerError(400, f"bad version name {version!r}: {exc}") from None
        body = {"json": {"force": True}} if force else {}
        data = await self._request("POST", f"/v1/models/{version}/activate", timeout=120, **body)
        return ModelInfo.from_json(data.get("version", {}))

    # -- fine-tuning ----------------------------------------------------------------------------
    async def start_finetune(self, pairs_jsonl: Path, options: FinetuneOptions) -> JobInfo:
        """Upload the exported pairs (JSONL) with the options as query parameters; the job runs on the worker."""
        query = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in options.to_json().items() if v is not None
        }
        data = await asyncio.to_thread(pairs_jsonl.read_bytes)
        result = await self._request(
            "POST",
            "/v1/jobs/finetune",
            params=query,
            data=data,
            timeout=120,
            headers={"Content-Type": "application/x-ndjson"},
        )
        return JobInfo.from_json(result)

    async def job(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(await self._request("GET", f"/v1/jobs/{job_id}", timeout=10))

    async def cancel_job(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(await self._request("DELETE", f"/v1/jobs/{job_id}", timeout=30))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _error_message(data: Any, body: bytes, status: int) -> str:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("message") or status)
    return body[:200].decode("utf-8", "replace") or f"HTTP {status}"
