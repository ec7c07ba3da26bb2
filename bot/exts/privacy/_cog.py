"""The privacy cog: /banter optout, optin, forget-me, my-data and privacy, for everyone."""

from __future__ import annotations

import io
import json
import logging

import discord
from discord import app_commands

from bot.checks import answer
from bot.exts._base import BanterCog

from ._text import privacy_text

log = logging.getLogger("banter.privacy")


class PrivacyCog(BanterCog):
    def _forget_in_memory(self, user_id: int) -> None:
        if self.bot.chat is not None:
            self.bot.chat.turns.forget_author(user_id)

    @app_commands.command(
        name="optout", description="Delete what Banter stored from you and never store your messages again"
    )
    async def optout(self, interaction: discord.Interaction) -> None:
        removed = await self.bot.storage.opt_out(interaction.user.id)
        self._forget_in_memory(interaction.user.id)
        await answer(
            interaction,
            f"Done: you're opted out. I deleted {removed} stored message(s) of yours and "
            "won't store anything you write. `/banter optin` undoes this.",
        )

    @app_commands.command(name="optin", description="Let Banter learn from your messages again")
    async def optin(self, interaction: discord.Interaction) -> None:
        changed = await self.bot.storage.opt_in(interaction.user.id)
        await answer(
            interaction,
            "Welcome back: I'll learn from your messages in learning channels again."
            if changed
            else "You weren't opted out; nothing changed.",
        )

    @app_commands.command(name="forget-me", description="Delete everything Banter stored from you (without opting out)")
    async def forget_me(self, interaction: discord.Interaction) -> None:
        removed = await self.bot.storage.forget_user(interaction.user.id)
        self._forget_in_memory(interaction.user.id)
        await answer(
            interaction,
            f"Deleted {removed} stored message(s) of yours and every pair they were in. "
            "Use `/banter optout` to stop me storing new ones.",
        )

    @app_commands.command(name="my-data", description="Get everything Banter stored about you, as a JSON file in a DM")
    async def my_data(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.bot.storage.export_user_data(interaction.user.id)
        body = json.dumps(data, indent=2, ensure_ascii=False).encode()
        summary = f"{len(data['messages'])} message(s), {len(data['pairs'])} pair(s)"

        def file() -> discord.File:
            return discord.File(io.BytesIO(body), filename=f"banter-data-{interaction.user.id}.json")

        try:
            await interaction.user.send(f"Everything Banter stores about you: {summary}.", file=file())
        except discord.HTTPException as exc:  # DMs closed: the file comes here instead, still only for them
            log.info("could not DM a data export: %s", exc)
            await answer(interaction, f"I couldn't DM you, so here it is privately: {summary}.", file=file())
            return
        await answer(interaction, f"Sent you a DM with your data ({summary}).")

    @app_commands.command(name="privacy", description="What Banter stores, why, and how to delete it")
    async def privacy(self, interaction: discord.Interaction) -> None:
        await answer(interaction, privacy_text(purge_on_guild_leave=self.bot.storage.config.purge_on_guild_leave))
