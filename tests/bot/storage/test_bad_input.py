"""What Discord (or a buggy caller) can throw at the storage layer, on every backend."""

from dataclasses import replace as _with
from datetime import datetime

import pytest

from bot.storage import IncomingMessage, NotLogged
from bot.storage.text import MAX_STORED_CHARS

from .conftest import CHANNEL, GUILD, M


async def stored_content(storage, user, message_id):
    data = await storage.export_user_data(user)
    return {m["id"]: m["content"] for m in data["messages"]}.get(str(message_id))


async def test_nul_bytes_are_stripped_not_refused(storage, msg):
    result = await storage.log_message(msg(1, 100, "nul\x00in\x00the middle"))
    assert result.stored
    assert await stored_content(storage, 100, M(1)) == "nulinthe middle"
    assert await storage.apply_edit(M(1), "edited\x00 too")
    assert await stored_content(storage, 100, M(1)) == "edited too"


async def test_lone_surrogates_become_replacement_characters(storage, msg):
    assert (await storage.log_message(msg(1, 100, "broken \ud83d emoji"))).stored
    assert await stored_content(storage, 100, M(1)) == "broken \ufffd emoji"


async def test_long_messages_are_stored_whole_up_to_discords_limit_and_kept_out_of_training(storage, msg, tmp_path):
    long_text = "word " * 800  # 4,000 characters, Discord's longest (Nitro)
    await storage.log_messages([msg(1, 100, "short question"), msg(2, 101, long_text, 1)])
    assert await stored_content(storage, 101, M(2)) == long_text.strip()
    assert (await storage.pair_counts()).total == 1
    counts = await storage.export_training_pairs(tmp_path)
    assert counts.pairs == 0  # max_chars = 300
    huge = await storage.log_message(msg(3, 100, "x" * 20000, 2))
    assert huge.stored and len(await stored_content(storage, 100, M(3))) == MAX_STORED_CHARS


async def test_emoji_and_right_to_left_text_round_trip_exactly(storage, msg):
    texts = ["👩‍👩‍👧‍👦 family", "مرحبا بالعالم", "שלום עולם", "mixed עברית and English", "🇺🇦🏳️‍🌈"]
    await storage.log_messages([msg(i + 1, 100, t, i * 1000) for i, t in enumerate(texts)])
    data = await storage.export_user_data(100)
    assert [m["content"] for m in data["messages"]] == texts


async def test_duplicate_ids_in_one_burst_and_across_calls(storage, msg, count_rows):
    results = await storage.log_messages([msg(1, 100, "first"), msg(1, 100, "first again"), msg(1, 101, "other")])
    assert [r.reason for r in results] == [None, NotLogged.DUPLICATE, NotLogged.DUPLICATE]
    assert (await storage.log_message(msg(1, 100, "first"))).reason == NotLogged.DUPLICATE
    assert await count_rows("messages") == 1
    assert await stored_content(storage, 100, M(1)) == "first"


@pytest.mark.parametrize("bad_id", [0, -5, 2**63, 2**64 + 1, True, "123", None])
async def test_invalid_ids_are_refused_before_anything_is_written(storage, msg, count_rows, bad_id):
    good = msg(1, 100, "hello")
    with pytest.raises(ValueError):
        await storage.log_message(_with(good, author_id=bad_id))
    with pytest.raises(ValueError):
        await storage.apply_bulk_delete([bad_id])
    assert await count_rows("messages") == 0


async def test_naive_datetimes_are_refused(storage):
    naive = IncomingMessage(M(1), GUILD, CHANNEL, 100, "hello", datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        await storage.log_message(naive)


async def test_largest_snowflake_fits(storage, msg, scan):
    biggest = 2**63 - 1
    message = _with(msg(1, 100, "edge"), id=biggest, author_id=biggest - 1)
    assert (await storage.log_message(message)).stored
    assert await storage.apply_bulk_delete([biggest]) == 1
    assert await scan(biggest) == {}
