"""The worker dies mid-conversation: the bot keeps running and logging, rests politely, and resumes by itself."""

from __future__ import annotations

import asyncio

from tests.bot.conftest import WorkerProcess, eventually, learn_in, make_models_dir, replies_done


async def test_worker_killed_then_replaced_bot_rests_once_per_window_and_resumes(
    server, world, storage, tiny_model_dir, tmp_path, start_bot
):
    worker = WorkerProcess(make_models_dir(tiny_model_dir, tmp_path / "models"), tmp_path / "worker.log").start()
    await learn_in(storage, world.guild, world.general, reply=True)
    await storage.update_guild_settings(world.guild.id, reply_chance=1.0, cooldown_seconds=0)
    mention = f"<@{server.bot_user.id}>"
    try:
        async with start_bot(worker.url, resting_notice_seconds=60, worker_probe_max_seconds=0.5) as bot:
            await server.user_says(world.general, world.bob, f"{mention} hello")
            first = await server.wait_for_message(world.general, timeout=10)
            assert first.content != bot.chat.resting_text
            await replies_done(bot, 1)

            worker.kill()  # mid-conversation
            await server.user_says(world.general, world.carol, f"{mention} still there?")
            resting = await server.wait_for_message(world.general, timeout=10)
            assert resting.content == bot.chat.resting_text and resting.allowed_mentions == {"parse": []}
            for i in range(3):  # mentions, and chatter the reply chance would pick: no more notices
                await server.user_says(world.general, world.bob, f"{mention} hello? {i}")
                await server.user_says(world.general, world.carol, f"just chatting {i}")
            await eventually(lambda: bot.chat.counts["seen"] == 8)
            # The barrier: a DM is another channel, so it gets its own notice, after all of the above.
            await server.user_dms(world.carol, "are you there?")
            dm = await server.wait_for_message(server.world.dm_channel(world.carol), timeout=10)
            assert dm.content == bot.chat.resting_text
            assert len(server.sent_messages) == 3 and not bot.is_closed()
            assert not bot.worker.health.up
            record = await server.invoke_slash(world.guild, world.general, server.owner_user, "banter", "status")
            await record.wait(lambda r: r.followups, timeout=10)
            assert "**Worker**: resting since" in record.followups[0]["content"]
            # logging goes on while resting
            assert len((await storage.export_user_data(world.carol.id))["messages"]) == 4

            replacement = WorkerProcess(worker.models, tmp_path / "worker2.log", port=worker.port)
            await asyncio.to_thread(replacement.start)
            worker = replacement
            await eventually(lambda: bot.worker.health.up, timeout=10)
            await server.user_says(world.general, world.bob, f"{mention} welcome back")
            back = await server.wait_for_message(world.general, timeout=10)
            assert back.content != bot.chat.resting_text
    finally:
        worker.kill()
