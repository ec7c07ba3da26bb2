"""What may leave Banter's mouth: no pings of any kind, no blocklisted words, only emoji it can show, within
Discord's limits."""

from __future__ import annotations

import re
from collections.abc import Mapping

from seq2seq.protocol.blocklist import Blocklist
from seq2seq.protocol.emoji import restore_custom_emoji

DISCORD_MAX_CHARS = 2000
_ZWSP = "\u200b"
# @everyone/@here, user (<@1>, <@!1>) and role (<@&1>) mentions; channel links are harmless.
_MASS = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_USER = re.compile(r"<@!?\d+>")
_ROLE = re.compile(r"<@&\d+>")
_SPACES = re.compile(r"[ \t]+")


def neutralise_mentions(text: str) -> str:
    """Text that pings nobody even if it were sent without allowed_mentions (belt and braces)."""
    text = _USER.sub("@user", text)
    text = _ROLE.sub("@role", text)
    return _MASS.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def clean_reply(text: str, blocked: Blocklist | None = None, emojis: Mapping[str, str] | None = None) -> str | None:
    """The reply as it will be sent, or None when it must not be sent at all. The model's custom emoji
    (`<:name:id>`) become those of `emojis` (see `Channel.custom_emoji`), or go."""
    text = restore_custom_emoji((text or "").replace("\x00", ""), {} if emojis is None else emojis)
    text = _SPACES.sub(" ", text).strip()
    if not text or (blocked is not None and blocked.matches(text)):
        return None
    text = neutralise_mentions(text)
    if len(text) > DISCORD_MAX_CHARS:
        text = text[: DISCORD_MAX_CHARS - 1].rstrip() + "…"
    return text
