"""Logging messages and their pairs, and applying Discord's edits and deletes to them."""

from __future__ import annotations

import enum
from collections import ChainMap
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from .engine import insert_ignoring_duplicates
from .models import Message, OptOut, Pair, utcnow
from .pairs import Gap, IncomingMessage, PairCandidate, PairKind, PairStream, Turn, pair_hash
from .settings import GuildSettings, load_settings
from .text import SkipReason, prepare_text, skip_reason
from .writer import Hooks


class NotLogged(enum.StrEnum):
    DUPLICATE = "duplicate"  # already stored: writes are idempotent
    NOT_LEARNING = "not_learning"  # not a learning channel, or Banter is disabled in the guild
    OPTED_OUT = "opted_out"


@dataclass(frozen=True, slots=True)
class LogResult:
    stored: bool
    reason: NotLogged | SkipReason | None = None
    # The kind of pair the message completed (stored once even if an identical one exists).
    pair_kind: PairKind | None = None


@dataclass(slots=True)
class Caches:
    """What the writer remembers between calls. Changed only after the transaction commits."""

    opted_out: set[int] = field(default_factory=set)
    settings: dict[int, GuildSettings] = field(default_factory=dict)
    tails: dict[int, Turn | Gap] = field(default_factory=dict)

    def forget_tails(self, should_forget, *, forget_context=lambda turn: False) -> None:
        """Turn matching tails into gaps; drop the context of those whose context is gone."""
        for channel, tail in list(self.tails.items()):
            if should_forget(tail):
                self.tails[channel] = Gap(tail.id)
            elif isinstance(tail, Turn) and tail.answered_id is not None and forget_context(tail):
                self.tails[channel] = replace(tail, answered_id=None, answered_text=None)


@dataclass(frozen=True, slots=True)
class MessageRules:
    window_seconds: float
    command_prefixes: tuple[str, ...]


async def _load_turns(conn: AsyncConnection, ids: set[int]) -> dict[int, Turn]:
    if not ids:
        return {}
    query = (
        select(
            Message.id,
            Message.channel_id,
            Message.author_id,
            Message.created_at,
            Message.content,
            Message.is_own,
            Pair.conversation_id,
            Pair.query_message_id,
            Pair.query_text,
        )
        .outerjoin(Pair, Pair.reply_message_id == Message.id)
        .where(Message.id.in_(ids))
    )
    return {row[0]: Turn(*row) for row in await conn.execute(query)}


def _message_row(msg: IncomingMessage, text: str) -> dict:
    return {
        "id": msg.id,
        "guild_id": msg.guild_id,
        "channel_id": msg.channel_id,
        "author_id": msg.author_id,
        "content": text,
        "created_at": msg.created_at,
        "edited_at": None,
        "reply_to_id": msg.reply_to_id,
        "is_own": msg.is_own,
    }


def _pair_row(guild_id: int, pair: PairCandidate) -> dict:
    q, r = pair.query, pair.reply
    return {
        "guild_id": guild_id,
        "channel_id": r.channel_id,
        "conversation_id": pair.conversation_id,
        "query_message_id": q.id,
        "reply_message_id": r.id,
        "context_message_id": q.answered_id,
        "context_text": q.answered_text,
        "query_author_id": q.author_id,
        "reply_author_id": r.author_id,
        "query_text": q.text,
        "reply_text": r.text,
        "kind": pair.kind.value,
        "text_hash": pair.text_hash,
        "created_at": r.created_at,
    }


async def _opted_out_among(conn: AsyncConnection, authors: set[int]) -> set[int]:
    if not authors:
        return set()
    return set(await conn.scalars(select(OptOut.user_id).where(OptOut.user_id.in_(authors))))


def _still_stored(tail: Turn | Gap, known: dict[int, Turn]) -> Turn | Gap:
    """A channel's remembered tail as the database has it now: another process (a bot shard) may
    have deleted it, or the message it answered, since (forget-me in another guild, say)."""
    if isinstance(tail, Gap):
        return tail
    if tail.id not in known:
        return Gap(tail.id)
    if tail.answered_id is not None and tail.answered_id not in known:
        return replace(tail, answered_id=None, answered_text=None)
    return tail


