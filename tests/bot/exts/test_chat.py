"""When Banter answers, end to end over real sockets: the local Discord server, and the real worker or a fake one."""

from __future__ import annotations

from tests.bot.conftest import learn_in, replies_done


async def test_a_mention_gets_a_reply_from_the_real_worker_with_typing_and_no_pings(
    server, world, real_worker, start_bot
):
    async with start_bot(real_worker.url) as bot:
        message = await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> hello, how are you?")
        sent = await server.wait_for_message(world.general, timeout=10)
        assert sent.content and sent.content.strip()
        assert sent.allowed_mentions == {"parse": []}
        assert int(sent.body["message_reference"]["message_id"]) == int(message["id"])  # a reply to the mention
        typing = [t for t in server.typing_calls if t.channel_id == world.general.id]
        assert typing and typing[0].time <= sent.time
        await replies_done(bot, 1)


async def test_dms_and_replies_to_banter_are_answered_but_plain_chatter_is_not(server, world, real_worker, start_bot):
    async with start_bot(real_worker.url) as bot:
        await server.user_says(world.general, world.bob, "just chatting, not to the bot")
        await server.user_dms(world.carol, "hi banter")
        dm = await server.wait_for_message(server.world.dm_channel(world.carol), timeout=10)
        assert dm.content and dm.allowed_mentions == {"parse": []}

        mention = await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> tell me something")
        first = await server.wait_for_message(world.general, timeout=10)
        assert int(first.body["message_reference"]["message_id"]) == int(mention["id"])  # not the chatter before it
        await replies_done(bot, 2)
        answer = await server.user_says(world.general, world.carol, "what do you mean?", reply_to=first.message)
        second = await server.wait_for_message(world.general, timeout=10)
        assert int(second.body["message_reference"]["message_id"]) == int(answer["id"])
        await replies_done(bot, 3)
        # The barrier: a last mention must be answered, and its answer must be the next message sent.
        last = await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> one more")
        third = await server.wait_for_message(world.general, timeout=10)
        assert int(third.body["message_reference"]["message_id"]) == int(last["id"])
        assert len([s for s in server.sent_messages if s.channel_id == world.general.id]) == 3


async def test_never_answers_itself_or_other_bots(server, world, fake_worker, start_bot):
    async with start_bot(fake_worker.url):
        await server.user_says(world.general, world.otherbot, f"<@{server.bot_user.id}> hey bot, talk to me")
        await server.user_dms(world.otherbot, "hello from a bot")
        # Banter's own message (as if it had posted it elsewhere) mentioning itself
        await server.user_says(world.general, server.bot_user, f"<@{server.bot_user.id}> echo")
        last = await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> and a person")  # the barrier
        sent = await server.wait_for_message(world.general)
        assert int(sent.body["message_reference"]["message_id"]) == int(last["id"])
        assert server.sent_messages == [sent] and [r["context"] for r in fake_worker.replies] == [["and a person"]]


async def test_model_output_cannot_ping_anyone(server, world, fake_worker, start_bot):
    fake_worker.reply_text = f"@everyone @here look <@{world.carol.id}> <@!{world.bob.id}> <@&{world.guild.id}>"
    async with start_bot(fake_worker.url):
        await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> ping everyone please")
        sent = await server.wait_for_message(world.general)
    assert sent.allowed_mentions == {"parse": []}
    assert "@everyone" not in sent.content and "@here" not in sent.content
    assert "@\u200beveryone" in sent.content and "@\u200bhere" in sent.content
    assert "<@" not in sent.content
    assert not sent.message["mention_everyone"] and sent.message["mentions"] == []


async def test_blocklisted_replies_are_never_sent(server, world, fake_worker, start_bot):
    fake_worker.reply_text = "that is a Badword indeed"
    async with start_bot(fake_worker.url, reply_blocklist=("badword",)) as bot:
        await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> say it")
        await server.wait_until(lambda: bot.chat.counts["replies_withheld"] == 1)
        fake_worker.reply_text = "all clean"
        await server.user_says(world.general, world.carol, f"<@{server.bot_user.id}> say something else")  # barrier
        sent = await server.wait_for_message(world.general)
        assert sent.content == "all clean" and server.sent_messages == [sent]
        assert bot.chat.counts["replies_withheld"] == 1 and len(fake_worker.replies) == 2


