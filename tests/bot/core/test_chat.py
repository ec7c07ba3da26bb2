"""ChatService, the hub of the reply path, with a fake channel: real storage, a scripted HTTP worker, no Discord."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import UTC, datetime

import pytest

from bot.core.chat import RESTING_TEXT, ChatService
from bot.core.learning import Learner
from bot.core.limits import ReplyLimits
from bot.core.messages import ChatMessage
from bot.worker import WorkerClient
from tests.worker_process import free_port

_ids = itertools.count(1)  # message ids grow, as Discord's do
BOT, ALICE, BOB, OTHER_BOT = 1, 101, 102, 103
GUILD, CHANNEL, OTHER_CHANNEL = 500, 600, 601
MENTION = f"<@{BOT}>"


class FakeChannel:
    """The core's Channel: records what was sent (and the typing indicator); `refuse` is Discord saying no."""

    def __init__(self, channel_id: int = CHANNEL, guild_id: int | None = GUILD):
        self.id, self.guild_id = channel_id, guild_id
        self.sent: list[tuple[str, int | None]] = []  # (text, the message it replies to)
        self.messages: list[ChatMessage] = []  # the same, as the front-end hands them back
        self.events: list[str] = []
        self.refuse = False
        self.emojis: dict[str, str] = {}

    def custom_emoji(self) -> dict[str, str]:
        return self.emojis

    @contextlib.asynccontextmanager
    async def typing(self):
        self.events.append("typing")
        try:
            yield
        finally:
            self.events.append("typed")

    async def send(self, text: str, *, reply_to: int | None = None) -> ChatMessage | None:
        self.events.append("send")
        if self.refuse:
            return None
        self.sent.append((text, reply_to))
        self.messages.append(ChatMessage(next(_ids), self.id, BOT, text, datetime.now(UTC), self.guild_id, is_own=True))
        return self.messages[-1]


def said(text: str, author: int = ALICE, channel: int = CHANNEL, guild: int | None = GUILD, **fields) -> ChatMessage:
    """A new message; a mention of Banter sets mentions_bot, as the front-end does."""
    return ChatMessage(
        next(_ids), channel, author, text, datetime.now(UTC), guild, mentions_bot=MENTION in text, **fields
    )


@pytest.fixture
async def make_chat(storage, fake_worker):
    """make_chat(worker_url=the fake worker, **ChatService options) -> a ChatService on the test's storage."""
    clients: list[WorkerClient] = []

    async def make(worker_url: str | None = None, *, resting_seconds: float = 60, **options) -> ChatService:
        worker = WorkerClient(worker_url or fake_worker.url, reply_timeout=2, probe_max=60)
        clients.append(worker)
        limits = ReplyLimits(user_seconds=0, channel_rate=5, channel_per_seconds=0, resting_seconds=resting_seconds)
        options.setdefault("context_turns", 6)
        return ChatService(learner=Learner(storage), worker=worker, bot_id=BOT, limits=limits, **options)

    yield make
    for worker in clients:
        await worker.close()


async def test_a_mention_is_answered_as_a_reply_after_typing_and_answers_to_banter_carry_on(make_chat, fake_worker):
    chat, channel = await make_chat(), FakeChannel()
    await chat.handle(said("just chatting"), channel)  # plain chatter: remembered as context, not answered
    mention = said(f"{MENTION} hi there")
    await chat.handle(mention, channel)
    assert channel.sent == [("hello there", mention.id)] and channel.events == ["typing", "typed", "send"]
    assert fake_worker.replies[0]["context"] == ["just chatting", "hi there"]
    # The front-end could not resolve whom it answers; Banter knows its own recent message ids.
    answer = said("why hello?", author=BOB, reply_to_id=channel.messages[-1].id)
    await chat.handle(answer, channel)
    assert channel.sent[-1] == ("hello there", answer.id)
    assert fake_worker.replies[1]["context"] == ["just chatting", "hi there", "hello there", "why hello?"]
    assert chat.counts["replies"] == 2 and chat.counts["seen"] == 3


async def test_each_message_once_and_never_itself_nor_another_bot(make_chat, fake_worker):
    chat, channel = await make_chat(), FakeChannel()
    mention = said(f"{MENTION} once")
    await chat.handle(mention, channel)
    await chat.handle(mention, channel)  # the gateway replayed it
    await chat.handle(channel.messages[-1], channel)  # the gateway's echo of Banter's own reply
    await chat.handle(said(f"{MENTION} hey", author=OTHER_BOT, author_is_bot=True), channel)
    person = said(f"{MENTION} and a person", author=BOB)
    await chat.handle(person, channel)
    assert [reply_to for _, reply_to in channel.sent] == [mention.id, person.id]
    assert chat.counts["duplicates"] == 1 and len(fake_worker.replies) == 2
    # The other bot's words never reach the model; Banter's own are there once.
    assert fake_worker.replies[1]["context"] == ["once", "hello there", "and a person"]


