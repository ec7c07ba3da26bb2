"""What Banter learns from: messages logged through storage, edits and deletes applied, history imported."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from bot.storage import GuildSettings, LogResult, Storage, StorageError

from .messages import ChatMessage

log = logging.getLogger("banter.learning")


class Learner:
    """The storage calls of the conversation path. Errors are logged, never raised into a reply."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.counts: Counter[str] = Counter()

    async def settings(self, guild_id: int | None) -> GuildSettings | None:
        if guild_id is None:
            return None
        return await self.storage.get_guild_settings(guild_id)

    def wanted(self, message: ChatMessage) -> bool:
        """Worth handing to storage at all: a guild message. (Storage checks opt-outs against the
        database: another shard may have just opted its author out, or back in.)"""
        return message.guild_id is not None

    async def log(self, message: ChatMessage) -> LogResult | None:
        """Store the message if its channel is a learning channel (storage decides, in arrival order)."""
        if not self.wanted(message):
            return None
        try:
            result = await self.storage.log_message(message.to_incoming())
        except (StorageError, ValueError) as exc:
            log.error("could not log message %d: %s", message.id, exc)
            self.counts["errors"] += 1
            return None
        self.counts["stored" if result.stored else str(result.reason)] += 1
        return result

    async def edited(self, message_id: int, content: str, edited_at: datetime | None) -> bool:
        try:
            return await self.storage.apply_edit(message_id, content, edited_at)
        except (StorageError, ValueError) as exc:
            log.error("could not apply the edit of message %d: %s", message_id, exc)
            return False

    async def deleted(self, message_ids: Iterable[int]) -> int:
        ids = list(message_ids)
        try:
            return await self.storage.apply_bulk_delete(ids) if ids else 0
        except (StorageError, ValueError) as exc:
            log.error("could not apply the deletion of %d message(s): %s", len(ids), exc)
            return 0

    async def import_history(self, messages: list[ChatMessage]) -> Counter[str]:
        """Old messages of a channel, oldest first, through the same rules as live ones."""
        wanted = [m for m in messages if self.wanted(m)]
        counts: Counter[str] = Counter()
        for result in await self.storage.log_messages((m.to_incoming() for m in wanted), backfill=True):
            counts["stored" if result.stored else str(result.reason)] += 1
            if result.pair_kind is not None:
                counts["pairs"] += 1
        return counts
