"""`WorkerClient`: the bot's async client of the model worker (standard library, aiohttp and seq2seq.protocol only)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp

from seq2seq.protocol import JobInfo, ModelInfo, ReplyRequest, ReplyResult, pair_from_json, validate_version

JSONL = "application/x-ndjson"


class WorkerError(Exception):
    """The worker answered with an error; `status` is the HTTP status (0 when there was no answer)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class WorkerUnavailable(WorkerError):
    """No answer in time: the worker is down, restarting, unreachable, or not ready. Try later."""


class WorkerBusy(WorkerUnavailable):
    """503: the worker's queue is full (or no model is loaded); `retry_after` seconds is its hint."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message, 503)
        self.retry_after = retry_after


class WorkerRequestError(WorkerError):
    """4xx: the request itself is wrong (bad options, unknown version, a job already running: 409)."""


class WorkerAuthError(WorkerRequestError):
    """401: the bearer token is missing or wrong (set BANTER_WORKER_TOKEN on both sides)."""


class WorkerClient:
    """One aiohttp session to one worker; use `async with WorkerClient(url, token) as worker:`."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8500",
        token: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 2.0,
        session: aiohttp.ClientSession | None = None,
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session = session
        self._own_session = session is None

    def __repr__(self) -> str:  # never shows the token
        return f"WorkerClient({self.url!r})"

    async def __aenter__(self) -> WorkerClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    # ----- replies
    async def reply(self, context: list[str], options: dict | None = None, timeout: float | None = None) -> ReplyResult:
        """Answer the last turn of `context` (turns oldest first). Raises WorkerUnavailable/WorkerBusy, never hangs."""
        request = ReplyRequest(list(context), options, self._server_timeout(timeout))
        data = await self._call("POST", "/v1/reply", json_body=request.to_json(), timeout=timeout)
        return ReplyResult.from_json(data)

    async def reply_batch(
        self, contexts: list[list[str]], options: dict | None = None, timeout: float | None = None
    ) -> list[ReplyResult]:
        server_timeout = self._server_timeout(timeout)
        body = [ReplyRequest(list(c), options, server_timeout).to_json() for c in contexts]
        data = await self._call("POST", "/v1/reply", json_body=body, timeout=timeout)
        return [ReplyResult.from_json(item) for item in data]

    # ----- health
    async def health(self) -> dict:
        """{"alive": bool, "ready": bool, "model_version": str | None}; never raises for a down worker."""
        try:
            alive = await self._call("GET", "/healthz", timeout=self.connect_timeout + 1)
        except WorkerUnavailable:
            return {"alive": False, "ready": False, "model_version": None}
        try:
            ready = await self._call("GET", "/readyz", timeout=self.connect_timeout + 1)
        except WorkerUnavailable:
            return {"alive": True, "ready": False, "model_version": alive.get("model_version")}
        return {"alive": True, "ready": True, "model_version": ready.get("model_version")}

    # ----- model versions
    async def models(self) -> tuple[str | None, list[ModelInfo]]:
        """(active version, every version newest first, with metrics and status)."""
        data = await self._call("GET", "/v1/models")
        return data.get("active"), [ModelInfo.from_json(m) for m in data.get("versions", [])]

    async def activate(self, version: str) -> ModelInfo:
        """Promote or roll back to `version`; raises WorkerRequestError (422) if it fails to load."""
        validate_version(version)
        data = await self._call("POST", f"/v1/models/{version}/activate", timeout=max(self.timeout, 120.0))
        return ModelInfo.from_json(data["version"])

    # ----- fine-tuning
    async def start_finetune(
        self, pairs: str | Path | Iterable[Any], options: dict | None = None, *, server_path: bool = False
    ) -> str:
        """Start a job; returns its id. `pairs`: a JSONL/TSV path (uploaded, or read by the worker when
        `server_path` is true), or pairs as dicts {query, reply, context?}, (query, reply[, context]) tuples
        or objects with .query/.reply/.context. Raises WorkerRequestError (409) if a job is running."""
        if isinstance(pairs, (str, Path)):
            if server_path:
                body = {"path": str(pairs), "options": options or {}}
                data = await self._call("POST", "/v1/jobs/finetune", json_body=body)
            else:
                raw = await asyncio.to_thread(Path(pairs).read_bytes)
                if Path(pairs).suffix.lower() not in (".jsonl", ".json"):
                    raw = _tsv_to_jsonl(raw.decode("utf-8", errors="replace"))
                data = await self._call(
                    "POST",
                    "/v1/jobs/finetune",
                    data=raw,
                    content_type=JSONL,
                    params={k: _query_value(v) for k, v in (options or {}).items() if v is not None},
                )
        else:
            # As JSONL, like a file: a JSON body is capped (MAX_JOB_JSON_BODY), since the worker parses it whole.
            lines = [json.dumps(pair_from_json(_as_pair(p), f"pair {i}")) for i, p in enumerate(pairs)]
            data = await self._call(
                "POST",
                "/v1/jobs/finetune",
                data="\n".join(lines).encode(),
                content_type=JSONL,
                params={k: _query_value(v) for k, v in (options or {}).items() if v is not None},
            )
        return JobInfo.from_json(data).id

    async def job(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(await self._call("GET", f"/v1/jobs/{job_id}"))

    async def jobs(self) -> list[JobInfo]:
        return [JobInfo.from_json(j) for j in (await self._call("GET", "/v1/jobs"))["jobs"]]

    async def cancel(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(await self._call("DELETE", f"/v1/jobs/{job_id}", timeout=max(self.timeout, 30.0)))

    async def wait_for_job(self, job_id: str, poll_s: float = 1.0, timeout: float | None = None) -> JobInfo:
        loop = asyncio.get_running_loop()
        give_up = None if timeout is None else loop.time() + timeout
        while True:
            info = await self.job(job_id)
            if info.done:
                return info
            if give_up is not None and loop.time() > give_up:
                raise TimeoutError(f"job {job_id} still {info.state} after {timeout} s")
            await asyncio.sleep(poll_s)

    # ----- transport
    def _server_timeout(self, timeout: float | None) -> float:
        # The worker should give up a little before we do, so its 504 arrives instead of our timeout.
        total = timeout or self.timeout
        return max(0.05, total * 0.9)

    def _session_for(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
            self._own_session = True
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        params: dict | None = None,
        timeout: float | None = None,
    ):
        total = timeout or self.timeout
        client_timeout = aiohttp.ClientTimeout(total=total, connect=min(self.connect_timeout, total))
        headers = dict(self._headers)
        if json_body is not None:
            data, content_type = json.dumps(json_body).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self._session_for().request(
                method, self.url + path, data=data, params=params, headers=headers, timeout=client_timeout
            ) as response:
                raw = await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            kind = "timed out" if isinstance(exc, asyncio.TimeoutError) else f"{type(exc).__name__}: {exc}"
            raise WorkerUnavailable(f"worker at {self.url} unavailable ({method} {path}: {kind})") from exc
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if status < 400:
            return body
        message = _message(body) or f"HTTP {status}"
        text = f"worker {method} {path}: {status} {message}"
        if status == 503:
            raise WorkerBusy(text, _seconds(retry_after))
        if status == 401:
            raise WorkerAuthError(text, status)
        if 400 <= status < 500:
            raise WorkerRequestError(text, status)
        raise WorkerUnavailable(text, status)  # 500, 502, 504: the worker failed; try again later


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", ""))
    return ""


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


def _as_pair(p: Any) -> dict:
    if isinstance(p, dict):
        return p
    if isinstance(p, (tuple, list)) and len(p) in (2, 3):
        return {"query": p[0], "reply": p[1], **({"context": p[2]} if len(p) == 3 else {})}
    if hasattr(p, "query") and hasattr(p, "reply"):
        return {"query": p.query, "reply": p.reply, "context": getattr(p, "context", "") or ""}
    raise ValueError(f"not a pair: {p!r}")


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _tsv_to_jsonl(text: str) -> bytes:
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValueError(f"line {number}: expected 'query<TAB>reply[<TAB>previous turn]'")
        lines.append(json.dumps({"query": parts[0], "reply": parts[1], "context": parts[2] if len(parts) > 2 else ""}))
    return ("\n".join(lines) + "\n").encode()
