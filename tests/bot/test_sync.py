"""Slash commands are synced only when the command tree changed (Discord allows 200 creations a day)."""

from __future__ import annotations

import json

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
