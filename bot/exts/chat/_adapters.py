"""Discord objects as the core's small interfaces: a discord.Message as a ChatMessage, a channel as a Channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from bot.core.messages import ChatMessage

log = logging.getLogger("banter.discord_channel")

NO_PINGS = discord.AllowedMentions.none()


def chat_message(message: discord.Message, bot_id: int) -> ChatMessage:
    ref = message.reference
    replied = ref.resolved if ref is not None and isinstance(ref.resolved, discord.Message) else None
    return ChatMessage(
        id=message.id,
        channel_id=message.channel.id,
        author_id=message.author.id,
        content=message.content,
        created_at=message.created_at,
        guild_id=message.guild.id if message.guild else None,
        reply_to_id=ref.message_id if ref is not None and ref.channel_id == message.channel.id else None,
        reply_to_author_id=replied.author.id if replied is not None else None,
        author_is_bot=message.author.bot,
        is_own=message.author.id == bot_id,
        mentions_bot=bot_id in message.raw_mentions,
    )


class _Typing:
    """discord.py's typing indicator, run beside the reply instead of before it: a slow or rate-limited
    typing call never delays the answer."""

    def __init__(self, messageable: discord.abc.Messageable):
        self._messageable = messageable
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        try:
            async with self._messageable.typing():
                await asyncio.Event().wait()  # until cancelled: discord.py repeats the indicator meanwhile
        except discord.HTTPException as exc:
            log.debug("typing indicator failed: %s", exc)

    async def __aenter__(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        await asyncio.sleep(0)  # let it send first

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class DiscordChannel:
    """Sends with every mention disabled; a refusal by Discord is logged, never retried in a loop."""

    def __init__(self, messageable: discord.abc.Messageable, bot_id: int):
        self._messageable = messageable
        self._bot_id = bot_id

    def typing(self) -> _Typing:
        return _Typing(self._messageable)

    def custom_emoji(self) -> dict[str, str]:
        """The server's own emoji that can be sent now (none in DMs); of two names that differ only in case,
        the first."""
        guild = getattr(self._messageable, "guild", None)
        table: dict[str, str] = {}
        for emoji in guild.emojis if guild is not None else ():
            if emoji.available:  # an emoji of a lapsed server boost cannot be used
                table.setdefault(emoji.name.lower(), str(emoji))
        return table

    async def send(self, text: str, *, reply_to: int | None = None) -> ChatMessage | None:
        reference = None
        if reply_to is not None:
            channel_id = getattr(self._messageable, "id", None)
            reference = discord.MessageReference(message_id=reply_to, channel_id=channel_id, fail_if_not_exists=False)
        try:
            # discord.py waits out 429s itself (honouring retry_after); other failures end here.
            sent = await self._messageable.send(text, allowed_mentions=NO_PINGS, reference=reference)
        except discord.HTTPException as exc:
            log.warning("could not send to channel %s: %s", getattr(self._messageable, "id", "?"), exc)
            return None
        return chat_message(sent, self._bot_id)
