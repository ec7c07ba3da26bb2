"""Two shards, one database, one worker: two real `python -m bot` processes, one shard each, on the local
Discord server. Every message is handled and logged once, an opt-out reaches both, `/banter status` answers
from each shard, and the scheduled fine-tune starts once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import Storage
from bot.storage.engine import normalise_url
from bot.storage.models import Message, TrainingRun
from bot.storage.text import DEFAULT_COMMAND_PREFIXES, prepare_text, skip_reason
from tests.bot.conftest import REPO, WorkerProcess, eventually, make_models_dir
from tests.bot.test_app import bot_env

POSTGRES_URL = os.environ.get("BANTER_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + ([pytest.param("postgres", marks=pytest.mark.postgres)] if POSTGRES_URL else [])
SHARDS = 2
PAIRS_TO_FINETUNE = 20
NOT_STARTED_HERE = "scheduled fine-tune due, not started here"


@pytest.fixture(scope="module")
def worker(tiny_model_dir, tmp_path_factory):
    """The shards' one worker; a module's own, since the fine-tune adds a model version to it."""
    base = tmp_path_factory.mktemp("shard-worker")
    proc = WorkerProcess(make_models_dir(tiny_model_dir, base / "models"), base / "worker.log").start()
    yield proc
    proc.kill()


@pytest.fixture(params=BACKENDS)
async def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    engine = create_async_engine(normalise_url(POSTGRES_URL))
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return POSTGRES_URL


@dataclass
class Shard:
    id: int
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def says(self, line: str) -> int:
        return self.log().count(line)


def start_shard(shard_id: int, server, worker, db_url: str, tmp_path: Path) -> Shard:
    config = tmp_path / "shards.toml"
    config.write_text(
        f'[bot]\nstate_dir = "{tmp_path / "state"}"\nuser_cooldown_seconds = 0\nchannel_per_seconds = 0\n'
        f"finetune_interval_hours = 24\nfinetune_min_pairs = {PAIRS_TO_FINETUNE}\nfinetune_check_minutes = 0.02\n"
        "finetune_poll_seconds = 0.2\nfinetune_max_steps = 1\n"
    )
    env = bot_env(
        server,
        tmp_path,
        BANTER_CONFIG=str(config),
        BANTER_DATABASE_URL=db_url,
        BANTER_WORKER_URL=worker.url,
        BANTER_SHARD_ID=str(shard_id),
        BANTER_SHARD_COUNT=str(SHARDS),
    )
    log = tmp_path / f"shard-{shard_id}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Shard(shard_id, proc, log)


async def stored(db_url: str, *columns):
    engine = create_async_engine(normalise_url(db_url))
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(*columns))).all()
    finally:
        await engine.dispose()


def replied_to(sent) -> str | None:
    """The id of the message a bot's message replies to (ids are strings in Discord's JSON)."""
    reference = sent.body.get("message_reference")
    return str(reference["message_id"]) if reference else None


def learnable(sent) -> bool:
    """Whether storage keeps the bot's own reply: the tiny model samples, and a reply of only punctuation or
    emoji is skipped by the same rule the bot applies."""
    text = prepare_text(sent.body.get("content", ""))
    return skip_reason(text, author_is_bot=True, is_own=True, command_prefixes=DEFAULT_COMMAND_PREFIXES) is None


async def logged_ids(db_url: str, ids: set[str]) -> bool:
    return ids <= {str(row.id) for row in await stored(db_url, Message.id)}


async def finished_runs(db_url: str) -> list | None:
    runs = await stored(db_url, TrainingRun.id, TrainingRun.status)
    return runs if runs and all(r.status != "running" for r in runs) else None


async def worker_jobs(worker) -> list[dict]:
    async with aiohttp.ClientSession() as http, http.get(worker.url + "/v1/jobs") as response:
        return (await response.json())["jobs"]


async def slash(server, guild, channel, user, *path, options=None):
    record = await server.invoke_slash(guild, channel, user, "banter", *path, options=options)
    await record.wait(lambda r: r.response_type == 4 or r.followups, timeout=15)
    return record.callbacks[0]["data"]["content"] if record.response_type == 4 else record.followups[-1]["content"]


async def test_two_shards_share_one_database_and_one_worker(server, worker, db_url, tmp_path):
    alice, bob, carol = (server.add_user(name) for name in ("alice", "bob", "carol"))
    guilds = [server.add_guild(f"guild {k}", alice, shard=(k, SHARDS)) for k in range(SHARDS)]
    channels = [server.add_channel(g, "general") for g in guilds]
    for guild in guilds:
        server.add_member(guild, bob)
        server.add_member(guild, carol)
    shards = [start_shard(k, server, worker, db_url, tmp_path) for k in range(SHARDS)]
    bot_mention = f"<@{server.bot_user.id}>"
    try:
        for shard in shards:  # both start at once on an empty database: one migrates it, the other waits
            await server.wait_until(lambda s=shard: s.says("ready as") or s.proc.poll() is not None, timeout=60)
            assert shard.proc.poll() is None, shard.log()
        assert sorted(p["shard"] for p in server.gateway.identify_payloads) == [[0, 2], [1, 2]]
        assert server.sync_count == 1  # commands are global: shard 0 syncs them

        # Each guild's commands reach its own shard.
        for guild, channel in zip(guilds, channels, strict=True):
            answer = await slash(server, guild, channel, alice, "channels", options={"learn": True})
            assert f"Updated <#{channel.id}>" in answer

        # Chat in both guilds and a DM: each message is handled once, by its guild's shard (DMs: shard 0).
        human, mentions = [], []
        for i in range(3):  # one mention at a time per channel: a channel has one reply in flight at most
            asked = []
            for channel in channels:
                human.append(await server.user_says(channel, bob, f"bob speaks {i} in {channel.name} {channel.id}"))
                asked.append(await server.user_says(channel, carol, f"{bot_mention} carol asks {i} {channel.id}"))
            if i == 0:
                asked.append(await server.user_dms(carol, "a direct question"))
            for mention in asked:
                await server.wait_until(
                    lambda m=mention: any(replied_to(s) == m["id"] for s in server.sent_messages), timeout=30
                )
            # A channel's reply is done (no longer in flight) once the shard has logged it.
            answers = {
                str(s.id)
                for s in server.sent_messages
                if replied_to(s) in {m["id"] for m in asked[:2]} and learnable(s)
            }
            await eventually(lambda a=answers: logged_ids(db_url, a), timeout=90, interval=0.2)
            mentions += asked
        human += [m for m in mentions if int(m["channel_id"]) in {c.id for c in channels}]
        replies = [s for s in server.sent_messages if s.body.get("message_reference")]
        guild_replies = [s for s in replies if s.channel_id in {c.id for c in channels}]
        ids = {m["id"] for m in human} | {str(s.id) for s in guild_replies if learnable(s)}
        await eventually(lambda: logged_ids(db_url, ids), timeout=90, interval=0.2)
        assert sorted(replied_to(s) for s in replies) == sorted(m["id"] for m in mentions)
        rows = await stored(db_url, Message.id, Message.is_own)
        assert sorted(str(r.id) for r in rows) == sorted(ids)  # each once, both shards', and no DM
        assert len(guild_replies) == 6
        assert sum(r.is_own for r in rows) == sum(learnable(s) for s in guild_replies)

        # An opt-out through shard 0 (a DM) holds in shard 1's guild at once.
        dm = server.world.dm_channel(bob)
        assert "opted out" in await slash(server, None, dm, bob, "optout")
        await server.user_says(channels[1], bob, "bob after opting out")
        last = await server.user_says(channels[1], carol, "carol is still logged")
        await eventually(lambda: logged_ids(db_url, {last["id"]}), timeout=90, interval=0.2)
        contents = {r.content for r in await stored(db_url, Message.content)}
        assert "carol is still logged" in contents and "bob after opting out" not in contents
        assert not any("bob speaks" in c for c in contents)

        # The fine-tune: due in both shards while a third process holds the lease, then started by one.
        jobs_before = len(await worker_jobs(worker))
        storage = await Storage.open(db_url)
        try:
            async with storage.exclusive("finetune") as held:
                assert held
                for i in range(PAIRS_TO_FINETUNE + 2):
                    for k, channel in enumerate(channels):
                        who = (alice, carol)[(i + k) % 2]
                        await server.user_says(channel, who, f"line {i} of a long talk about topic {k} by {who.name}")
                for shard in shards:
                    await server.wait_until(lambda s=shard: s.says(NOT_STARTED_HERE), timeout=60)
                for k, (guild, channel) in enumerate(zip(guilds, channels, strict=True)):
                    status = await slash(server, guild, channel, server.owner_user, "status")
                    assert f"on shard {k} of 2" in status and "**Fine-tune**: running now" in status
                    assert "**Worker**: up" in status
                refused = [s.says(NOT_STARTED_HERE) for s in shards]
            await server.wait_until(lambda: any(s.says("(scheduled)") for s in shards), timeout=60)
            [runner] = [s for s in shards if s.says("(scheduled)")]
            [other] = [s for s in shards if s is not runner]
            # The other shard finds it due and locked while it runs (its checks come every 1.2 s).
            await server.wait_until(lambda: other.says(NOT_STARTED_HERE) > refused[other.id], timeout=60)
            runs = await eventually(lambda: finished_runs(db_url), timeout=180, interval=0.5)
            assert [r.status for r in runs] == ["succeeded"], runner.log()[-3000:]
            assert len(await worker_jobs(worker)) == jobs_before + 1
        finally:
            await storage.close()

        for shard in shards:
            shard.proc.send_signal(signal.SIGTERM)
        for shard in shards:
            assert await asyncio.to_thread(shard.proc.wait, 30) == 0, shard.log()[-3000:]
            assert " ERROR " not in shard.log() and "Traceback" not in shard.log(), shard.log()[-3000:]
    finally:
        for shard in shards:
            if shard.proc.poll() is None:
                shard.proc.kill()
                shard.proc.wait()
