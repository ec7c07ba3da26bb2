"""bot/storage/privacy.py through Storage: opt-out, forgetting, a user's data, purging a guild."""

import json

from bot.storage import NotLogged

from .conftest import CHANNEL, GUILD, OTHER_CHANNEL, OTHER_GUILD, M

ALICE, BOB, CAROL = 7001, 7002, 7003


async def chat(storage, msg):
    """Alice and Bob talk; Carol answers Alice; an admin action names Alice."""
    await storage.log_messages(
        [
            msg(1, ALICE, "alice says hi"),
            msg(2, BOB, "bob answers", 1),
            msg(3, ALICE, "alice again", 2),
            msg(4, CAROL, "carol to alice", 3, reply_to=1),
            msg(5, BOB, "bob in guild two", 0, guild=OTHER_GUILD, channel=OTHER_CHANNEL),
        ]
    )
    await storage.record_audit("user.warned", guild_id=GUILD, actor_id=ALICE, target_id=BOB)
    run = await storage.start_training_run(triggered_by=ALICE)
    return run


async def test_opt_out_purges_everything_and_logs_nothing_new(storage, msg, scan):
    await chat(storage, msg)
    assert await storage.opt_out(ALICE) == 2
    assert storage.is_opted_out(ALICE)
    # The opt-out record is the only trace left of Alice's id, and none of her words.
    assert await scan(ALICE) == {"opt_outs.user_id": 1}
    for text in ("alice says hi", "alice again"):
        assert await scan(text) == {}
    for i in (1, 3):
        assert await scan(M(i)) == {}
    # Every pair Alice was in is gone; Bob's message in guild two is untouched.
    assert (await storage.pair_counts()).total == 0
    assert "messages.id" in await scan(M(5))
    result = await storage.log_message(msg(6, ALICE, "am I logged?", 10))
    assert not result.stored and result.reason == NotLogged.OPTED_OUT
    assert await scan("am I logged?") == {}


async def test_opt_out_survives_a_restart_and_opt_in_undoes_it(storage, msg, reopen):
    await storage.opt_out(ALICE)
    await storage.close()
    again = await reopen()
    assert again.is_opted_out(ALICE)
    assert (await again.log_message(msg(1, ALICE, "still no"))).reason == NotLogged.OPTED_OUT
    assert await again.opt_in(ALICE)
    assert not again.is_opted_out(ALICE)
    assert (await again.log_message(msg(2, ALICE, "now yes", 1))).stored


async def test_forget_user_without_opting_out(storage, msg, scan):
    await chat(storage, msg)
    assert await storage.forget_user(ALICE) == 2
    assert await scan(ALICE) == {}
    assert not storage.is_opted_out(ALICE)
    # Audit history stays, anonymised.
    (entry,) = [e for e in await storage.audit_log(GUILD) if e.action == "user.warned"]
    assert entry.actor_id is None and entry.target_id == BOB


async def test_forgotten_message_is_no_ones_query_afterwards(storage, msg):
    await storage.log_message(msg(1, ALICE, "alice speaks"))
    await storage.forget_user(ALICE)
    result = await storage.log_message(msg(2, BOB, "bob answers", 1))
    assert result.stored and result.pair_kind is None


async def test_export_user_data_is_json_with_all_of_theirs_and_nothing_of_others(storage, msg):
    run = await chat(storage, msg)
    data = await storage.export_user_data(ALICE)
    round_tripped = json.loads(json.dumps(data))
    assert round_tripped == data
    assert data["user_id"] == str(ALICE) and data["opted_out"] is False
    assert [m["content"] for m in data["messages"]] == ["alice says hi", "alice again"]
    assert all(isinstance(m["id"], str) for m in data["messages"])  # 64-bit ids as strings
    assert {(p["query_text"], p["reply_text"]) for p in data["pairs"]} == {
        ("alice says hi", "bob answers"),
        ("bob answers", "alice again"),
        ("alice says hi", "carol to alice"),
    }
    assert [r["id"] for r in data["training_runs_triggered"]] == [str(run)]
    assert [a["action"] for a in data["audit_log"]] == ["user.warned", "training.start"]
    assert "bob in guild two" not in json.dumps(data)


async def test_export_of_an_opted_out_user_says_so_and_holds_no_messages(storage, msg):
    await chat(storage, msg)
    await storage.opt_out(ALICE)
    data = await storage.export_user_data(ALICE)
    assert data["opted_out"] is True and data["opted_out_at"]
    assert data["messages"] == [] and data["pairs"] == [] and data["audit_log"] == []


async def test_purge_guild_leaves_nothing_of_it(storage, msg, scan):
    await chat(storage, msg)
    assert await storage.purge_guild(GUILD) == 4
    assert await scan(GUILD) == {}
    assert await scan(CHANNEL) == {"guild_channels.channel_id": 1}  # guild two's learning channel
    assert "messages.id" in await scan(M(5))
    assert (await storage.get_guild_settings(GUILD)).learning_channels == frozenset()


async def test_leaving_a_guild_follows_the_setting(storage, msg, reopen, scan):
    await chat(storage, msg)
    await storage.close()
    keep = await reopen(purge_on_guild_leave=False)
    assert await keep.handle_guild_leave(GUILD) is False
    assert "messages.guild_id" in await scan(GUILD)
    await keep.close()
    purge = await reopen(purge_on_guild_leave=True)
    assert await purge.handle_guild_leave(GUILD) is True
    assert await scan(GUILD) == {}


async def test_a_user_whose_message_is_only_context_is_forgotten_there_too(storage, msg, scan):
    await storage.log_messages(
        [msg(1, ALICE, "alice opens"), msg(2, BOB, "bob answers", 1), msg(3, CAROL, "carol follows", 2)]
    )
    data = await storage.export_user_data(ALICE)
    assert [p["context_text"] for p in data["pairs"]] == [None, "alice opens"]  # her message as context counts
    await storage.forget_user(ALICE)
    assert await scan("alice opens") == {} and await scan(M(1)) == {}
    assert (await storage.pair_counts()).total == 1  # bob -> carol stays, without Alice's words
    # Carol's next turn must not carry Alice's message as context from the cache either.
    await storage.log_message(msg(4, BOB, "bob again", 3))
    assert await scan("alice opens") == {}
