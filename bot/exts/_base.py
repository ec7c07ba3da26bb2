"""A cog whose slash commands live under the shared `/banter` group instead of at the top level."""

from __future__ import annotations

from discord.ext import commands


class BanterCog(commands.Cog):
    """Features are separate cogs, but Discord shows one `/banter` command with subcommands."""

    def __init__(self, bot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # discord.py bound the cog's commands to this instance; hand them to the group before
        # Cog._inject would add them to the tree as top-level commands.
        commands_ = list(self.__cog_app_commands__)
        self.__cog_app_commands__ = []
        for command in commands_:
            self.bot.banter_group.add_command(command, override=True)
        self._grouped = commands_

    async def cog_unload(self) -> None:
        for command in getattr(self, "_grouped", []):
            self.bot.banter_group.remove_command(command.name)
