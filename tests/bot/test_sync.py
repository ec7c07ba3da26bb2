"""Slash commands are synced only when the command tree changed (Discord allows 200 creations a day)."""

from __future__ import annotations

import json

import pytest

from tests.bot.conftest import bot_config, running_bot


async def test_commands_sync_once_then_only_when_the_tree_changes(server, world, storage, fake_worker, tmp_path):
    config = bot_config(tmp_path)
    async with running_bot(server, storage, fake_worker.url, config):
        assert server.sync_count == 1
    async with running_bot(server, storage, fake_worker.url, config):  # a restart: same commands
        assert server.sync_count == 1
    state = json.loads((config.state_dir / "command-tree.json").read_text())
    assert list(state) == [str(server.application_id)] and len(state[str(server.application_id)]) == 64
    assert "banter-test-token" not in (config.state_dir / "command-tree.json").read_text()

    state[str(server.application_id)] = "0" * 64  # the tree changed since (say, a new command)
    (config.state_dir / "command-tree.json").write_text(json.dumps(state))
    async with running_bot(server, storage, fake_worker.url, config):
        assert server.sync_count == 2
        record = await server.invoke_slash(world.guild, world.general, world.carol, "banter", "privacy")
        await record.wait_for_response()


@pytest.mark.parametrize("status", [400, 503])
async def test_a_refused_sync_is_logged_and_the_bot_runs_without_it(
    server, world, storage, fake_worker, tmp_path, caplog, status
):
    # Issue 12, item 11: a 400 (or a 5xx past discord.py's retries) from the sync ended the bot before it connected.
    config = bot_config(tmp_path)
    refusal = server.fail("PUT", "/applications/{app_id}/commands", status=status, message="Invalid Form Body")
    async with running_bot(server, storage, fake_worker.url, config) as bot:
        assert refusal.hits and server.sync_count == 0
        await server.user_dms(world.carol, f"<@{server.bot_user.id}> still here?")
        assert (await server.wait_for_message()).content == fake_worker.reply_text
        assert bot.is_ready()
    [line] = [r.getMessage() for r in caplog.records if r.name == "banter.sync"]
    assert "could not sync the slash commands (" in line and str(status) in line and "\n" not in line
    assert not (config.state_dir / "command-tree.json").exists()  # nothing recorded: the next start tries again
    async with running_bot(server, storage, fake_worker.url, config):
        assert server.sync_count == 1
