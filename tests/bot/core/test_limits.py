"""Cooldowns: per person, per channel, the guild's own cooldown for unprompted replies, and the resting notice."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.limits import ReplyLimits
from bot.core.messages import ChatMessage, Trigger


def msg(author: int, channel: int = 1) -> ChatMessage:
    return ChatMessage(
        id=1, channel_id=channel, author_id=author, content="x", created_at=datetime.now(UTC), guild_id=9
    )


def test_user_and_channel_limits_and_a_refusal_consumes_nothing():
    limits = ReplyLimits(user_seconds=60, channel_rate=2, channel_per_seconds=60, resting_seconds=60)
    assert limits.allow(msg(1), Trigger.MENTION)
    assert not limits.allow(msg(1), Trigger.MENTION)  # the same person again
    assert limits.allow(msg(2), Trigger.MENTION)
    assert not limits.allow(msg(3), Trigger.MENTION)  # the channel's two replies are spent
    assert limits.allow(msg(3, channel=2), Trigger.MENTION)  # person 3 was refused above, so not counted


def test_chance_replies_follow_the_guild_cooldown_per_channel():
    limits = ReplyLimits(user_seconds=0, channel_rate=5, channel_per_seconds=0, resting_seconds=0)
    assert limits.allow(msg(1), Trigger.CHANCE, cooldown_seconds=30)
    assert not limits.allow(msg(2), Trigger.CHANCE, cooldown_seconds=30)
    assert limits.allow(msg(2), Trigger.MENTION)  # spoken to: the chance cooldown does not apply
    assert limits.allow(msg(2, channel=2), Trigger.CHANCE, cooldown_seconds=30)
    assert limits.allow(msg(3, channel=3), Trigger.CHANCE, cooldown_seconds=0)
    assert limits.allow(msg(3, channel=3), Trigger.CHANCE, cooldown_seconds=0)


def test_resting_notice_once_per_channel_per_window():
    limits = ReplyLimits(user_seconds=0, channel_rate=5, channel_per_seconds=0, resting_seconds=600)
    assert limits.allow_resting_notice(msg(1)) and not limits.allow_resting_notice(msg(2))
    assert limits.allow_resting_notice(msg(2, channel=2))
    unlimited = ReplyLimits(user_seconds=0, channel_rate=5, channel_per_seconds=0, resting_seconds=0)
    assert unlimited.allow_resting_notice(msg(1)) and unlimited.allow_resting_notice(msg(1))
