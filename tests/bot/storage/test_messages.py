"""bot/storage/messages.py through Storage: logging, pairs, idempotency, edits and deletes."""

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import NotLogged, PairKind, SkipReason
from bot.storage.engine import normalise_url
from bot.storage.models import Message, Pair

from .conftest import GUILD, OTHER_GUILD, QUIET_CHANNEL, M


def M0(stored_id):
    return stored_id - M(0)


async def pairs_in(db_url):
    engine = create_async_engine(normalise_url(db_url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    Pair.query_message_id, Pair.reply_message_id, Pair.kind, Pair.query_text, Pair.reply_text
                ).order_by(Pair.id)
            )
            return [(M0(q), M0(r), *rest) for q, r, *rest in rows]
    finally:
        await engine.dispose()


async def test_logged_message_is_durable_when_the_call_returns(storage, msg, db_url):
    result = await storage.log_message(msg(1, 100, "hello world"))
    assert result.stored and result.reason is None
    # A connection of its own sees it: the transaction had committed before the call returned.
    engine = create_async_engine(normalise_url(db_url))
    async with engine.connect() as conn:
        row = (await conn.execute(select(Message.content, Message.author_id).where(Message.id == M(1)))).one()
    await engine.dispose()
    assert tuple(row) == ("hello world", 100)


async def test_pairs_are_extracted_as_messages_arrive(storage, msg, db_url):
    results = [
        await storage.log_message(m)
        for m in [
            msg(1, 100, "anyone here?"),
            msg(2, 101, "yes, me", 3),
            msg(3, 102, "!help", 4),
            msg(4, 100, "great", 5),
            msg(5, 103, "welcome <@100>", 6, reply_to=1),
        ]
    ]
    assert [r.pair_kind for r in results] == [None, PairKind.ADJACENT, None, None, PairKind.REPLY]
    assert results[2].reason == SkipReason.COMMAND
    assert await pairs_in(db_url) == [
        (1, 2, "adjacent", "anyone here?", "yes, me"),
        (1, 5, "reply", "anyone here?", "welcome @user"),
    ]


async def test_concurrent_calls_keep_stream_order(storage, msg):
    stream = [msg(i, 100 + i % 2, f"message number {i}", i) for i in range(1, 201)]
    results = await asyncio.gather(*(storage.log_message(m) for m in stream))
    assert all(r.stored for r in results)
    # Alternating authors, one second apart: every message but the first answers the one before.
    assert [r.pair_kind for r in results[1:]] == [PairKind.ADJACENT] * 199
    assert (await storage.pair_counts()).total == 199


async def test_same_message_twice_is_stored_once(storage, msg, count_rows):
    first = await storage.log_message(msg(1, 100, "hi there"))
    again = await storage.log_message(msg(1, 100, "hi there"))
    batch = await storage.log_messages([msg(2, 101, "hey", 1), msg(2, 101, "hey", 1)])
    assert first.stored and not again.stored and again.reason == NotLogged.DUPLICATE
    assert [r.stored for r in batch] == [True, False]
    assert await count_rows("messages") == 2
    assert await count_rows("pairs") == 1


async def test_identical_pairs_are_stored_once_per_guild(storage, msg, db_url):
    await storage.log_messages(
        [
            msg(1, 100, "hi"),
            msg(2, 101, "hello", 1),
            msg(3, 102, "hi", 600),
            msg(4, 103, "hello", 601),
            msg(5, 100, "hi", 0, guild=OTHER_GUILD),
            msg(6, 101, "hello", 1, guild=OTHER_GUILD),
        ]
    )
    assert [p[:2] for p in await pairs_in(db_url)] == [(1, 2), (5, 6)]


async def test_only_learning_channels_of_enabled_guilds_are_logged(storage, msg, count_rows):
    quiet = await storage.log_message(msg(1, 100, "hello", channel=QUIET_CHANNEL))
    unknown_guild = await storage.log_message(msg(2, 100, "hello", guild=777))
    await storage.update_guild_settings(GUILD, enabled=False)
    disabled = await storage.log_message(msg(3, 100, "hello"))
    assert {quiet.reason, unknown_guild.reason, disabled.reason} == {NotLogged.NOT_LEARNING}
    assert await count_rows("messages") == 0


async def test_other_bots_are_not_stored(storage, msg, count_rows):
    result = await storage.log_message(msg(1, 200, "beep", bot=True))
    own = await storage.log_message(msg(2, 999, "I am Banter", 1, bot=True, own=True))
    assert result.reason == SkipReason.BOT and own.stored
    assert await count_rows("messages") == 1


async def test_a_backfill_larger_than_one_transaction(storage, msg):
    stream = [msg(i, 100 + i % 3, f"line {i}", i) for i in range(1, 1202)]
    results = await storage.log_messages(stream)
    assert len(results) == 1201 and all(r.stored for r in results)
    # Adjacency holds across the 500-message transaction boundaries too.
    assert (await storage.pair_counts()).total == 1200


