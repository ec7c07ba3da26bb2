"""A real discord.py Bot logs in, identifies and reaches on_ready with the guild the server describes."""

from __future__ import annotations

import discord
import pytest

from .conftest import make_bot


async def test_bot_reaches_ready_with_guild_channels_roles_members(server, world):
    bot = make_bot()
    ready_guilds = []

    @bot.event
    async def on_ready():
        ready_guilds.extend(bot.guilds)

    async with server.run_bot(bot):
        assert [g.id for g in ready_guilds] == [world.guild.id]
        guild = bot.get_guild(world.guild.id)
        assert guild.name == "Banter HQ" and guild.owner_id == world.owner.id
        assert {c.name for c in guild.text_channels} == {"general", "random"}
        assert guild.get_channel(world.general.id).topic == "chat"
        assert guild.get_channel(world.general.id).category.name == "Text"
        assert [c.name for c in guild.voice_channels] == ["Lounge"]
        assert {r.name for r in guild.roles} == {"@everyone", "mods"}
        assert guild.get_role(world.mods.id).permissions.manage_messages
        assert guild.member_count == 4 and guild.chunked
        bob = guild.get_member(world.bob.id)
        assert bob is not None and [r.name for r in bob.roles] == ["@everyone", "mods"]
        assert guild.me.id == server.bot_user.id and bot.user.bot
        assert bot.application_id == server.application_id
        assert server.identify_count == 1 and server.resume_count == 0
        identify = server.gateway.identify_payloads[0]
        assert identify["intents"] & discord.Intents.message_content.flag
        assert [r.route for r in server.requests if r.path.startswith("/")][:2] == [
            "/users/@me",
            "/oauth2/applications/@me",
        ]
        assert server.gateway.connect_paths[0].startswith("/gateway?v=10&encoding=json")
    assert bot.is_closed()


async def test_guild_join_and_remove_events(server, world):
    bot = make_bot()
    events = []

    @bot.event
    async def on_guild_join(guild):
        events.append(("join", guild.name, len(guild.text_channels)))

    @bot.event
    async def on_guild_remove(guild):
        events.append(("remove", guild.name))

    async with server.run_bot(bot):
        other = server.add_guild("Elsewhere", world.carol)
        server.add_channel(other, "lobby")
        other.members.pop(server.bot_user.id)  # not joined yet
        await server.join_guild(other)
        await server.wait_until(lambda: events)
        await server.remove_guild(world.guild)
        await server.wait_until(lambda: len(events) == 2)
        assert events == [("join", "Elsewhere", 1), ("remove", "Banter HQ")]
        assert [g.id for g in bot.guilds] == [other.id]


async def test_wrong_token_is_a_login_failure(server):
    bot = make_bot()
    with server.patch_discord():
        with pytest.raises(discord.LoginFailure):
            await bot.login("not-the-token")
        await bot.close()
    assert server.requests[-1].status == 401
