"""The recent turns of each channel, kept in memory (bounded) to give the worker its context."""

from __future__ import annotations

import re
from collections import OrderedDict, deque

from bot.storage.text import prepare_text
from seq2seq.protocol import MAX_TURN_CHARS, MAX_TURNS

from .messages import ChatMessage

MAX_CHANNELS = 2000  # channels remembered; the least recently active are forgotten first


def worker_text(content: str, bot_id: int) -> str:
    """A message as the model should read it: the bot's own mention removed, other mentions as @user."""
    text = re.sub(rf"<@!?{bot_id}>", " ", content)
    return re.sub(r"\s+", " ", prepare_text(text)).strip()[:MAX_TURN_CHARS]


class RecentTurns:
    """Per channel, the last `turns` messages worth reading (people and Banter itself, not other bots)."""

    def __init__(self, turns: int, bot_id: int, max_channels: int = MAX_CHANNELS):
        self.turns = max(1, min(turns, MAX_TURNS))
        self.bot_id = bot_id
        self.max_channels = max_channels
        self._channels: OrderedDict[int, deque[tuple[int, int, str]]] = OrderedDict()  # (id, author, text)

    def add(self, message: ChatMessage) -> None:
        text = worker_text(message.content, self.bot_id)
        if not text:
            return
        turns = self._channels.get(message.channel_id)
        if turns is None:
            turns = self._channels[message.channel_id] = deque(maxlen=self.turns)
            if len(self._channels) > self.max_channels:
                self._channels.popitem(last=False)
        else:
            self._channels.move_to_end(message.channel_id)
        turns.append((message.id, message.author_id, text))

    def _drop(self, gone) -> None:
        for channel, turns in self._channels.items():
            if any(gone(turn) for turn in turns):
                self._channels[channel] = deque((t for t in turns if not gone(t)), maxlen=self.turns)

    def forget(self, message_ids: set[int]) -> None:
        """Deleted messages leave the context too."""
        self._drop(lambda turn: turn[0] in message_ids)

    def forget_author(self, author_id: int) -> None:
        """Someone opted out or asked to be forgotten: not even the memory of this process keeps their words."""
        self._drop(lambda turn: turn[1] == author_id)

    def context_for(self, message: ChatMessage) -> list[str]:
        """The turns up to and including `message`, oldest first; `message` is last even if not remembered."""
        text = worker_text(message.content, self.bot_id)
        earlier = []
        for mid, _, turn in self._channels.get(message.channel_id, ()):
            if mid == message.id:
                break
            if mid < message.id:
                earlier.append(turn)
        return (earlier + [text])[-self.turns :]
