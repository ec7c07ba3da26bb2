"""The small interfaces the core works with: an incoming message and a channel that can send and type."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.storage import IncomingMessage


class Trigger(enum.StrEnum):
    """Why Banter answers a message."""

    DM = "dm"
    MENTION = "mention"
    REPLY = "reply"  # a reply to one of Banter's messages
    CHANCE = "chance"  # picked by the reply chance in a reply channel

    @property
    def addressed(self) -> bool:
        """Someone spoke to Banter (so silence would be rude, and 'resting' is worth saying)."""
        return self is not Trigger.CHANCE


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message as the core sees it, whatever front-end it came from."""

    id: int
    channel_id: int
    author_id: int
    content: str
    created_at: datetime
    guild_id: int | None = None  # None: a direct message
    reply_to_id: int | None = None
    reply_to_author_id: int | None = None  # known when the front-end resolved the replied message
    author_is_bot: bool = False
    is_own: bool = False  # written by Banter itself
    mentions_bot: bool = False

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None

    def to_incoming(self) -> IncomingMessage:
        """The storage layer's view (guild messages only)."""
        assert self.guild_id is not None, "direct messages are never stored"
        return IncomingMessage(
            id=self.id,
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            author_id=self.author_id,
            content=self.content,
            created_at=self.created_at,
            reply_to_id=self.reply_to_id,
            author_is_bot=self.author_is_bot,
            is_own=self.is_own,
        )


class Channel(Protocol):
    """Where a reply goes. Sends never ping anyone; failures are logged and give None."""

    async def send(self, text: str, *, reply_to: int | None = None) -> ChatMessage | None: ...

    def typing(self) -> AbstractAsyncContextManager[None]: ...

    def custom_emoji(self) -> Mapping[str, str]:
        """The custom emoji a reply here may use: lower-case name → how to send it (`<:Name:123>`)."""
        ...
