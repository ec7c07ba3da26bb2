"""Privacy commands end to end: optout purges and stops logging, optin, forget-me, my-data in a DM, privacy."""

from __future__ import annotations

import json

from bot.exts.privacy._text import privacy_text
from tests.bot.conftest import eventually, learn_in


async def stored(storage, user) -> list[str]:
    return [m["content"] for m in (await storage.export_user_data(user.id))["messages"]]


async def said(storage, user, text: str) -> bool:
    return text in await stored(storage, user)


async def slash(server, world, user, name, channel=None):
    record = await server.invoke_slash(world.guild, channel or world.general, user, "banter", name)
    await record.wait(lambda r: r.callbacks and (r.response_type == 4 or r.followups or r.edits), timeout=10)
    return record


def text_of(record) -> str:
    if record.response_type == 4:
        return record.callbacks[0]["data"]["content"]
    return (record.followups or [{}])[-1].get("content") or ""


async def test_optout_purges_and_nothing_is_logged_until_optin(server, world, storage, fake_worker, start_bot):
    await learn_in(storage, world.guild, world.general)
    async with start_bot(fake_worker.url, context_turns=5):
        await server.user_says(world.general, world.bob, "my secret hobby is knitting")
        await server.user_says(world.general, world.carol, "cool hobby")
        await eventually(lambda: stored(storage, world.bob))
        record = await slash(server, world, world.bob, "optout")
        assert record.ephemeral and "opted out" in text_of(record) and "1 stored message" in text_of(record)
        assert await stored(storage, world.bob) == [] and (await storage.pair_counts()).total == 0
        assert storage.is_opted_out(world.bob.id)

        await server.user_says(world.general, world.bob, "this must not be stored")
        await server.user_says(world.general, world.carol, f"<@{server.bot_user.id}> hello")
        await server.wait_for_message(world.general)
        # The barrier: storage takes messages in arrival order, so once carol's is in, bob's was decided.
        await eventually(lambda: said(storage, world.carol, "@user hello"))
        assert await stored(storage, world.bob) == []
        assert all("knitting" not in turn and "must not" not in turn for turn in fake_worker.replies[-1]["context"])

        record = await slash(server, world, world.bob, "optin")
        assert "learn from your messages" in text_of(record)
        await server.user_says(world.general, world.bob, "stored again")
        await eventually(lambda: stored(storage, world.bob))
        assert await stored(storage, world.bob) == ["stored again"]


async def test_forget_me_deletes_without_opting_out(server, world, storage, fake_worker, start_bot):
    await learn_in(storage, world.guild, world.general)
    async with start_bot(fake_worker.url):
        await server.user_says(world.general, world.carol, "remember me")
        await server.user_says(world.general, world.bob, "i will")
        await eventually(lambda: stored(storage, world.carol))
        record = await slash(server, world, world.carol, "forget-me")
        assert record.ephemeral and "Deleted 1 stored message" in text_of(record)
        assert await stored(storage, world.carol) == [] and (await storage.pair_counts()).total == 0
        assert await stored(storage, world.bob) == ["i will"]
        assert not storage.is_opted_out(world.carol.id)


async def test_my_data_arrives_as_a_json_file_in_a_dm(server, world, storage, fake_worker, start_bot):
    await learn_in(storage, world.guild, world.general)
    async with start_bot(fake_worker.url):
        await server.user_says(world.general, world.carol, "export me please")
        await eventually(lambda: stored(storage, world.carol))
        record = await slash(server, world, world.carol, "my-data")
        assert record.ephemeral and "Sent you a DM" in text_of(record)
        dm = server.world.dm_channel(world.carol)
        sent = await server.wait_for_message(dm)
        [upload] = sent.files
        data = json.loads(upload.data)
        assert upload.filename.endswith(".json") and data["user_id"] == str(world.carol.id)
        assert [m["content"] for m in data["messages"]] == ["export me please"]
        assert server.messages_in(world.general)[-1]["content"] == "export me please"  # nothing public


async def test_privacy_explains_in_plain_words_and_everyone_may_ask(server, world, fake_worker, start_bot):
    async with start_bot(fake_worker.url):
        record = await slash(server, world, world.carol, "privacy")
        text = text_of(record)
        assert record.ephemeral and len(text) <= 2000
        for command in ("optout", "optin", "forget-me", "my-data"):
            assert f"/banter {command}" in text


def test_the_privacy_text_says_what_the_model_keeps_and_promises_only_what_the_settings_do():
    text = privacy_text(purge_on_guild_leave=True)
    assert len(text) <= 2000  # one Discord message
    assert "the worker deletes that text when the job ends" in text
    assert "keep what they learned until an admin retrains from scratch (`/banter retrain full`)" in text
    assert "leaves a server, that server's messages are deleted" in text
    assert "leaves a server" not in privacy_text(purge_on_guild_leave=False)
