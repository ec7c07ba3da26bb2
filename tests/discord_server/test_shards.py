"""Shards: two real discord.py clients, one shard each; the server routes each guild's events to its shard."""

from __future__ import annotations

import contextlib

import discord
import pytest

from .conftest import make_bot
from .state import shard_of


def shard_bot(shard_id: int, seen: list) -> discord.Client:
    bot = make_bot(shard_id=shard_id, shard_count=2)

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    bot.add_listener(on_message)
    return bot


def receivers(server, event: str, content: str) -> set[int]:
    """The shards whose sessions the server dispatched that message to."""
    shards = {s.id: s.shard[0] for s in server.gateway.sessions.values()}
    return {shards[sid] for sid, _, t, d in server.gateway.dispatched if t == event and d.get("content") == content}


async def test_each_shard_gets_its_guilds_and_dms_go_to_shard_zero(server):
    alice = server.add_user("alice")
    guilds = [server.add_guild(f"guild on shard {k}", alice, shard=(k, 2)) for k in (0, 1)]
    assert [shard_of(g.id, 2) for g in guilds] == [0, 1]
    channels = [server.add_channel(g, "general") for g in guilds]
    seen: list[list[str]] = [[], []]
    bots = [shard_bot(k, seen[k]) for k in (0, 1)]
    async with server.run_bot(bots[0]), server.run_bot(bots[1]):
        assert sorted(p["shard"] for p in server.gateway.identify_payloads) == [[0, 2], [1, 2]]
        assert [[g.id for g in bot.guilds] for bot in bots] == [[guilds[0].id], [guilds[1].id]]
        await server.user_says(channels[1], alice, "to guild one")
        await server.user_says(channels[0], alice, "to guild zero")
        await server.user_dms(alice, "a direct message")
        await server.wait_until(lambda: len(seen[0]) == 2 and len(seen[1]) == 1)
        assert seen == [["to guild zero", "a direct message"], ["to guild one"]]
        assert receivers(server, "MESSAGE_CREATE", "to guild zero") == {0}
        assert receivers(server, "MESSAGE_CREATE", "to guild one") == {1}
        assert receivers(server, "MESSAGE_CREATE", "a direct message") == {0}


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2)])
async def test_an_impossible_shard_is_closed_with_4010(server, shard):
    bot = make_bot(shard_id=shard[0], shard_count=shard[1])
    with pytest.raises(discord.ConnectionClosed) as closed:
        async with server.run_bot(bot):
            pass
    assert closed.value.code == 4010
    with contextlib.suppress(Exception):
        await bot.close()
