"""`python -m bot` as a real process on the local Discord server: token from the environment, a worker it starts
itself, replies, a clean stop on SIGTERM; and a refused token."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from tests.bot.conftest import REPO, make_models_dir


def bot_env(server, tmp_path, **extra) -> dict:
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\nstate_dir = "{tmp_path / "state"}"\nfinetune_interval_hours = 0\n')
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


async def test_a_refused_token_exits_with_a_clear_message(server, tmp_path):
    env = bot_env(server, tmp_path, DISCORD_TOKEN="not-the-token", BANTER_WORKER_URL="http://127.0.0.1:9")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Discord refused the token" in done.stderr
    assert "not-the-token" not in done.stderr
