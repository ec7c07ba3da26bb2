"""A real discord.py Bot logs in, identifies and reaches on_ready with the guild the server describes."""

from __future__ import annotations

import discord

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
            "/users/@me", "/oauth2/applications/@me"]
        assert server.gateway.connect_paths[0].startswith("/gateway?v=10&encoding=json")
    assert bot.is_closed()
