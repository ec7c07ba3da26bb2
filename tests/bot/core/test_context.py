"""The recent turns sent to the worker: ordered, bounded, without the bot's mention, forgetting on request."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.context import RecentTurns, worker_text
from bot.core.messages import ChatMessage

BOT = 99


def msg(i: int, text: str, author: int = 1, channel: int = 5) -> ChatMessage:
    return ChatMessage(
        id=i, channel_id=channel, author_id=author, content=text, created_at=datetime.now(UTC), guild_id=7
    )


def test_worker_text_drops_the_bots_mention_and_hides_other_ids():
    assert worker_text(f"<@{BOT}> hi <@!{BOT}> there <@123>", BOT) == "hi there @user"


def test_context_is_the_last_turns_up_to_the_message_in_its_channel():
    turns = RecentTurns(3, BOT)
    for i, text in enumerate(["a", "b", "c", "d"], 1):
        turns.add(msg(i, text))
    turns.add(msg(5, "other channel", channel=6))
    assert turns.context_for(msg(4, "d")) == ["b", "c", "d"]
    turns.add(msg(6, "after"))
    assert turns.context_for(msg(4, "d")) == ["c", "d"]  # a later message never leaks in
    assert turns.context_for(msg(9, "not remembered")) == ["d", "after", "not remembered"]


def test_deleted_messages_and_forgotten_people_leave_the_context():
    turns = RecentTurns(5, BOT)
    turns.add(msg(1, "secret", author=2))
    turns.add(msg(2, "deleted"))
    turns.add(msg(3, "kept"))
    turns.forget({2})
    turns.forget_author(2)
    assert turns.context_for(msg(4, "now")) == ["kept", "now"]


def test_channels_are_bounded():
    turns = RecentTurns(2, BOT, max_channels=3)
    for channel in range(10):
        turns.add(msg(channel + 1, "x", channel=channel))
    assert len(turns._channels) == 3
