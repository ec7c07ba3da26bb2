"""The chat cog: every new message goes to the shared conversation path."""

from __future__ import annotations

import discord
from discord.ext import commands

from ._adapters import DiscordChannel, chat_message


class ChatCog(commands.Cog):
    def __init__(self, bot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        bot_id = self.bot.user.id
        await self.bot.chat.handle(chat_message(message, bot_id), DiscordChannel(message.channel, bot_id))
