"""Slash commands end to end: tree.sync() PUTs the commands, INTERACTION_CREATE runs them, responses come back."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from .conftest import make_bot

seen: dict = {}


def banter_commands() -> app_commands.Group:
    banter = app_commands.Group(name="banter", description="Talk to Banter")
    config = app_commands.Group(name="config", description="Settings", parent=banter)

    @banter.command(name="ask", description="Ask Banter something")
    async def ask(interaction: discord.Interaction, text: str, channel: discord.TextChannel | None = None):
        seen["ask"] = (text, channel, interaction.permissions, interaction.app_permissions, interaction.user)
        response = await interaction.response.send_message(f"thinking about {text}", ephemeral=True)
        seen["callback"] = response
        followup = await interaction.followup.send("here is more", ephemeral=True, wait=True)
        seen["followup"] = followup
        edited = await interaction.edit_original_response(content="done thinking")
        seen["edited"] = edited

    @config.command(name="set", description="Change a setting")
    async def set_(interaction: discord.Interaction, key: str, value: int):
        await interaction.response.defer(thinking=True)
        original = await interaction.original_response()
        seen["deferred_loading"] = original.flags.loading
        await interaction.edit_original_response(content=f"{key} = {value}")

    return banter


async def test_group_syncs_and_subcommand_runs_with_ephemeral_reply_followup_and_edit(server, world):
    seen.clear()
    bot = make_bot()

    async def setup_hook():
        bot.tree.add_command(banter_commands())
        seen["synced"] = await bot.tree.sync()

    bot.setup_hook = setup_hook
    async with server.run_bot(bot):
        [sync] = server.command_syncs
        assert sync.guild_id is None and [c["name"] for c in sync.body] == ["banter"]
        [synced] = seen["synced"]
        assert synced.id == int(server.world.global_commands["banter"]["id"])
        assert {o.name for o in synced.options} == {"ask", "config"}

        record = await server.invoke_slash(
            world.guild, world.general, world.bob, "banter", "ask", options={"text": "cats", "channel": world.random}
        )
        followups = await record.wait_for_followups(1)
        await record.wait_for_edits(1)
        await server.wait_until(lambda: "edited" in seen)  # the bot has read the PATCH's answer

        response = await record.wait_for_response()
        assert response["type"] == 4 and response["data"]["content"] == "thinking about cats"
        assert record.ephemeral and response["data"]["flags"] == 64
        assert followups[0]["content"] == "here is more" and followups[0]["flags"] == 64
        assert record.edits == [("@original", record.edits[0][1])]
        assert record.edits[0][1]["content"] == "done thinking"
        assert record.original["content"] == "done thinking"

        text, channel, perms, app_perms, user = seen["ask"]
        assert text == "cats" and channel.id == world.random.id
        assert perms.manage_messages and not perms.administrator  # from bob's mods role
        assert app_perms.send_messages and user.id == world.bob.id
        assert seen["callback"].message_id == int(record.original["id"])
        assert seen["followup"].content == "here is more" and seen["followup"].flags.ephemeral
        assert seen["edited"].content == "done thinking"
        # ephemeral messages never land in the channel
        assert server.messages_in(world.general) == []
        posts = server.requests_to("POST", "/interactions/{interaction_id}/{token}/callback")
        assert posts[0].query.get("with_response") in ("1", "true") and posts[0].status == 200

        # the same global command from a DM: no guild, a user instead of a member
        seen.clear()
        dm = server.world.dm_channel(world.carol)
        record = await server.invoke_slash(None, dm, world.carol, "banter", "ask", options={"text": "dogs"})
        await record.wait_for_edits(1)
        await server.wait_until(lambda: "edited" in seen)
        text, channel, perms, app_perms, user = seen["ask"]
        assert text == "dogs" and channel is None and isinstance(user, discord.User)
        assert record.followups[0]["content"] == "here is more"
        assert server.sync_count == 1


async def test_subcommand_group_with_deferred_public_response(server, world):
    seen.clear()
    bot = make_bot()
    guild_obj = discord.Object(id=world.guild.id)

    async def setup_hook():
        bot.tree.add_command(banter_commands(), guild=guild_obj)
        await bot.tree.sync(guild=guild_obj)

    bot.setup_hook = setup_hook
    async with server.run_bot(bot):
        assert [s.guild_id for s in server.command_syncs] == [world.guild.id]
        with pytest.raises(LookupError):
            await server.invoke_slash(world.guild, world.general, world.carol, "banter", "nope")
        record = await server.invoke_slash(
            world.guild,
            world.general,
            world.carol,
            "banter",
            "config",
            "set",
            options={"key": "temperature", "value": 7},
        )
        await record.wait_for_edits(1)
        await server.wait_until(lambda: "deferred_loading" in seen)
        assert record.payload["data"]["options"][0]["options"][0]["name"] == "set"
        assert record.response_type == 5 and not record.ephemeral
        assert seen["deferred_loading"] is True
        assert record.original["content"] == "temperature = 7" and not record.original["flags"] & 128
        # a public response is a real channel message
        assert [m["content"] for m in server.messages_in(world.general)] == ["temperature = 7"]


async def test_slow_or_double_acknowledgement_is_refused_like_discord(server, world):
    bot = make_bot()
    errors = []
    tree_cmd = app_commands.Command(name="twice", description="answers twice", callback=_twice(errors))

    async def setup_hook():
        bot.tree.add_command(tree_cmd)
        await bot.tree.sync()

    bot.setup_hook = setup_hook
    async with server.run_bot(bot):
        record = await server.invoke_slash(world.guild, world.general, world.bob, "twice")
        await server.wait_until(lambda: errors)
        assert isinstance(errors[0], discord.HTTPException) and errors[0].code == 40060
        assert len(record.callbacks) == 1


def _twice(errors):
    async def twice(interaction: discord.Interaction):
        await interaction.response.defer()
        try:
            await interaction.client.http.request(  # a second initial response, bypassing discord.py's guard
                discord.http.Route("POST", "/interactions/{i}/{t}/callback", i=interaction.id, t=interaction.token),
                json={"type": 4, "data": {"content": "again"}},
            )
        except discord.HTTPException as exc:
            errors.append(exc)

    return twice
