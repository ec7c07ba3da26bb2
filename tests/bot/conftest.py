"""Fixtures for the bot suite: the local Discord server and its world, a real worker on the tiny model, storage,
a scriptable fake worker for outputs a tiny model would never produce, and a running Banter."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web

from bot.client import Banter
from bot.config import BotConfig
from bot.storage import Storage, StorageConfig
from bot.worker import WorkerClient
from bot.worker.process import free_port
from tests.discord_server import DiscordTestServer
from tests.discord_server.state import MANAGE_MESSAGES
from tests.worker_process import WorkerProc

REPO = Path(__file__).resolve().parents[2]


def make_models_dir(tiny_model_dir: Path, where: Path) -> Path:
    """A models directory whose only version, `tiny`, is the session's tiny model (symlinked: no copy)."""
    where.mkdir(parents=True, exist_ok=True)
    link = where / "tiny"
    if not link.exists():
        link.symlink_to(tiny_model_dir, target_is_directory=True)
    return where


class WorkerProcess:
    """A real worker the bot tests start, kill and replace on the same port when they choose."""

    def __init__(self, models: Path, log_path: Path, port: int | None = None):
        self.models, self.log_path = models, log_path
        self.port = port or free_port()
        self.worker: WorkerProc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> WorkerProcess:
        self.worker = WorkerProc(self.models, self.log_path, port=self.port, env={"BANTER_LOG_LEVEL": "WARNING"})
        if wait:
            self.worker.wait_ready(timeout=90.0)
        return self

    def kill(self) -> None:
        if self.worker is not None and self.worker.proc.poll() is None:
            self.worker.proc.kill()
            self.worker.proc.wait(10)


@pytest.fixture(scope="session")
def real_worker(tiny_model_dir, tmp_path_factory):
    """One real worker for the session (starting one costs seconds of CPU on this machine)."""
    base = tmp_path_factory.mktemp("worker")
    worker = WorkerProcess(make_models_dir(tiny_model_dir, base / "models"), base / "worker.log").start()
    yield worker
    worker.kill()


def _answer(data: dict):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(data)

    return handler


class FakeWorker:
    """The worker's HTTP API with scripted answers: replies, a model list, and one fine-tune job."""

    def __init__(self) -> None:
        self.reply_text = "hello there"
        self.reply_delay = 0.0
        self.reply_error: tuple[int, str] | None = None  # (status, message): answer replies with this error
        self.replies: list[dict] = []
        self.job_steps: list[dict] = []  # successive GET /v1/jobs/{id} answers; the last one is kept
        self.uploads: list[tuple[dict, bytes]] = []
        self.charts: dict[str, bytes] = {}  # version -> its loss.png; other versions have none (404)
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeWorker:
        app = web.Application()
        app.router.add_post("/v1/reply", self._reply)
        app.router.add_get("/readyz", _answer({"ready": True, "model_version": "fake"}))
        app.router.add_get("/healthz", _answer({"status": "alive", "model_version": "fake", "queue_depth": 0}))
        app.router.add_get(
            "/v1/models",
            _answer(
                {
                    "active": "fake",
                    "versions": [{"version": "fake", "status": "active", "metrics": {"val_perplexity": 80.0}}],
                }
            ),
        )
        app.router.add_get("/v1/models/{version}/loss.png", self._chart)
        app.router.add_post("/v1/jobs/finetune", self._finetune)
        app.router.add_get("/v1/jobs/{id}", self._job)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _reply(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.replies.append(body)
        await asyncio.sleep(self.reply_delay)
        if self.reply_error is not None:
            status, message = self.reply_error
            return web.json_response({"error": {"status": status, "message": message}}, status=status)
        return web.json_response({"reply": self.reply_text, "model_version": "fake", "latency_ms": 1.0})

    async def _chart(self, request: web.Request) -> web.Response:
        png = self.charts.get(request.match_info["version"])
        if png is None:
            return web.json_response({"error": {"status": 404, "message": "no loss chart"}}, status=404)
        return web.Response(body=png, content_type="image/png")

    async def _finetune(self, request: web.Request) -> web.Response:
        self.uploads.append((dict(request.query), await request.read()))
        return web.json_response({"id": "job1", "state": "queued", "progress": {"phase": "queued"}}, status=202)

    async def _job(self, request: web.Request) -> web.Response:
        step = self.job_steps.pop(0) if len(self.job_steps) > 1 else self.job_steps[0]
        return web.json_response({"id": "job1", **step})


@pytest.fixture
async def fake_worker():
    worker = await FakeWorker().start()
    yield worker
    await worker.stop()


@pytest.fixture
async def server():
    srv = await DiscordTestServer().start()
    yield srv
    await srv.stop()
    assert srv.errors == [], f"the test server itself failed: {srv.errors!r}"


@pytest.fixture
def world(server):
    """A guild owned by alice; bob has a mods role (Manage Messages, not Manage Server); carol nothing."""
    alice, bob, carol = server.add_user("alice"), server.add_user("bob"), server.add_user("carol")
    guild = server.add_guild("Banter HQ", alice)
    general = server.add_channel(guild, "general")
    random_ = server.add_channel(guild, "random")
    mods = server.add_role(guild, "mods", MANAGE_MESSAGES)
    server.add_member(guild, bob, [mods])
    server.add_member(guild, carol)
    other = server.add_user("otherbot", bot=True)
    server.add_member(guild, other)
    return SimpleNamespace(
        guild=guild,
        general=general,
        random=random_,
        alice=alice,
        bob=bob,
        carol=carol,
        otherbot=other,
        app_owner=server.owner_user,
    )


@pytest.fixture
async def storage(tmp_path):
    store = await Storage.open(config=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'banter.db'}"))
    yield store
    await store.close()


def bot_config(tmp_path: Path, **overrides) -> BotConfig:
    """No cooldowns unless a test sets them; state under tmp_path."""
    base = BotConfig(
        state_dir=tmp_path / "state",
        user_cooldown_seconds=0,
        channel_per_seconds=0,
        worker_probe_max_seconds=0.5,
        finetune_interval_hours=0,
        finetune_poll_seconds=0.05,
    )
    return replace(base, **overrides)


@contextlib.asynccontextmanager
async def running_bot(server: DiscordTestServer, storage: Storage, worker_url: str, config: BotConfig):
    async with WorkerClient(
        worker_url, reply_timeout=config.reply_timeout_seconds, probe_max=config.worker_probe_max_seconds
    ) as worker:
        await worker.check()
        bot = Banter(config=config, storage=storage, worker=worker, guild_ready_timeout=0.1)
        async with server.run_bot(bot):
            yield bot


@pytest.fixture
def start_bot(server, storage, tmp_path):
    """start_bot(worker_url, **config) -> async context manager yielding a ready Banter."""

    def _start(worker_url: str, **overrides):
        return running_bot(server, storage, worker_url, bot_config(tmp_path, **overrides))

    return _start


async def learn_in(storage: Storage, guild, *channels, reply: bool = False) -> None:
    ids = [c.id for c in channels]
    await storage.update_guild_settings(guild.id, learning_channels=ids, reply_channels=ids if reply else [])


async def eventually(predicate, timeout: float = 5.0, interval: float = 0.05):
    """Poll an async or plain predicate until truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def replies_done(bot, count: int) -> None:
    """Wait until the bot has finished `count` replies. A reply is on the server before the bot has read the send's
    response, and its channel stays in flight until then: a message that must be answered waits for this first."""
    await eventually(lambda: bot.chat.counts["replies"] == count)


def read_json(data: bytes) -> dict:
    return json.loads(data.decode())