async def test_edit_updates_message_and_pairs(storage, msg, db_url):
    await storage.log_messages([msg(1, 100, "how are you"), msg(2, 101, "fine", 1), msg(3, 100, "good", 2)])
    assert await storage.apply_edit(M(2), "great, thanks <@100>")
    assert [p[3:] for p in await pairs_in(db_url)] == [
        ("how are you", "great, thanks @user"),
        ("great, thanks @user", "good"),
    ]
    assert not await storage.apply_edit(12345, "never stored")


async def test_edit_into_a_duplicate_pair_keeps_one(storage, msg, db_url):
    await storage.log_messages(
        [msg(1, 100, "hi"), msg(2, 101, "hello", 1), msg(3, 102, "hi", 500), msg(4, 103, "yo", 501)]
    )
    await storage.apply_edit(M(4), "hello")
    assert [p[:2] for p in await pairs_in(db_url)] == [(1, 2)]


async def test_edit_into_a_bare_link_forgets_the_message(storage, msg, scan):
    await storage.log_messages([msg(1, 100, "see this"), msg(2, 101, "what?", 1)])
    assert await storage.apply_edit(M(1), "https://example.com")
    assert await scan(M(1)) == {}
    assert (await storage.pair_counts()).total == 0


async def test_delete_removes_the_message_and_every_pair_it_is_in(storage, msg, scan):
    await storage.log_messages(
        [
            msg(1, 100, "question one"),
            msg(2, 101, "secret answer", 1),
            msg(3, 100, "follow up", 2),
            msg(4, 102, "also to two", 3, reply_to=2),
        ]
    )
    assert await storage.apply_bulk_delete([M(2)]) == 1
    assert await scan(M(2)) == {}
    assert await scan("secret answer") == {}
    assert (await storage.pair_counts()).total == 0
    # The next message must not pair with the deleted one either.
    await storage.log_message(msg(5, 103, "and then", 4))
    assert (await storage.pair_counts()).total == 1  # (4 -> 5) only


async def test_bulk_delete(storage, msg, scan, count_rows):
    await storage.log_messages([msg(i, 100 + i % 2, f"text {i}", i) for i in range(1, 11)])
    assert await storage.apply_bulk_delete(M(i) for i in range(1, 6)) == 5
    for i in range(1, 6):
        assert await scan(M(i)) == {}
    assert await count_rows("messages") == 5
    assert await count_rows("pairs") == 4
    assert await storage.apply_bulk_delete([]) == 0


async def context_of(db_url):
    engine = create_async_engine(normalise_url(db_url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(Pair.context_message_id, Pair.context_text).order_by(Pair.id))
            return [tuple(r) for r in rows]
    finally:
        await engine.dispose()


async def test_pairs_keep_the_turn_before_the_query_as_context(storage, msg, db_url):
    await storage.log_messages([msg(1, 100, "one"), msg(2, 101, "two", 1), msg(3, 100, "three", 2)])
    await storage.log_message(msg(4, 101, "four", 3))  # context comes from the cache this time
    await storage.log_message(msg(5, 102, "five", 4, reply_to=2))  # and from the database here
    assert await context_of(db_url) == [(None, None), (M(1), "one"), (M(2), "two"), (M(1), "one")]


async def test_editing_or_deleting_the_context_message_reaches_the_snapshot(storage, msg, db_url, scan):
    await storage.log_messages([msg(1, 100, "first words"), msg(2, 101, "reply", 1), msg(3, 100, "again", 2)])
    await storage.apply_edit(M(1), "edited words")
    assert (await context_of(db_url))[1] == (M(1), "edited words")
    await storage.apply_bulk_delete([M(1)])
    assert await context_of(db_url) == [(None, None)]  # (2 -> 3) stays, without its context
    assert await scan("edited words") == {} and await scan(M(1)) == {}
    # The channel's last message no longer carries the deleted context either.
    await storage.log_message(msg(4, 102, "later", 3))
    assert (await context_of(db_url))[-1] == (M(2), "reply")


async def test_a_history_backfill_pairs_within_itself_after_live_messages(storage, msg, db_url):
    # Live logging has already seen a newer message in the channel...
    await storage.log_message(msg(50, 100, "live and newest", 500))
    # ...so older history, imported oldest first, would look late and stay unpaired without backfill.
    old = [msg(1, 100, "anyone around?", 0), msg(2, 101, "yes, what's up", 10), msg(3, 100, "nothing much", 20)]
    late = await storage.log_messages(old[:2])
    assert [r.pair_kind for r in late] == [None, None]
    await storage.apply_bulk_delete([M(1), M(2)])
    results = await storage.log_messages(old, backfill=True)
    assert [r.pair_kind for r in results] == [None, PairKind.ADJACENT, PairKind.ADJACENT]
    assert [(q, r) for q, r, *_ in await pairs_in(db_url)] == [(1, 2), (2, 3)]
    # The live stream's tail is untouched: the next live message still pairs with the newest one.
    live = await storage.log_message(msg(51, 101, "reply to the live one", 510))
    assert live.pair_kind == PairKind.ADJACENT
