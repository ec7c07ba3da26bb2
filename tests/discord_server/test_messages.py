"""Messages both ways: MESSAGE_CREATE reaches on_message, the bot's sends/typing/reactions/uploads reach the server."""

from __future__ import annotations

import discord

from .conftest import make_bot


async def test_message_create_reaches_on_message_and_reply_keeps_allowed_mentions(server, world):
    bot = make_bot()
    seen = []

    @bot.event
    async def on_message(message: discord.Message):
        if message.author.bot:
            return
        seen.append(message)
        async with message.channel.typing():
            await message.channel.send(
                f"hi {message.author.mention}", reference=message, allowed_mentions=discord.AllowedMentions.none()
            )
        await message.add_reaction("\N{THUMBS UP SIGN}")

    async with server.run_bot(bot):
        said = await server.user_says(world.general, world.bob, f"hello {server.bot_user.mention}")
        sent = await server.wait_for_message(world.general)
        assert sent.content == f"hi <@{world.bob.id}>"
        assert sent.allowed_mentions == {"parse": []}  # AllowedMentions.none(): nobody pinged
        assert str(sent.body["message_reference"]["message_id"]) == said["id"]  # discord.py sends an int
        assert sent.message["referenced_message"]["id"] == said["id"]
        assert sent.message["type"] == 19
        await server.wait_until(lambda: server.reactions)
        assert server.reactions[0].emoji == "\N{THUMBS UP SIGN}" and server.reactions[0].method == "PUT"

        [message] = seen
        assert message.content == f"hello <@{server.bot_user.id}>"
        assert isinstance(message.author, discord.Member) and message.guild.id == world.guild.id
        assert [m.id for m in message.mentions] == [server.bot_user.id]
        assert [c.channel_id for c in server.typing_calls] == [world.general.id]
        assert server.typing_calls[0].time <= sent.time
        # the bot's own message came back as MESSAGE_CREATE too (and was ignored)
        assert [m["id"] for m in server.messages_in(world.general)] == [said["id"], str(sent.id)]


async def test_edits_deletes_dms_and_uploads(server, world):
    bot = make_bot()
    events = []

    @bot.event
    async def on_message_edit(before: discord.Message, after: discord.Message):
        events.append(("edit", after.content))

    @bot.event
    async def on_message_delete(message: discord.Message):
        events.append(("delete", message.content))

    @bot.event
    async def on_bulk_message_delete(messages):
        events.append(("bulk", sorted(m.content for m in messages)))

    @bot.event
    async def on_message(message: discord.Message):
        if message.author.bot:
            return
        if message.guild is None:
            await message.author.send("got your DM", file=discord.File(_bytes(b"abc"), "note.txt"))

    async with server.run_bot(bot):
        m1 = await server.user_says(world.general, world.carol, "first")
        m2 = await server.user_says(world.general, world.carol, "second")
        m3 = await server.user_says(world.general, world.carol, "third")
        await server.edit_message(m1, "first (edited)")
        await server.delete_message(m2)
        await server.user_says(world.general, world.carol, "fourth")
        await server.bulk_delete(world.general, [m1, m3])
        await server.user_dms(world.bob, "psst")
        dm = await server.wait_for_message()
        await server.wait_until(lambda: len(events) == 3)
        assert events == [("edit", "first (edited)"), ("delete", "second"), ("bulk", ["first (edited)", "third"])]
        assert dm.content == "got your DM" and dm.channel_id == server.world.dm_channels[world.bob.id].id
        assert [(f.filename, f.data) for f in dm.files] == [("note.txt", b"abc")]
        attachment = dm.message["attachments"][0]
        assert attachment["filename"] == "note.txt" and attachment["size"] == 3
        assert server.requests_to("POST", "/users/@me/channels")[0].body == {"recipient_id": world.bob.id}
        channel = bot.get_channel(dm.channel_id) or await bot.fetch_channel(dm.channel_id)
        fetched = await channel.fetch_message(dm.id)
        assert await fetched.attachments[0].read() == b"abc"


async def test_history_pages_through_everything(server, world):
    bot = make_bot()
    old = server.seed_history(world.random, world.carol, [f"msg {i}" for i in range(250)])
    async with server.run_bot(bot):
        channel = bot.get_channel(world.random.id)
        newest_first = [m.content async for m in channel.history(limit=None)]
        assert newest_first == [m["content"] for m in reversed(old)]
        limited = [m.id async for m in channel.history(limit=120)]
        assert limited == [int(m["id"]) for m in reversed(old)][:120]
        oldest_first = [m.content async for m in channel.history(limit=150, oldest_first=True)]
        assert oldest_first == [f"msg {i}" for i in range(150)]
        middle = discord.Object(id=int(old[100]["id"]))
        after = [m.content async for m in channel.history(limit=None, after=middle)]
        assert after == [f"msg {i}" for i in range(101, 250)]
        pages = server.requests_to("GET", "/channels/{channel_id}/messages")
        assert [p.query["limit"] for p in pages[:3]] == ["100", "100", "100"]
        assert "before" in pages[1].query and all(p.status == 200 for p in pages)


def _bytes(data: bytes):
    import io

    return io.BytesIO(data)


async def test_without_message_content_intent_only_mentions_carry_content(server, world):
    intents = discord.Intents.default()  # no privileged message_content
    bot = discord.Client(intents=intents, guild_ready_timeout=0.1)
    seen = []

    @bot.event
    async def on_message(message: discord.Message):
        seen.append(message.content)

    async with server.run_bot(bot):
        await server.user_says(world.general, world.bob, "secret chatter")
        await server.user_says(world.general, world.bob, f"{server.bot_user.mention} hi")
        await server.wait_until(lambda: len(seen) == 2)
        assert seen == ["", f"<@{server.bot_user.id}> hi"]
