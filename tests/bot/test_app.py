"""`python -m bot` as a real process on the local Discord server: token from the environment, a worker it starts
itself, replies, a clean stop on SIGTERM; a refused token; and what it outlives or refuses in one line: gateway
failures, Discord unreachable or a database locked at start, a database it cannot use."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.worker.process import free_port
from tests.bot.conftest import REPO, make_models_dir
from tests.discord_server import DiscordTestServer
from tests.discord_server import payloads as P
from tests.worker_process import environment_of


def bot_env(server, tmp_path, **extra) -> dict:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bot]\nstate_dir = "{tmp_path / "state"}"\nfinetune_interval_hours = 0\n'
        "[storage]\nbusy_timeout_ms = 200\n"  # a locked database is noticed at once
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANTER_") and k != "DISCORD_TOKEN"}
    env.update(
        {
            "DISCORD_TOKEN": server.token,
            "BANTER_DISCORD_API": server.api_base,
            "BANTER_DISCORD_GATEWAY": server.gateway_url,
            "BANTER_CONFIG": str(config),
            "BANTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            **extra,
        }
    )
    return env


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_python_m_bot_runs_on_discord_with_a_worker_it_starts_and_stops(server, world, tiny_model_dir, tmp_path):
    models = make_models_dir(tiny_model_dir, tmp_path / "models")
    env = bot_env(server, tmp_path, BANTER_WORKER_MODELS=str(models))
    log = tmp_path / "bot.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        await server.wait_until(lambda: server.identify_count == 1 or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, log.read_text()
        assert server.sync_count == 1
        [worker_pid] = children(proc.pid)
        # Issue 12, item 15: the worker got the bot's whole environment, DISCORD_TOKEN and the database URL too.
        worker_env = environment_of(worker_pid)
        assert worker_env["BANTER_LOG_LEVEL"] == "INFO" and worker_env["BANTER_WORKER_MODELS"] == str(models)
        assert "DISCORD_TOKEN" not in worker_env and "BANTER_DATABASE_URL" not in worker_env
        replies = []
        for attempt in range(30):  # the worker loads its model meanwhile: Banter rests (once), then answers
            await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> hello {attempt}")
            try:
                replies.append(await server.wait_for_message(world.general, timeout=2))
            except TimeoutError:
                continue
            if "resting" not in replies[-1].content:
                break
        assert "resting" not in replies[-1].content and replies[-1].allowed_mentions == {"parse": []}
        assert len(replies) <= 2  # at most one resting notice before the answer
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        await asyncio.sleep(0.2)
        assert not alive(worker_pid)  # stopped with the bot
        assert server.token not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


async def run_bot_to_exit(env: dict) -> subprocess.CompletedProcess:
    """`python -m bot` run until it exits by itself (within 60 s), its output captured."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_refused_token_exits_with_a_clear_message(server, tmp_path):
    env = bot_env(server, tmp_path, DISCORD_TOKEN="not-the-token", BANTER_WORKER_URL="http://127.0.0.1:9")
    done = await run_bot_to_exit(env)
    assert done.returncode == 2 and "Discord refused the token" in done.stderr
    assert "not-the-token" not in done.stderr


def start_bot_process(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


async def log_says(log: Path, text: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"the bot exited with {proc.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{log.read_text()}"
        await asyncio.sleep(0.05)


def lines_with(log: Path, text: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if text in line]


async def stop_cleanly(proc: subprocess.Popen, log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 30) == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()


async def test_python_m_bot_outlives_a_malformed_event_and_a_broken_gateway(server, world, fake_worker, tmp_path):
    # Issue 12, item 12: any unexpected exception out of the gateway ended the process for good.
    log = tmp_path / "bot.log"
    proc = start_bot_process(bot_env(server, tmp_path, BANTER_WORKER_URL=fake_worker.url), log)
    try:
        await server.wait_until(lambda: server.identify_count == 1 or proc.poll() is not None, timeout=30)
        await log_says(log, "ready as Banter", proc)
        message = P.message_payload(server.world, id=server.world.ids.next(), channel=world.general, author=world.bob)
        server.gateway.dispatch("MESSAGE_CREATE", {**P.gateway_message(server.world, message), "guild_id": None})
        await log_says(log, "dropped a malformed MESSAGE_CREATE event from Discord (TypeError:", proc)

        assert server.gateway.send_raw("<html>502 Bad Gateway</html>") == 1  # not even JSON: discord.py raises
        await server.wait_until(lambda: server.identify_count == 2 or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, log.read_text()
        [failed] = lines_with(log, "the Discord gateway failed")
        assert "(JSONDecodeError: " in failed and "reconnecting in 1 s" in failed
        await server.user_dms(world.carol, f"<@{server.bot_user.id}> still there?")
        assert (await server.wait_for_message(timeout=15)).content == fake_worker.reply_text
        await stop_cleanly(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_start_up_waits_out_a_locked_database_and_an_unreachable_discord_in_one_line_each(fake_worker, tmp_path):
    # Issue 12, item 14: each of these printed a 34-199-line traceback and ended the bot.
    port = free_port()
    planned = SimpleNamespace(
        token="banter-test-token",
        api_base=f"http://127.0.0.1:{port}/api/v10",
        gateway_url=f"ws://127.0.0.1:{port}/gateway",
    )
    env = bot_env(planned, tmp_path, BANTER_WORKER_URL=fake_worker.url)
    database = tmp_path / "bot.db"
    sqlite3.connect(database).close()
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process's write transaction
    log = tmp_path / "bot.log"
    proc = start_bot_process(env, log)
    server = DiscordTestServer()
    try:
        await log_says(log, "is locked by another process: trying again in 2 s", proc)
        holder.rollback()
        await log_says(log, "cannot log in to Discord (ClientConnectorError: Cannot connect to host", proc)
        await server.start(port=port)
        await server.wait_until(lambda: server.identify_count == 1 or proc.poll() is not None, timeout=60)
        await log_says(log, "ready as Banter", proc)
        for line in lines_with(log, "locked by another process") + lines_with(log, "cannot log in to Discord"):
            assert line.endswith(" s") and "trying again in" in line  # one line each, the whole story

        await server.stop()  # and once more while connected: discord.py's own reconnects, in one line each
        await log_says(log, "Attempting a reconnect in", proc)
        server = DiscordTestServer()
        await server.start(port=port)
        await server.wait_until(lambda: server.identify_count == 1 or proc.poll() is not None, timeout=60)
        assert all("(ClientConnectorError: " in line for line in lines_with(log, "Attempting a reconnect in"))
        await stop_cleanly(proc, log)  # no traceback anywhere in the log
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
        await server.stop()


@pytest.mark.parametrize("problem", ["truncated", "missing folder"])
async def test_a_database_the_bot_cannot_use_is_one_clear_line_and_exit_2(server, tmp_path, problem):
    if problem == "truncated":
        database = tmp_path / "bot.db"
        with sqlite3.connect(database) as conn:
            conn.execute("CREATE TABLE filler (x TEXT)")
            conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
        database.write_bytes(database.read_bytes()[:30_000])  # a copy cut short
        expected = f"error: {database} is damaged or not an SQLite database (database disk image is malformed)"
    else:
        database = tmp_path / "no" / "such" / "folder" / "bot.db"
        expected = f"error: the folder {database.parent} for the database does not exist"
    env = bot_env(server, tmp_path, BANTER_WORKER_URL="http://127.0.0.1:9")
    env["BANTER_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    done = await run_bot_to_exit(env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith(expected), done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "no").exists()
