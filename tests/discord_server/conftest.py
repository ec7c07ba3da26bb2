"""Fixtures for the Discord test server's own tests: a started server with one guild, and a real bot."""

from __future__ import annotations

from types import SimpleNamespace

import discord
import pytest
from discord.ext import commands

from .server import DiscordTestServer
from .state import GUILD_CATEGORY, GUILD_VOICE, MANAGE_MESSAGES


@pytest.fixture
async def server():
    srv = DiscordTestServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()
    assert srv.errors == [], f"the test server itself failed: {srv.errors!r}"


@pytest.fixture
def world(server):
    """One guild (a category, two text channels, a voice channel), a moderator role, the owner and two members."""
    owner = server.add_user("alice")
    bob = server.add_user("bob")
    carol = server.add_user("carol")
    guild = server.add_guild("Banter HQ", owner)
    category = server.add_channel(guild, "Text", type=GUILD_CATEGORY)
    general = server.add_channel(guild, "general", topic="chat", parent=category)
    random = server.add_channel(guild, "random")
    server.add_channel(guild, "Lounge", type=GUILD_VOICE)
    mods = server.add_role(guild, "mods", MANAGE_MESSAGES)
    server.add_member(guild, bob, [mods])
    server.add_member(guild, carol)
    return SimpleNamespace(guild=guild, general=general, random=random, mods=mods, owner=owner, bob=bob, carol=carol)


def make_bot(**kwargs) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    kwargs.setdefault("guild_ready_timeout", 0.1)
    return commands.Bot(command_prefix="!", intents=intents, **kwargs)
