"""What may leave Banter's mouth: no pings of any kind, no blocklisted words, within Discord's limits."""

from __future__ import annotations

import re

from seq2seq.protocol.blocklist import Blocklist

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


def clean_reply(text: str, blocked: Blocklist | None = None) -> str | None:
    """The reply as it will be sent, or None when it must not be sent at all."""
    text = _SPACES.sub(" ", (text or "").replace("\x00", "")).strip()
    if not text or (blocked is not None and blocked.matches(text)):
        return None
    text = neutralise_mentions(text)
    if len(text) > DISCORD_MAX_CHARS:
        text = text[: DISCORD_MAX_CHARS - 1].rstrip() + "…"
    return text
