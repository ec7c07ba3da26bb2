"""Gateway trouble and rate limits: RECONNECT/drop lead to RESUME with a single replay; 429s are waited out."""

from __future__ import annotations

import asyncio

import discord

from .conftest import make_bot


def counting_bot():
    bot = make_bot()
    bot.seen = []
    bot.resumed = 0

    @bot.event
    async def on_message(message: discord.Message):
        if not message.author.bot:
            bot.seen.append(message.content)

    @bot.event
    async def on_resumed():
        bot.resumed += 1

    return bot


async def test_reconnect_resumes_and_replays_missed_events_exactly_once(server, world):
    bot = counting_bot()
    async with server.run_bot(bot):
        await server.user_says(world.general, world.bob, "before")
        await server.wait_until(lambda: bot.seen == ["before"])
        assert await server.send_reconnect() == 1
        for i in range(3):  # sent while the bot is away: buffered, replayed on RESUME
            await server.user_says(world.general, world.bob, f"during {i}")
        await server.wait_until(lambda: server.resume_count == 1 and server.gateway.connected())
        await server.user_says(world.general, world.bob, "after")
        await server.wait_until(lambda: len(bot.seen) >= 5)
        await asyncio.sleep(0.2)  # room for any duplicate to show up
        assert bot.seen == ["before", "during 0", "during 1", "during 2", "after"]
        assert server.identify_count == 1 and bot.resumed == 1
        resume = server.gateway.resume_payloads[0]
        [session] = server.gateway.live_sessions()
        assert resume["session_id"] == session.id
        assert [t for _, _, t in server.gateway.replayed] == ["MESSAGE_CREATE"] * 3
        assert server.gateway.connect_paths[1].startswith("/resume-gateway?")  # resume_gateway_url was used


async def test_dropped_socket_resumes_and_invalid_session_reidentifies(server, world):
    bot = counting_bot()

    async def before_identify_hook(shard_id, *, initial=False):
        bot.reidentified = not initial  # discord.py's default sleeps 5 s before every IDENTIFY but the first

    bot.before_identify_hook = before_identify_hook
    async with server.run_bot(bot):
        await server.drop_gateway()
        await server.user_says(world.general, world.carol, "while dropped")
        await server.wait_until(lambda: bot.seen == ["while dropped"])
        assert server.resume_count == 1 and server.identify_count == 1

        await server.invalid_session(resumable=False)
        await server.wait_until(lambda: server.identify_count == 2 and server.gateway.connected())
        await server.user_says(world.general, world.carol, "new session")
        await server.wait_until(lambda: bot.seen == ["while dropped", "new session"])
        assert len(server.gateway.live_sessions()) == 1 and bot.reidentified
        assert bot.get_guild(world.guild.id) is not None


async def test_429_is_honoured_and_retried_after_retry_after(server, world):
    bot = make_bot()

    @bot.event
    async def on_message(message: discord.Message):
        if not message.author.bot:
            async with message.channel.typing():
                await message.channel.send("pong")

    rule = server.rate_limit("POST", "/channels/{channel_id}/messages", times=1, retry_after=0.5)
    server.rate_limit("POST", "/channels/{channel_id}/typing", times=1, retry_after=0.3, is_global=True)
    async with server.run_bot(bot):
        await server.user_says(world.general, world.bob, "ping")
        sent = await server.wait_for_message(world.general)
        assert sent.content == "pong" and len(server.sent_messages) == 1
        posts = server.requests_to("POST", "/channels/{channel_id}/messages")
        assert [p.status for p in posts] == [429, 200]
        assert posts[1].time - posts[0].time >= 0.5 - 0.02
        assert rule.remaining == 0 and len(rule.hits) == 1
        typing = server.requests_to("POST", "/channels/{channel_id}/typing")
        assert [p.status for p in typing] == [429, 204]
        assert typing[1].time - typing[0].time >= 0.3 - 0.02
