"""Cooldowns that keep Banter quiet in a busy server, built on discord.py's cooldown mappings."""

from __future__ import annotations

import time
from dataclasses import dataclass

from discord.ext.commands import Cooldown, CooldownMapping, DynamicCooldownMapping

from .messages import ChatMessage, Trigger


@dataclass(frozen=True, slots=True)
class _ChanceKey:
    channel_id: int
    cooldown_seconds: float  # the guild's setting, read when the channel's bucket is made


def _mapping(rate: int, per: float, key) -> CooldownMapping | None:
    return CooldownMapping.from_cooldown(rate, per, key) if per > 0 else None


class ReplyLimits:
    """Per person, per channel, and for unprompted replies the guild's own cooldown; and the 'resting' notice."""

    def __init__(self, *, user_seconds: float, channel_rate: int, channel_per_seconds: float, resting_seconds: float):
        self._user = _mapping(1, user_seconds, lambda m: m.author_id)
        self._channel = _mapping(channel_rate, channel_per_seconds, lambda m: m.channel_id)
        self._chance = DynamicCooldownMapping(
            lambda k: Cooldown(1, k.cooldown_seconds) if k.cooldown_seconds > 0 else None, lambda k: k.channel_id
        )
        self._resting = _mapping(1, resting_seconds, lambda m: m.channel_id)

    def allow(self, message: ChatMessage, trigger: Trigger, cooldown_seconds: float = 0.0) -> bool:
        """True, and the reply counted, when no cooldown forbids it; False leaves every bucket as it was."""
        now = time.time()
        buckets = []
        if trigger is Trigger.CHANCE:
            buckets.append(self._chance.get_bucket(_ChanceKey(message.channel_id, cooldown_seconds), now))
        for mapping in (self._user, self._channel):
            if mapping is not None:
                buckets.append(mapping.get_bucket(message, now))
        buckets = [b for b in buckets if b is not None]
        if any(b.get_retry_after(now) for b in buckets):
            return False
        for bucket in buckets:
            bucket.update_rate_limit(now)
        return True

    def allow_resting_notice(self, message: ChatMessage) -> bool:
        if self._resting is None:
            return True
        return not self._resting.update_rate_limit(message)
