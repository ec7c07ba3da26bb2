"""The admin cog: /banter channels and settings (Manage Server); models, rollback and status (bot admins)."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.checks import Refusal, answer, bot_admin, manage_server
from bot.exts._base import BanterCog
from bot.worker import WorkerError, WorkerUnavailable

from ._format import models_text, next_finetune_line, settings_text, storage_line, worker_line

RESTING = "The worker isn't reachable right now; I'm resting until it's back. `/banter status` shows why."
CHANCES = [
    (0.0, "never (only when spoken to)"),
    (0.01, "1%"),
    (0.02, "2%"),
    (0.05, "5% (default)"),
    (0.1, "10%"),
    (0.25, "25%"),
]


class AdminCog(BanterCog):
    # -- per guild (Manage Server) ----------------------------------------------------------------
    @app_commands.command(
        name="channels", description="Which channels Banter learns from and answers in (Manage Server)"
    )
    @app_commands.describe(
        channel="The channel to change (default: this one)",
        learn="Learn from the messages written in it",
        reply="Join in there now and then, by the reply chance (mentions are answered anywhere)",
    )
    @manage_server()
    async def channels(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        learn: bool | None = None,
        reply: bool | None = None,
    ) -> None:
        storage = self.bot.storage
        current = await storage.get_guild_settings(interaction.guild_id)
        if learn is None and reply is None:
            await answer(interaction, settings_text(current))
            return
        target = channel.id if channel is not None else interaction.channel_id
        learning, replying = set(current.learning_channels), set(current.reply_channels)
        for wanted, chosen in ((learn, learning), (reply, replying)):
            if wanted is True:
                chosen.add(target)
            elif wanted is False:
                chosen.discard(target)
        new = await storage.update_guild_settings(
            interaction.guild_id, actor_id=interaction.user.id, learning_channels=learning, reply_channels=replying
        )
        await answer(interaction, f"Updated <#{target}>.\n" + settings_text(new))

    @app_commands.command(name="settings", description="Reply chance, cooldown, on/off in this server (Manage Server)")
    @app_commands.describe(
        reply_chance="Share of messages in reply channels Banter answers unprompted, 0 to 1",
        cooldown="Seconds between unprompted replies in a channel",
        enabled="Whether Banter answers and learns in this server at all",
    )
    @manage_server()
    async def settings(
        self,
        interaction: discord.Interaction,
        reply_chance: app_commands.Range[float, 0.0, 1.0] | None = None,
        cooldown: app_commands.Range[float, 0.0, 86400.0] | None = None,
        enabled: bool | None = None,
    ) -> None:
        storage = self.bot.storage
        if reply_chance is None and cooldown is None and enabled is None:
            await answer(interaction, settings_text(await storage.get_guild_settings(interaction.guild_id)))
            return
        new = await storage.update_guild_settings(
            interaction.guild_id,
            actor_id=interaction.user.id,
            reply_chance=reply_chance,
            cooldown_seconds=cooldown,
            enabled=enabled,
        )
        await answer(interaction, "Saved.\n" + settings_text(new))

    @settings.autocomplete("reply_chance")
    async def reply_chance_choices(self, interaction: discord.Interaction, current: str):
        return [
            app_commands.Choice(name=name, value=value)
            for value, name in CHANCES
            if not current or str(value).startswith(current) or current in name
        ]

    # -- the shared model (bot admins) ---------------------------------------------------------------
    @app_commands.command(name="models", description="The model versions and their metrics (bot admins)")
    @bot_admin()
    async def models(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            active, versions = await self.bot.worker.models()
        except WorkerUnavailable:
            raise Refusal(RESTING) from None
        await answer(interaction, models_text(active, versions))

    @app_commands.command(name="rollback", description="Make an earlier model version the active one (bot admins)")
    @app_commands.describe(
        version="The version to activate", force="Activate it even though the quality gate rejected it (recorded)"
    )
    @bot_admin()
    async def rollback(self, interaction: discord.Interaction, version: str, force: bool = False) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            info = await self.bot.worker.activate(version, force=force)
        except WorkerUnavailable:
            raise Refusal(RESTING) from None
        except WorkerError as exc:
            raise Refusal(f"Could not activate `{version}`: {exc.message}") from None
        details = {"version": info.version, **({"forced": True} if info.forced else {})}
        await self.bot.storage.record_audit("model.rollback", actor_id=interaction.user.id, details=details)
        forced = " (over the quality gate's rejection)" if info.forced and force else ""
        await answer(interaction, f"`{info.version}` is now the active model{forced}.")

    @rollback.autocomplete("version")
    async def version_choices(self, interaction: discord.Interaction, current: str):
        try:
            active, versions = await self.bot.worker.models()
        except WorkerError:
            return []
        return [
            app_commands.Choice(name=f"{v.version} ({v.status})", value=v.version)
            for v in versions
            if v.version != active and v.status != "rejected" and current.lower() in v.version.lower()
        ][:25]

    @app_commands.command(name="status", description="Worker health, model, queue, pairs, next fine-tune (bot admins)")
    @bot_admin()
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot, health = self.bot, self.bot.worker.health
        info = None
        if health.up:
            try:
                info = await bot.worker.healthz()
            except WorkerError:
                info = None
        counts = await bot.storage.pair_counts()
        when, new = await bot.finetuner.next_due()
        chat = bot.chat.counts
        lines = [
            worker_line(health, info),
            storage_line(bot.storage.write_backlog),
            f"**Pairs logged**: {counts.total} ({counts.since_last_run} since the last fine-tune)",
            next_finetune_line(
                await bot.finetuner.running_anywhere(),
                when,
                new,
                bot.finetuner.min_pairs,
                bot.config.finetune_interval_hours > 0,
            ),
            f"**Since start**: {chat['seen']} messages seen, {chat['replies']} replies, "
            f"{chat['resting_notices']} resting notices; {len(bot.guilds)} server(s)"
            + (f" on shard {bot.shard_id} of {bot.shard_count}" if bot.shard_count and bot.shard_count > 1 else ""),
        ]
        await answer(interaction, "\n".join(lines))
