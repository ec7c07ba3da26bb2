"""Who may run which slash command, and the clear ephemeral refusal everyone else gets."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

log = logging.getLogger("banter.commands")


class Refusal(app_commands.CheckFailure):
    """A check said no; `str(refusal)` is what the person reads."""


def manage_server():
    """People with Manage Server in the guild the command runs in."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild is None:
            raise Refusal("This command works in a server, not in direct messages.")
        if not interaction.permissions.manage_guild:
            raise Refusal("You need the **Manage Server** permission to do that.")
        return True

    return app_commands.check(predicate)


def bot_admin():
    """The bot's owner (or team) and the admins named in its config: the model is shared by every server."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if await interaction.client.is_bot_admin(interaction.user):
            return True
        raise Refusal(
            "Only the bot's owner and the admins named in its configuration can do that, "
            "because the model is shared by every server."
        )

    return app_commands.check(predicate)


async def answer(interaction: discord.Interaction, content: str | None = None, **kwargs) -> None:
    """An ephemeral answer whether or not the interaction was acknowledged already."""
    kwargs.setdefault("ephemeral", True)
    if interaction.response.is_done():
        await interaction.followup.send(content, **kwargs)
    else:
        await interaction.response.send_message(content, **kwargs)


class BanterTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, Refusal):
            message = str(error)
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        elif isinstance(error, app_commands.TransformerError):
            message = f"I couldn't understand `{error.value}` for that option."
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("slash command /%s failed", name, exc_info=error)
            message = "Something went wrong on my side; it has been logged."
        try:
            await answer(interaction, message)
        except discord.HTTPException as exc:
            log.warning("could not send the error message: %s", exc)
