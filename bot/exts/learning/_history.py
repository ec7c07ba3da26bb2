"""Importing a channel's existing history: paged newest first (as Discord gives it), stored oldest first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import discord

from bot.core.learning import Learner
from bot.exts.chat._adapters import chat_message

CHUNK = 500  # messages per storage call: bounded transactions


async def import_history(
    channel: discord.abc.Messageable,
    limit: int,
    learner: Learner,
    bot_id: int,
    progress: Callable[[str], Awaitable[None]],
) -> Counter[str]:
    """Read up to `limit` recent messages (discord.py pages 100 at a time and waits out 429s), then store them
    in the order they were written, so pairs form as they would have live."""
    messages = []
    async for message in channel.history(limit=limit):
        messages.append(chat_message(message, bot_id))
        if len(messages) % 100 == 0:
            await progress(f"Reading history: {len(messages)} of up to {limit} messages…")
    messages.reverse()
    counts: Counter[str] = Counter(read=len(messages))
    for start in range(0, len(messages), CHUNK):
        counts += await learner.import_history(messages[start : start + CHUNK])
        await progress(f"Learning: {min(start + CHUNK, len(messages))} of {len(messages)} messages…")
    return counts


def summary(channel_mention: str, counts: Counter[str]) -> str:
    skipped = counts["read"] - counts["stored"] - counts["duplicate"]
    return (
        f"Imported {channel_mention}: read {counts['read']} message(s), stored {counts['stored']} "
        f"({counts['pairs']} new pair(s)); {counts['duplicate']} already known, {skipped} skipped "
        "(bots, commands, links only, opted-out people)."
    )
