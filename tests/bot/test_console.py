"""`python -m bot --console`: the same conversation path in a terminal, as scripts use it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys

from bot.console import ConsoleChannel, _Ids
from bot.core.sanitize import clean_reply
from bot.storage import Storage, StorageConfig
from tests.bot.conftest import REPO, make_models_dir
from tests.test_architecture import bot_may_import


def clean_env(tmp_path, **extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISCORD_TOKEN", "BANTER_WORKER_URL", "BANTER_WORKER_TOKEN", "BANTER_CONFIG")
    }
    env.update(BANTER_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}", **extra)
    return env


def test_printf_two_lines_prints_two_replies_and_exits_0_with_a_worker_it_started(tiny_model_dir, tmp_path):
    models = make_models_dir(tiny_model_dir, tmp_path / "models")
    env = clean_env(tmp_path, BANTER_WORKER_MODELS=str(models))
    done = subprocess.run(
        "printf 'hello\\nhow are you?\\n' | python -m bot --console",
        shell=True,
        cwd=REPO,
        env={**env, "PATH": f"{os.path.dirname(sys.executable)}:{env['PATH']}"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all(line.strip() for line in lines), done.stdout
    assert "resting" not in done.stdout
    assert (models / "registry.json").exists()  # the spawned worker really served these models


def test_no_token_falls_back_to_the_console_with_a_one_line_notice_and_learns_with_learn(real_worker, tmp_path):
    env = clean_env(tmp_path, BANTER_WORKER_URL=real_worker.url)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--learn"],
        input="hello\nhow are you?\n\nbye\n",
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    notice = [line for line in done.stderr.splitlines() if "DISCORD_TOKEN" in line]
    assert len(notice) == 1 and "console" in notice[0]
    assert len(done.stdout.splitlines()) == 3  # the empty line is nobody speaking

    async def pairs() -> int:
        store = await Storage.open(config=StorageConfig(url=env["BANTER_DATABASE_URL"]))
        try:
            return (await store.pair_counts()).total
        finally:
            await store.close()

    assert asyncio.run(pairs()) >= 2  # each reply of Banter's, then the next line, is a pair


def test_importing_and_running_the_bot_never_imports_the_model_stack(real_worker, tmp_path):
    code = """
import io, json, sys
import bot, bot.app, bot.client, bot.console
import bot.exts.chat._cog, bot.exts.learning._cog, bot.exts.admin._cog, bot.exts.privacy._cog
sys.stdin = io.StringIO("hello\\n")
rc = bot.app.main(["--console"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax", "torch", "nltk"))
seq2seq = sorted(m for m in sys.modules if m.startswith("seq2seq"))
print(json.dumps({"rc": rc, "heavy": heavy, "seq2seq": seq2seq}))
"""
    env = clean_env(tmp_path, BANTER_WORKER_URL=real_worker.url)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["rc"] == 0 and len(done.stdout.splitlines()) == 2
    assert result["heavy"] == [] and [m for m in result["seq2seq"] if not bot_may_import(m)] == []


def test_the_terminal_writes_a_custom_emoji_by_its_name():
    emojis = ConsoleChannel(_Ids(), io.StringIO()).custom_emoji()
    assert clean_reply("<:kekwait:id> so true <:", None, emojis) == ":kekwait: so true"