async def test_direct_messages_are_answered_and_never_stored(make_chat, fake_worker, storage):
    chat, dm = await make_chat(), FakeChannel(OTHER_CHANNEL, guild_id=None)
    message = said("hello in private", channel=OTHER_CHANNEL, guild=None)
    await chat.handle(message, dm)
    assert dm.sent == [("hello there", message.id)]
    assert (await storage.export_user_data(ALICE))["messages"] == [] and chat.learner.counts == {}


async def test_the_reply_chance_answers_without_quoting_and_a_switched_off_guild_is_silent(
    make_chat, fake_worker, storage
):
    await storage.update_guild_settings(GUILD, reply_channels=[CHANNEL], reply_chance=0.5, cooldown_seconds=0)
    rolls = iter([0.4, 0.6])
    chat, channel = await make_chat(roll=lambda: next(rolls)), FakeChannel()
    await chat.handle(said("anyone up for a game?"), channel)  # 0.4 < 0.5: picked
    await chat.handle(said("or a film?"), channel)  # 0.6: not picked
    assert channel.sent == [("hello there", None)]
    await storage.update_guild_settings(GUILD, enabled=False)
    await chat.handle(said(f"{MENTION} are you off?"), channel)
    assert len(channel.sent) == 1 and len(fake_worker.replies) == 1


async def test_one_reply_in_flight_per_channel(make_chat, fake_worker):
    fake_worker.reply_delay = 0.3
    chat, channel, other = await make_chat(), FakeChannel(), FakeChannel(OTHER_CHANNEL)
    first, second, elsewhere = (
        said(f"{MENTION} one"),
        said(f"{MENTION} two"),
        said(f"{MENTION} three", channel=OTHER_CHANNEL),
    )
    await asyncio.gather(chat.handle(first, channel), chat.handle(second, channel), chat.handle(elsewhere, other))
    assert channel.sent == [("hello there", first.id)] and other.sent == [("hello there", elsewhere.id)]
    assert chat.counts["skipped_in_flight"] == 1 and len(fake_worker.replies) == 2
    await chat.handle(said(f"{MENTION} four"), channel)  # the channel is free again
    assert len(channel.sent) == 2


async def test_what_must_not_be_sent_is_withheld_and_a_refused_send_is_not_remembered(make_chat, fake_worker):
    fake_worker.reply_text = "that is a ZAP indeed"
    chat, channel = await make_chat(blocklist=("zap",)), FakeChannel()
    await chat.handle(said(f"{MENTION} say it"), channel)
    assert channel.sent == [] and channel.events == ["typing", "typed"] and chat.counts["replies_withheld"] == 1

    fake_worker.reply_text = "@everyone <@7> look"
    channel.refuse = True
    await chat.handle(said(f"{MENTION} ping them"), channel)
    assert channel.events[-1] == "send" and chat.counts["replies"] == 0
    channel.refuse = False
    await chat.handle(said(f"{MENTION} again"), channel)
    assert channel.sent[-1][0] == "@\u200beveryone @user look"  # no pings, whatever the model says
    # the refused reply never became a turn of the conversation
    assert fake_worker.replies[-1]["context"] == ["say it", "ping them", "again"]


async def test_a_worker_that_refuses_the_request_gets_silence_not_a_resting_notice(make_chat, fake_worker):
    fake_worker.reply_error = (400, "context too long")
    chat, channel = await make_chat(), FakeChannel()
    await chat.handle(said(f"{MENTION} hello"), channel)
    assert channel.sent == [] and chat.worker.health.up and chat.counts["resting_notices"] == 0


async def test_while_the_worker_is_down_one_notice_per_channel_and_silence_otherwise(make_chat, storage):
    await storage.update_guild_settings(GUILD, reply_channels=[CHANNEL], reply_chance=1.0, cooldown_seconds=0)
    chat = await make_chat(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    channel, other = FakeChannel(), FakeChannel(OTHER_CHANNEL)
    first = said(f"{MENTION} hello?")
    await chat.handle(first, channel)  # the request fails: the worker is marked down
    assert channel.sent == [(RESTING_TEXT, first.id)] and not chat.worker.health.up
    await chat.handle(said(f"{MENTION} hello??", author=BOB), channel)  # within the window: silent
    await chat.handle(said("just chatting"), channel)  # the chance would pick it, but nobody spoke to Banter
    elsewhere = said(f"{MENTION} anyone?", channel=OTHER_CHANNEL)
    await chat.handle(elsewhere, other)
    assert len(channel.sent) == 1 and other.sent == [(RESTING_TEXT, elsewhere.id)]
    assert chat.counts["resting_notices"] == 2 and chat.counts["silent_while_resting"] == 2
    assert chat.counts["replies"] == 0


async def test_deleted_messages_and_opted_out_people_leave_the_context(make_chat, fake_worker, storage):
    chat, channel = await make_chat(), FakeChannel()
    secret = said("my secret plan", author=BOB)
    await chat.handle(secret, channel)
    await chat.handle(said("we were never here"), channel)
    chat.forget({secret.id})
    await storage.opt_out(ALICE)
    await chat.handle(said("alice again"), channel)  # opted out: not kept even in memory
    await chat.handle(said(f"{MENTION} what was said?", author=BOB), channel)
    assert fake_worker.replies[-1]["context"] == ["we were never here", "what was said?"]
