"""The learning cog: applies edits and deletes, imports history, and runs fine-tunes (scheduled or on request)."""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.checks import Refusal, bot_admin, manage_server
from bot.core.finetune import AlreadyRunning, FinetuneReport
from bot.exts._base import BanterCog
from bot.exts._progress import ProgressMessage
from bot.exts.chat._adapters import NO_PINGS

from ._history import import_history, summary
from ._report import chart_file, progress_text, result_text

log = logging.getLogger("banter.learning_cog")

HISTORY_MAX = 10_000


class LearningCog(BanterCog):
    async def cog_load(self) -> None:
        await super().cog_load()
        config = self.bot.config
        if config.finetune_interval_hours > 0:
            self.schedule.change_interval(minutes=config.finetune_check_minutes)
            self.schedule.start()

    async def cog_unload(self) -> None:
        self.schedule.cancel()
        await super().cog_unload()

    # -- edits and deletes ----------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        content, stamp = payload.data.get("content"), payload.data.get("edited_timestamp")
        if payload.guild_id is None or content is None or stamp is None:
            return  # DMs are never stored; embed unfurls are not edits
        await self.bot.chat.learner.edited(payload.message_id, content, datetime.fromisoformat(stamp))

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.bot.chat.forget({payload.message_id})
        if payload.guild_id is not None:
            await self.bot.chat.learner.deleted([payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        self.bot.chat.forget(set(payload.message_ids))
        if payload.guild_id is not None:
            await self.bot.chat.learner.deleted(payload.message_ids)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        if await self.bot.storage.handle_guild_leave(guild.id):
            log.info("left guild %d: its data was purged", guild.id)

    # -- history --------------------------------------------------------------------------------
    @app_commands.command(name="import-history", description="Learn from a channel's existing messages (Manage Server)")
    @app_commands.describe(
        channel="A learning channel to read", limit=f"How many recent messages (default 1000, at most {HISTORY_MAX})"
    )
    @manage_server()
    async def import_history_command(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        limit: app_commands.Range[int, 1, HISTORY_MAX] = 1000,
    ) -> None:
        settings = await self.bot.storage.get_guild_settings(interaction.guild_id)
        if channel.id not in settings.learning_channels:
            raise Refusal(
                f"{channel.mention} is not a learning channel; add it first with "
                f"`/banter channels channel:#{channel.name} learn:True`."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        progress = ProgressMessage(interaction)
        await progress.update(f"Reading the history of {channel.mention}…")
        try:
            counts = await import_history(channel, limit, self.bot.chat.learner, self.bot.user.id, progress.update)
        except discord.Forbidden:
            raise Refusal(
                f"I can't read the history of {channel.mention} (I need View Channel and Read Message History there)."
            ) from None
        await self.bot.storage.record_audit(
            "history.import",
            guild_id=interaction.guild_id,
            actor_id=interaction.user.id,
            details={"channel": str(channel.id), **counts},
        )
        await progress.finish(summary(channel.mention, counts))

    # -- fine-tuning ----------------------------------------------------------------------------
    @app_commands.command(name="retrain", description="Fine-tune the shared model on the new pairs now (bot admins)")
    @app_commands.describe(
        full="Retrain from scratch with a vocabulary rebuilt from the base corpus and the log (hours)"
    )
    @bot_admin()
    async def retrain(self, interaction: discord.Interaction, full: bool = False) -> None:
        if self.bot.finetuner.running:
            raise Refusal("A fine-tune is already running; `/banter status` shows it.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        message = ProgressMessage(interaction, interval=3.0)

        async def progress(report: FinetuneReport) -> None:
            await message.update(progress_text(report))

        try:
            report = await self.bot.finetuner.run(interaction.user.id, progress, full=full)
        except AlreadyRunning:
            raise Refusal("A fine-tune is already running; `/banter status` shows it.") from None
        text, chart = result_text(report), chart_file(report)
        if not await message.finish(text, chart):  # the response's token expired during a long run
            await self._dm(interaction.user, text, chart_file(report))
        await self._post_to_log_channel(text, chart_file(report))

    @tasks.loop(minutes=10)
    async def schedule(self) -> None:
        finetuner = self.bot.finetuner
        try:  # an error must not end the loop, and the loop's interval keeps any retry slow
            if finetuner.running or not self.bot.worker.health.up or not await finetuner.due():
                return
            report = await finetuner.run_if_due()  # due again, once no other shard can be fine-tuning
            if report is None:
                return
        except AlreadyRunning as exc:
            log.info("scheduled fine-tune due, not started here: %s", exc)
            return
        except Exception:
            log.exception("the scheduled fine-tune failed; the schedule goes on")
            return
        await self._post_to_log_channel(result_text(report), chart_file(report))

    @schedule.before_loop
    async def before_schedule(self) -> None:
        await self.bot.wait_until_ready()

    async def _post_to_log_channel(self, text: str, chart: discord.File | None) -> None:
        channel_id = self.bot.config.log_channel
        channel = self.bot.get_channel(channel_id) if channel_id else None
        if channel is None:
            return
        try:
            await channel.send(text, file=chart or discord.utils.MISSING, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("could not post to the log channel %d: %s", channel_id, exc)

    async def _dm(self, user: discord.abc.User, text: str, chart: discord.File | None) -> None:
        try:
            await user.send(text, file=chart or discord.utils.MISSING)
        except discord.HTTPException as exc:
            log.info("could not DM the fine-tune result: %s", exc)
