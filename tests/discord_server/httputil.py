"""HTTP plumbing: Discord-style JSON/error responses, body parsing (JSON and multipart), request log, 429 and
fault switches."""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import DiscordTestServer

API_PREFIX = "/api/v10"

# request storage keys (aiohttp >= 3.12 warns about plain str keys)
_Key = getattr(web, "RequestKey", None)
BODY: Any = _Key("banter_body", object) if _Key else "banter_body"
FILES: Any = _Key("banter_files", list) if _Key else "banter_files"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Content-Type exactly ``application/json``.

    discord.py's ``json_or_text`` compares the header with ``==``; aiohttp's ``web.json_response``
    appends ``; charset=utf-8`` and discord.py would then hand the raw text to its parsers.
    """
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=hdrs)


def no_content() -> web.Response:
    return web.Response(status=204)


class DiscordError(Exception):
    """Raised by handlers; turned into Discord's ``{"message", "code"}`` error body."""

    def __init__(self, status: int, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    def response(self) -> web.Response:
        return json_response({"message": self.message, "code": self.code}, status=self.status)


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, f"Unknown {what}", code)


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class RequestRecord:
    method: str
    path: str  # without the /api/v10 prefix
    route: str  # the route template, e.g. /channels/{channel_id}/messages
    query: dict[str, str]
    status: int = 0
    time: float = 0.0  # time.monotonic() when it arrived (the loop clock discord.py sleeps on)
    body: Any = None
    files: list[UploadedFile] = field(default_factory=list)


@dataclass
class RateLimitRule:
    method: str
    route: str  # a template (/channels/{channel_id}/messages) or a concrete path
    remaining: int
    retry_after: float
    is_global: bool = False
    bucket: str = "banter-test-bucket"
    hits: list[float] = field(default_factory=list)


@dataclass
class FaultRule:
    """Answer matching requests with an error status, or (status None) close the connection unanswered."""

    method: str
    route: str  # a template or a concrete path, as for RateLimitRule
    remaining: int
    status: int | None
    message: str = "Injected failure"
    hits: list[float] = field(default_factory=list)


async def read_body(request: web.Request) -> Any:
    """The JSON body; for multipart, ``payload_json`` (files go to ``request['files']``). Cached."""
    if BODY in request:
        return request[BODY]
    body: Any = None
    files: list[UploadedFile] = []
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            raw = await part.read()
            if part.name == "payload_json":
                body = json.loads(raw.decode())
            elif part.filename is not None:
                files.append(UploadedFile(part.name or "", part.filename, part.headers.get("Content-Type"), bytes(raw)))
            elif part.name:
                body = body if isinstance(body, dict) else {}
                body[part.name] = raw.decode()
    elif request.can_read_body:
        raw = await request.read()
        body = json.loads(raw) if raw else None
    request[BODY], request[FILES] = body, files
    return body


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else request.path
    return canonical[len(API_PREFIX) :] if canonical.startswith(API_PREFIX) else canonical


def _strip(path: str) -> str:
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path


def _no_auth_needed(path: str) -> bool:
    """Interaction callbacks and webhooks are authorised by their token; the gateway and CDN need nothing."""
    if not path.startswith(API_PREFIX):
        return True
    return path.startswith(API_PREFIX + "/webhooks/") or path.startswith(API_PREFIX + "/interactions/")


def rate_limited_response(rule: RateLimitRule) -> web.Response:
    body = {
        "message": "You are being rate limited.",
        "retry_after": rule.retry_after,
        "global": rule.is_global,
        "code": 0,
    }
    headers = {
        # discord.py treats a 429 without Via as a Cloudflare ban and raises instead of retrying.
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(rule.retry_after)),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
        "X-RateLimit-Bucket": rule.bucket,
        "X-RateLimit-Scope": "global" if rule.is_global else "user",
    }
    if rule.is_global:
        headers["X-RateLimit-Global"] = "true"
    return json_response(body, status=429, headers=headers)


def make_middleware(server: DiscordTestServer):
    @web.middleware
    async def middleware(request: web.Request, handler):
        record = RequestRecord(
            method=request.method,
            path=_strip(request.path),
            route=route_template(request),
            query=dict(request.query),
            time=time.monotonic(),
        )
        server.requests.append(record)
        rule = server._take_rate_limit(record.method, record.route, record.path)
        fault = None if rule is not None else server._take_fault(record.method, record.route, record.path)
        try:
            if rule is not None:
                rule.hits.append(record.time)
                response: web.StreamResponse = rate_limited_response(rule)
            elif fault is not None:
                fault.hits.append(record.time)
                if fault.status is None:
                    request.transport.close()  # the client sees the server disconnect
                    record.status = -1
                    server._notify()
                    return web.Response()
                response = DiscordError(fault.status, fault.message).response()
            elif not _no_auth_needed(request.path) and request.headers.get("Authorization") != f"Bot {server.token}":
                response = DiscordError(401, "401: Unauthorized", 0).response()
            else:
                response = await handler(request)
        except DiscordError as exc:
            response = exc.response()
        except web.HTTPException as exc:
            response = json_response({"message": exc.reason, "code": 0}, status=exc.status)
        except Exception as exc:  # a bug in the test server: keep it, answer 400 (a 5xx makes clients retry)
            server.errors.append(exc)
            response = json_response({"message": f"test server error: {exc!r}", "code": 0}, status=400)
        record.status = response.status
        record.body = request.get(BODY)
        record.files = request.get(FILES, [])
        server._notify()
        await asyncio.sleep(0)
        return response

    return middleware