async def log_batch(
    conn: AsyncConnection,
    items: list[IncomingMessage],
    hooks: Hooks,
    *,
    caches: Caches,
    rules: MessageRules,
    tails: dict | None = None,
) -> list[LogResult]:
    """Store a burst of messages in one transaction, extracting pairs as the stream goes.

    `tails`: a backfill's own channel tails instead of the live ones (see Storage.log_messages).
    Opt-outs and the tails' messages are read from the database, not the caches alone: other
    processes on it (bot shards) opt people out and in, and delete messages, too.
    """
    unknown = {m.guild_id for m in items} - caches.settings.keys()
    loaded = await load_settings(conn, unknown)
    settings = ChainMap(loaded, caches.settings)
    learning = [i for i, msg in enumerate(items) if settings[msg.guild_id].learns_in(msg.channel_id)]
    authors = {items[i].author_id for i in learning}
    opted_out = await _opted_out_among(conn, authors)
    committed_tails = caches.tails if tails is None else tails
    tails = ChainMap({}, committed_tails)
    stream = PairStream(rules.window_seconds, tails)
    results: list[LogResult | None] = [LogResult(False, NotLogged.NOT_LEARNING)] * len(items)
    texts: dict[int, str] = {}  # index -> prepared text, for the messages worth storing
    for i in learning:
        msg = items[i]
        text = prepare_text(msg.content)
        reason = (
            NotLogged.OPTED_OUT
            if msg.author_id in opted_out
            else skip_reason(
                text, author_is_bot=msg.author_is_bot, is_own=msg.is_own, command_prefixes=rules.command_prefixes
            )
        )
        if reason is not None:
            results[i] = LogResult(False, reason)
        else:
            texts[i] = text

    # One query finds the duplicates, the messages being replied to, and whether the channels'
    # tails (and the messages they answered) are still there.
    wanted = [items[i] for i in texts]
    channel_tails = {ch: committed_tails[ch] for ch in {items[i].channel_id for i in learning} if ch in committed_tails}
    tail_ids = {t.id for t in channel_tails.values() if isinstance(t, Turn)}
    tail_ids |= {t.answered_id for t in channel_tails.values() if isinstance(t, Turn) and t.answered_id}
    known = await _load_turns(
        conn, {m.id for m in wanted} | {m.reply_to_id for m in wanted if m.reply_to_id} | tail_ids
    )
    for channel, tail in channel_tails.items():
        if (fresh := _still_stored(tail, known)) is not tail:
            tails[channel] = fresh
    message_rows, pair_rows = [], []
    for i, msg in enumerate(items):  # in stream order: a gap must come between the right two messages
        if i not in texts:
            if results[i].reason != NotLogged.NOT_LEARNING:
                stream.gap(msg.channel_id, msg.id)
            continue
        if msg.id in known:
            results[i] = LogResult(False, NotLogged.DUPLICATE)
            continue
        turn = Turn(msg.id, msg.channel_id, msg.author_id, msg.created_at, texts[i], msg.is_own)
        replied = known.get(msg.reply_to_id) if msg.reply_to_id else None
        known[msg.id], pair = stream.accept(turn, msg.reply_to_id, replied)
        message_rows.append(_message_row(msg, texts[i]))
        if pair is not None:
            pair_rows.append(_pair_row(msg.guild_id, pair))
        results[i] = LogResult(True, None, pair.kind if pair else None)

    dialect = conn.dialect.name
    if message_rows:
        await conn.execute(insert_ignoring_duplicates(dialect, Message.__table__), message_rows)
    if pair_rows:
        await conn.execute(insert_ignoring_duplicates(dialect, Pair.__table__), pair_rows)

    def commit_caches() -> None:
        caches.settings.update(loaded)
        committed_tails.update(tails.maps[0])
        caches.opted_out.difference_update(authors - opted_out)
        caches.opted_out.update(opted_out)

    hooks.append(commit_caches)
    return results


async def delete_messages(conn: AsyncConnection, ids: Iterable[int] | Select) -> int:
    """Delete messages and every pair they are in; clear replies' links to them. Returns messages deleted."""
    ids = ids if isinstance(ids, Select) else list(ids)
    if isinstance(ids, list) and not ids:
        return 0
    # Explicit deletes rather than trusting ON DELETE CASCADE alone: the pairs must go even
    # on a connection where SQLite's foreign_keys pragma was somehow off.
    await conn.execute(delete(Pair).where(or_(Pair.query_message_id.in_(ids), Pair.reply_message_id.in_(ids))))
    await conn.execute(
        update(Pair).where(Pair.context_message_id.in_(ids)).values(context_message_id=None, context_text=None)
    )
    await conn.execute(update(Message).where(Message.reply_to_id.in_(ids)).values(reply_to_id=None))
    result = await conn.execute(delete(Message).where(Message.id.in_(ids)))
    return result.rowcount


async def apply_edit(
    conn: AsyncConnection,
    message_id: int,
    content: str,
    edited_at: datetime | None,
    *,
    caches: Caches,
    rules: MessageRules,
    hooks: Hooks,
) -> bool:
    """An edited message: new text in the message and its pairs. False if it was never stored."""
    row = (await conn.execute(select(Message.is_own).where(Message.id == message_id))).first()
    if row is None:
        return False
    text = prepare_text(content)
    if skip_reason(text, author_is_bot=False, is_own=row.is_own, command_prefixes=rules.command_prefixes):
        # Edited into something not worth learning (a bare link, nothing): forget it.
        await delete_messages(conn, [message_id])
        hooks.append(
            lambda: caches.forget_tails(
                lambda t: t.id == message_id, forget_context=lambda t: t.answered_id == message_id
            )
        )
        return True
    await conn.execute(
        update(Message).where(Message.id == message_id).values(content=text, edited_at=edited_at or utcnow())
    )
    await conn.execute(update(Pair).where(Pair.context_message_id == message_id).values(context_text=text))
    pairs = await conn.execute(
        select(Pair.id, Pair.guild_id, Pair.query_message_id, Pair.query_text, Pair.reply_text).where(
            or_(Pair.query_message_id == message_id, Pair.reply_message_id == message_id)
        )
    )
    for pair_id, guild_id, query_id, query_text, reply_text in pairs.all():
        query_text, reply_text = (text, reply_text) if query_id == message_id else (query_text, text)
        new_hash = pair_hash(query_text, reply_text)
        clash = await conn.scalar(
            select(Pair.id).where(Pair.guild_id == guild_id, Pair.text_hash == new_hash, Pair.id != pair_id)
        )
        if clash is not None:
            # Now identical to a pair already stored: keep that one only.
            await conn.execute(delete(Pair).where(Pair.id == pair_id))
        else:
            await conn.execute(
                update(Pair)
                .where(Pair.id == pair_id)
                .values(query_text=query_text, reply_text=reply_text, text_hash=new_hash)
            )

    def edit_tail() -> None:
        for channel, tail in caches.tails.items():
            if isinstance(tail, Turn) and tail.id == message_id:
                caches.tails[channel] = replace(tail, text=text)
            elif isinstance(tail, Turn) and tail.answered_id == message_id:
                caches.tails[channel] = replace(tail, answered_text=text)

    hooks.append(edit_tail)
    return True
