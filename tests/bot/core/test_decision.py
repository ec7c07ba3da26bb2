"""The decision to answer, as a table: who wrote what, where, with which settings and dice roll."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.core.decision import decide
from bot.core.messages import ChatMessage, Trigger
from bot.storage import GuildSettings

BOT, GUILD, CHAT, QUIET = 1000, 2000, 3000, 3001
BASE = ChatMessage(id=1, channel_id=QUIET, author_id=42, content="hello", created_at=datetime.now(UTC), guild_id=GUILD)
SETTINGS = GuildSettings(GUILD, reply_chance=0.1, reply_channels=frozenset({CHAT}))


@pytest.mark.parametrize(
    "changes, settings, roll, expected",
    [
        ({}, SETTINGS, 0.0, None),  # plain chatter outside reply channels
        ({"channel_id": CHAT}, SETTINGS, 0.05, Trigger.CHANCE),
        ({"channel_id": CHAT}, SETTINGS, 0.1, None),  # the roll must be below the chance
        ({"mentions_bot": True}, SETTINGS, 0.99, Trigger.MENTION),
        ({"reply_to_id": 7, "reply_to_author_id": BOT}, SETTINGS, 0.99, Trigger.REPLY),
        ({"reply_to_id": 7, "reply_to_author_id": 43}, SETTINGS, 0.99, None),
        ({"guild_id": None}, None, 0.99, Trigger.DM),
        ({"mentions_bot": True, "author_is_bot": True}, SETTINGS, 0.0, None),  # never another bot
        ({"guild_id": None, "author_is_bot": True}, None, 0.0, None),
        ({"mentions_bot": True, "author_id": BOT, "is_own": True}, SETTINGS, 0.0, None),  # never itself
        ({"mentions_bot": True, "content": "   "}, SETTINGS, 0.0, None),
        ({"mentions_bot": True}, replace(SETTINGS, enabled=False), 0.0, None),  # switched off: silent
        ({"channel_id": CHAT}, replace(SETTINGS, reply_chance=0.0), 0.0, None),
    ],
)
def test_decide(changes, settings, roll, expected):
    assert decide(replace(BASE, **changes), settings, bot_id=BOT, roll=roll) == expected


def test_only_unprompted_replies_are_not_addressed():
    assert [t for t in Trigger if not t.addressed] == [Trigger.CHANCE]
