"""Pure pair extraction: which two messages of a channel's stream make a (query, reply) pair."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime

from .text import DEFAULT_COMMAND_PREFIXES, prepare_text, skip_reason

DEFAULT_WINDOW_SECONDS = 120.0


class PairKind(enum.StrEnum):
    REPLY = "reply"  # the reply message explicitly replies to the query
    ADJACENT = "adjacent"  # two consecutive messages by different people within the window
    BOT = "bot"  # a person answering one of Banter's own messages


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A Discord message as the bot hands it over: ids, its raw content, times (aware), flags."""

    id: int
    guild_id: int
    channel_id: int
    author_id: int
    content: str
    created_at: datetime
    reply_to_id: int | None = None
    author_is_bot: bool = False
    is_own: bool = False  # written by Banter itself


@dataclass(frozen=True, slots=True)
class Turn:
    """A stored message as the pairing rules see it."""

    id: int
    channel_id: int
    author_id: int
    created_at: datetime
    text: str
    is_own: bool = False
    # The conversation of the pair this message is the reply of, and that pair's query
    # (id and text): None if it answers nothing.
    conversation_id: int | None = None
    answered_id: int | None = None
    answered_text: str | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """A message that was seen but not stored: nothing after it pairs with what came before it."""

    id: int


@dataclass(frozen=True, slots=True)
class PairCandidate:
    query: Turn
    reply: Turn
    kind: PairKind
    conversation_id: int

    @property
    def text_hash(self) -> int:
        return pair_hash(self.query.text, self.reply.text)


def pair_hash(query_text: str, reply_text: str) -> int:
    """A signed 64-bit hash of the pair's text: equal for identical pairs, fits a BIGINT."""
    digest = hashlib.blake2b(f"{query_text}\x00{reply_text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def conversation_key(root_message_id: int) -> int:
    """A conversation's id: derived from its first message, but not that message's id, which
    must vanish from the database when the message is deleted."""
    digest = hashlib.blake2b(root_message_id.to_bytes(8, "big"), digest_size=8, person=b"banter-conv").digest()
    return int.from_bytes(digest, "big", signed=True)


def pair_for(
    new: Turn,
    *,
    reply_to_id: int | None,
    replied: Turn | None,
    previous: Turn | Gap | None,
    window_seconds: float,
) -> PairCandidate | None:
    """The pair a newly stored message completes, if any."""
    if new.is_own:
        return None  # Banter never learns its own words as a reply
    if reply_to_id is not None:
        # An explicit reply answers that message and nothing else, even if we never stored it.
        query = replied if replied is not None and replied.channel_id == new.channel_id else None
        explicit = True
    else:
        query = previous if isinstance(previous, Turn) else None
        explicit = False
        if query is not None:
            age = (new.created_at - query.created_at).total_seconds()
            if not 0 <= age <= window_seconds:
                query = None
    if query is None or query.author_id == new.author_id:
        return None
    kind = PairKind.BOT if query.is_own else PairKind.REPLY if explicit else PairKind.ADJACENT
    conversation = query.conversation_id if query.conversation_id is not None else conversation_key(query.id)
    return PairCandidate(query, new, kind, conversation)


class PairStream:
    """Messages fed in stream order, per channel; `tails` remembers each channel's last one.

    `tails` may be a ChainMap over a committed dict, so a failed transaction leaves no trace.
    """

    def __init__(self, window_seconds: float, tails: MutableMapping[int, Turn | Gap] | None = None):
        self.window_seconds = window_seconds
        self.tails: MutableMapping[int, Turn | Gap] = {} if tails is None else tails

    def _is_newest(self, channel_id: int, message_id: int) -> bool:
        tail = self.tails.get(channel_id)
        return tail is None or message_id > tail.id

    def gap(self, channel_id: int, message_id: int) -> None:
        """A message seen in the channel but not stored (a command, a bot, an opted-out user...)."""
        if self._is_newest(channel_id, message_id):
            self.tails[channel_id] = Gap(message_id)

    def accept(self, new: Turn, reply_to_id: int | None, replied: Turn | None) -> tuple[Turn, PairCandidate | None]:
        """Feed a stored message; returns it (with its conversation) and the pair it completes."""
        newest = self._is_newest(new.channel_id, new.id)
        # A message older than the channel's last one arrived late: its predecessor is unknown.
        previous = self.tails.get(new.channel_id) if newest else None
        pair = pair_for(
            new, reply_to_id=reply_to_id, replied=replied, previous=previous, window_seconds=self.window_seconds
        )
        if pair is not None:
            new = replace(
                new, conversation_id=pair.conversation_id, answered_id=pair.query.id, answered_text=pair.query.text
            )
        if newest:
            self.tails[new.channel_id] = new
        return new, pair


def extract_pairs(
    messages: Iterable[IncomingMessage],
    *,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    command_prefixes: tuple[str, ...] = DEFAULT_COMMAND_PREFIXES,
) -> list[PairCandidate]:
    """All pairs in a stream of messages, identical ones once: the rules without a database."""
    stream = PairStream(window_seconds)
    seen: dict[int, Turn] = {}
    hashes: set[tuple[int, int]] = set()
    pairs = []
    for msg in messages:
        if msg.id in seen:
            continue
        text = prepare_text(msg.content)
        if skip_reason(text, author_is_bot=msg.author_is_bot, is_own=msg.is_own, command_prefixes=command_prefixes):
            stream.gap(msg.channel_id, msg.id)
            continue
        turn = Turn(msg.id, msg.channel_id, msg.author_id, msg.created_at, text, msg.is_own)
        turn, pair = stream.accept(turn, msg.reply_to_id, seen.get(msg.reply_to_id) if msg.reply_to_id else None)
        seen[msg.id] = turn
        guild_hash = (msg.guild_id, pair.text_hash) if pair else None
        if pair is not None and guild_hash not in hashes:
            hashes.add(guild_hash)
            pairs.append(pair)
    return pairs
