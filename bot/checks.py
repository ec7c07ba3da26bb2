"""Who may run which slash command, the clear ephemeral refusal everyone else gets, and the answer when one fails."""

from __future__ import annotations

import logging

import discord
from discord import AppCommandOptionType, ChannelType, app_commands

from bot.failures import CONNECTION_ERRORS, DISCORD_ERRORS, describe

log = logging.getLogger("banter.commands")

# What an option of each type wants, as the person reads it (channels are named by their types instead).
EXPECTED = {
    AppCommandOptionType.string: "some text",
    AppCommandOptionType.integer: "a whole number",
    AppCommandOptionType.number: "a number",
    AppCommandOptionType.boolean: "true or false",
    AppCommandOptionType.user: "a member of this server",
    AppCommandOptionType.role: "a role of this server",
    AppCommandOptionType.mentionable: "a member or a role of this server",
    AppCommandOptionType.attachment: "a file",
}
CHANNEL_WORDS = {
    ChannelType.news: "announcement",
    ChannelType.stage_voice: "stage",
    ChannelType.public_thread: "thread",
}


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


def expected(error: app_commands.TransformerError) -> str:
    """What the option wanted: `a text or announcement channel`, `a number from 0 to 1`."""
    transformer = error.transformer
    if error.type is AppCommandOptionType.channel:
        kinds = dict.fromkeys(CHANNEL_WORDS.get(t, t.name.replace("_", " ")) for t in transformer.channel_types)
        return f"a {' or '.join(kinds)} channel in this server" if kinds else "a channel in this server"
    wanted = EXPECTED.get(error.type, "something else")
    low, high = transformer.min_value, transformer.max_value
    if low is not None and high is not None:
        wanted += f" from {low:g} to {high:g}"
    return wanted


def option_problem(interaction: discord.Interaction, error: app_commands.TransformerError) -> str:
    """Names the option and what it wanted; never echoes the value (a Python repr means nothing to anyone)."""
    name = next((key for key, value in interaction.namespace if value is error.value), None)
    option = f"`{name}`" if name else "That option"
    return f"{option} needs {expected(error)}; what was given isn't one."


def command_name(interaction: discord.Interaction) -> str:
    return interaction.command.qualified_name if interaction.command else "?"


class BanterTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """The person always gets a short answer; a failure to send it is one log line, never an unhandled error."""
        cause = getattr(error, "original", error)
        if isinstance(error, Refusal):
            message = str(error)
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        elif isinstance(error, app_commands.TransformerError):
            message = option_problem(interaction, error)
        elif isinstance(cause, CONNECTION_ERRORS):
            log.warning("slash command /%s: talking to Discord failed: %s", command_name(interaction), describe(cause))
            message = "I couldn't reach Discord just then; please try again."
        else:
            log.error("slash command /%s failed", command_name(interaction), exc_info=error)
            message = "Something went wrong on my side; it has been logged."
        try:
            await answer(interaction, message)
        except DISCORD_ERRORS as exc:
            log.warning("slash command /%s: could not send its answer: %s", command_name(interaction), describe(exc))
