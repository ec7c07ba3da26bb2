"""The Banter bot class itself: the heartbeat the container health check reads, and malformed gateway events."""

from __future__ import annotations

import os
import time

from tests.discord_server import payloads as P


async def test_heartbeat_file_is_touched_while_connected(server, world, fake_worker, start_bot, tmp_path, monkeypatch):
    beat = tmp_path / "heartbeat"
    monkeypatch.setenv("BANTER_HEARTBEAT_FILE", str(beat))
    started = time.time()
    async with start_bot(fake_worker.url) as bot:
        await server.wait_until(beat.exists, timeout=10)
        assert os.path.getmtime(beat) >= started - 1
        assert bot.heartbeat.is_running()
    assert not beat.exists() or os.path.getmtime(beat) <= time.time()


async def test_a_malformed_gateway_event_is_dropped_and_the_session_goes_on(
    server, world, fake_worker, start_bot, caplog
):
    # Issue 12, item 12: a MESSAGE_CREATE with `"guild_id": null` made discord.py raise TypeError out of the
    # gateway, which ended the bot. Now it costs that one event and one log line, not the session.
    async with start_bot(fake_worker.url) as bot:
        message = P.message_payload(
            server.world, id=server.world.ids.next(), channel=world.general, author=world.bob, content="odd"
        )
        server.gateway.dispatch("MESSAGE_CREATE", {**P.gateway_message(server.world, message), "guild_id": None})
        await server.user_dms(world.carol, f"<@{server.bot_user.id}> still there?")
        assert (await server.wait_for_message()).content == fake_worker.reply_text
        assert bot.is_ready() and server.identify_count == 1 and server.resume_count == 0
    [line] = [r.getMessage() for r in caplog.records if r.name == "banter.connection"]
    assert line.startswith("dropped a malformed MESSAGE_CREATE event from Discord (TypeError: ")
