"""Banter, the commands.Bot: dependencies passed in, async setup in setup_hook, features as extensions."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.checks import BanterTree
from bot.config import BotConfig
from bot.connection import drop_malformed_events
from bot.core.chat import ChatService
from bot.core.factory import chat_service
from bot.core.finetune import FineTuner
from bot.storage import Storage
from bot.sync import sync_if_changed
from bot.worker import WorkerClient

log = logging.getLogger("banter.bot")

HEARTBEAT_ENV = "BANTER_HEARTBEAT_FILE"  # touched while connected: the container's health check reads it
EXTENSIONS = ("bot.exts.chat", "bot.exts.learning", "bot.exts.admin", "bot.exts.privacy")


def intents() -> discord.Intents:
    """Only what Banter uses: guilds, messages and their content (a privileged intent), DMs, and the servers'
    custom emoji (kept current by discord.py, so a reply can use them)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.emojis_and_stickers = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


class Banter(commands.Bot):
    def __init__(
        self,
        *,
        config: BotConfig,
        storage: Storage,
        worker: WorkerClient,
        extensions: tuple[str, ...] = EXTENSIONS,
        sync_commands: bool = True,
        force_sync: bool = False,
        **options,
    ) -> None:
        options.setdefault("max_messages", None)  # raw events carry what edits and deletes need
        for key, value in config.shard_options.items():  # one shard of several: a process per shard
            options.setdefault(key, value)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=BanterTree,
            **options,
        )
        drop_malformed_events(self)
        self.config = config
        self.storage = storage
        self.worker = worker
        self.started = time.time()
        self.chat: ChatService | None = None  # needs the bot's own id: built in setup_hook
        self.finetuner = FineTuner(
            storage,
            worker,
            interval_hours=config.finetune_interval_hours,
            min_pairs=config.finetune_min_pairs,
            poll_seconds=config.finetune_poll_seconds,
            max_steps=config.finetune_max_steps,
        )
        self.banter_group = app_commands.Group(name="banter", description="Banter, the chat bot that learns here")
        self._extensions = extensions
        self._sync = sync_commands
        self._force_sync = force_sync

    async def setup_hook(self) -> None:
        self.chat = chat_service(self.config, self.storage, self.worker, self.user.id)
        for extension in self._extensions:
            await self.load_extension(extension)
        self.tree.add_command(self.banter_group)
        if self._sync and self.config.shard_id == 0:  # commands are global: shard 0 syncs them for all
            await sync_if_changed(self.tree, self.application_id, self.config.state_dir, force=self._force_sync)
        if os.environ.get(HEARTBEAT_ENV):
            self.heartbeat.start()

    @tasks.loop(seconds=20)
    async def heartbeat(self) -> None:
        """Touch the heartbeat file only while the gateway is up, so a stuck bot turns unhealthy."""
        if self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open:
            Path(os.environ[HEARTBEAT_ENV]).touch()

    @heartbeat.before_loop
    async def _first_beat_when_ready(self) -> None:
        await self.wait_until_ready()

    async def on_ready(self) -> None:
        log.info(
            "ready as %s (%d) in %d guild(s), %.1f s after start",
            self.user,
            self.user.id,
            len(self.guilds),
            time.time() - self.started,
        )

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: the chat cog's listener is the only reader of messages."""

    async def is_bot_admin(self, user: discord.abc.User) -> bool:
        if user.id in self.config.owner_ids or user.id in self.config.admin_ids:
            return True
        return await self.is_owner(user)
