"""When Banter answers: a pure function of the message, the guild's settings and a dice roll."""

from __future__ import annotations

from bot.storage import GuildSettings

from .messages import ChatMessage, Trigger


def decide(message: ChatMessage, settings: GuildSettings | None, *, bot_id: int, roll: float) -> Trigger | None:
    """The reason to answer `message`, or None to stay quiet.

    `settings` is None for direct messages; `roll` is uniform in [0, 1) (the reply chance's dice).
    """
    if message.is_own or message.author_id == bot_id or message.author_is_bot:
        return None  # never itself, never another bot: two bots answering each other is a spam loop
    if not message.content.strip():
        return None
    if message.is_dm:
        return Trigger.DM
    if settings is None or not settings.enabled:
        return None  # switched off in this guild: silent even when mentioned
    if message.mentions_bot:
        return Trigger.MENTION
    if message.reply_to_author_id == bot_id:
        return Trigger.REPLY
    if message.channel_id in settings.reply_channels and roll < settings.reply_chance:
        return Trigger.CHANCE
    return None