async def test_reply_channels_use_the_chance_and_the_guild_cooldown(server, world, storage, fake_worker, start_bot):
    await learn_in(storage, world.guild, world.random, reply=True)
    await storage.update_guild_settings(world.guild.id, reply_chance=1.0, cooldown_seconds=60)
    async with start_bot(fake_worker.url) as bot:
        await server.user_says(world.general, world.bob, "not a reply channel")
        await server.user_says(world.random, world.bob, "anyone here?")
        sent = await server.wait_for_message(world.random)
        assert "message_reference" not in sent.body  # an unprompted reply does not quote anyone
        await replies_done(bot, 1)
        await server.user_says(world.random, world.carol, "second message within the cooldown")
        # a mention is still answered during the chance cooldown; it is also the barrier for the message before
        mention = await server.user_says(world.random, world.carol, f"<@{server.bot_user.id}> are you there?")
        answer = await server.wait_for_message(world.random)
        assert int(answer.body["message_reference"]["message_id"]) == int(mention["id"])
        assert [s.channel_id for s in server.sent_messages] == [world.random.id, world.random.id]

        await storage.update_guild_settings(world.guild.id, enabled=False)
        await server.user_says(world.random, world.carol, f"<@{server.bot_user.id}> and now?")
        await server.user_dms(world.carol, "are you off?")  # the barrier: direct messages do not depend on a guild
        await server.wait_for_message(server.world.dm_channel(world.carol))
        assert len(server.sent_messages) == 3 and len(fake_worker.replies) == 3


async def test_per_user_cooldown_and_one_reply_in_flight_per_channel(server, world, fake_worker, start_bot):
    fake_worker.reply_delay = 1.0
    async with start_bot(fake_worker.url, user_cooldown_seconds=30) as bot:
        mention = f"<@{server.bot_user.id}>"
        one = await server.user_says(world.general, world.bob, f"{mention} one")
        # The barrier: "one" has reached the worker. Sent at once, "two" could claim the channel first on a
        # loaded machine (each message is its own task, and it awaits the database before it claims).
        await server.wait_until(lambda: len(fake_worker.replies) == 1)
        await server.user_says(world.general, world.carol, f"{mention} two, while one is in flight")
        await server.user_says(world.general, world.bob, f"{mention} three, bob again")
        sent = await server.wait_for_message(world.general)
        # Every message is accounted for (1 answered, 2 skipped), so nothing more can come of them.
        await server.wait_until(lambda: bot.chat.counts["skipped_in_flight"] == 2)
        await replies_done(bot, 1)
        assert int(sent.body["message_reference"]["message_id"]) == int(one["id"])
        assert len(server.sent_messages) == 1 and len(fake_worker.replies) == 1
        await server.user_says(world.general, world.bob, f"{mention} four, still cooling down")
        five = await server.user_says(world.general, world.carol, f"{mention} five, carol's first reply")
        sent = await server.wait_for_message(world.general)
        await replies_done(bot, 2)
        assert int(sent.body["message_reference"]["message_id"]) == int(five["id"])
        assert bot.chat.counts["skipped_cooldown"] == 1 and bot.chat.counts["skipped_in_flight"] == 2
        assert len(server.sent_messages) == 2 and len(fake_worker.replies) == 2


async def test_recent_turns_of_the_channel_go_to_the_worker(server, world, fake_worker, start_bot):
    async with start_bot(fake_worker.url, context_turns=3):
        for text in ("first", "second", "third"):
            await server.user_says(world.general, world.carol, text)
        await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> fourth")
        await server.wait_for_message(world.general)
    assert fake_worker.replies[0]["context"] == ["second", "third", "fourth"]


async def test_a_429_is_waited_out_not_retried_in_a_loop(server, world, fake_worker, start_bot):
    rule = server.rate_limit("POST", "/channels/{channel_id}/messages", times=1, retry_after=0.5)
    async with start_bot(fake_worker.url):
        await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> hi")
        await server.wait_for_message(world.general)
    posts = server.requests_to("POST", "/channels/{channel_id}/messages")
    assert [p.status for p in posts] == [429, 200] and rule.remaining == 0
    assert posts[1].time - posts[0].time >= 0.5 - 0.02


async def test_the_models_custom_emoji_are_sent_as_the_servers_own_and_others_dropped(
    server, world, fake_worker, start_bot
):
    kekwait = server.add_emoji(world.guild, "KEKWait")
    server.add_emoji(world.guild, "oldboost", available=False)  # a lapsed boost's emoji cannot be sent
    fake_worker.reply_text = "<:kekwait:id> so true <:pehands:id> <:oldboost:id> <a:"
    async with start_bot(fake_worker.url) as bot:
        await server.user_says(world.general, world.bob, f"<@{server.bot_user.id}> tell me a joke")
        sent = await server.wait_for_message(world.general, timeout=10)
        assert sent.content == f"<:KEKWait:{kekwait}> so true"
        await replies_done(bot, 1)
        await server.user_dms(world.carol, "hi banter")  # a DM has no server emoji
        dm = await server.wait_for_message(server.world.dm_channel(world.carol), timeout=10)
        assert dm.content == "so true"
