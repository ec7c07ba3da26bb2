"""The console front-end: standard input is a pretend channel where every line speaks to Banter."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from bot.core.chat import ChatService
from bot.core.messages import ChatMessage

# The pretend channel's ids: far below any Discord snowflake, so they never collide in storage.
CONSOLE_GUILD, CONSOLE_CHANNEL, CONSOLE_USER, CONSOLE_BOT = 1, 1, 2, 3
DISCORD_EPOCH_MS = 1420070400000


class _Ids:
    """Snowflake-like ids: increasing with time, like Discord's, so pairing sees the same order."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22 | (next(self._counter) & 0xFFF)
        self._last = max(candidate, self._last + 1)
        return self._last


class _EmojiNames(Mapping):
    """A terminal shows no custom emoji: each is written as its name, ":name:", as Discord's text does."""

    def __getitem__(self, name: str) -> str:
        return f":{name}:"

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


class ConsoleChannel:
    """Replies are printed, one line each; there is no typing indicator to show."""

    def __init__(self, ids: _Ids, out: TextIO, prefix: str = ""):
        self._ids = ids
        self._out = out
        self._prefix = prefix  # "banter> " for a person at a terminal; nothing for scripts

    def typing(self):
        return contextlib.nullcontext()

    def custom_emoji(self) -> _EmojiNames:
        return _EmojiNames()

    async def send(self, text: str, *, reply_to: int | None = None) -> ChatMessage:
        print(self._prefix + " ".join(text.split()), file=self._out, flush=True)
        return ChatMessage(
            id=self._ids.next(),
            channel_id=CONSOLE_CHANNEL,
            author_id=CONSOLE_BOT,
            content=text,
            created_at=datetime.now(UTC),
            guild_id=CONSOLE_GUILD,
            is_own=True,
        )


async def read_lines(stream: TextIO, prompt: str = "", out: TextIO | None = None):
    while True:
        if prompt and out is not None:
            print(prompt, end="", file=out, flush=True)
        line = await asyncio.to_thread(stream.readline)
        if not line:
            return
        yield line.rstrip("\r\n")


async def run(service: ChatService, stream: TextIO | None = None, out: TextIO | None = None) -> int:
    """Feed each line through the shared conversation path, one at a time, until end of input."""
    ids = _Ids()
    stream, out = stream or sys.stdin, out or sys.stdout
    person = stream.isatty() and out.isatty()  # a script gets bare lines, one reply per input line
    channel = ConsoleChannel(ids, out, prefix="banter> " if person else "")
    if person:
        print("Banter is ready: say something (Ctrl-D to leave).", file=out, flush=True)
    async for line in read_lines(stream, prompt="you> " if person else "", out=out):
        if not line.strip():
            continue  # nobody spoke (Discord has no empty messages either)
        message = ChatMessage(
            id=ids.next(),
            channel_id=CONSOLE_CHANNEL,
            author_id=CONSOLE_USER,
            content=line,
            created_at=datetime.now(UTC),
            guild_id=CONSOLE_GUILD,
            mentions_bot=True,
        )
        await service.handle(message, channel)
    return 0
