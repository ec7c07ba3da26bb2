"""The conversation path every front-end shares: log, decide, and answer with the worker's reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import replace

from bot.worker import WorkerClient, WorkerError, WorkerUnavailable
from seq2seq.protocol.blocklist import Blocklist

from .context import RecentTurns
from .decision import decide
from .learning import Learner
from .limits import ReplyLimits
from .messages import Channel, ChatMessage, Trigger
from .sanitize import clean_reply

log = logging.getLogger("banter.chat")

RESTING_TEXT = "I'm resting right now, back soon."
SEEN_IDS = 20_000  # message ids remembered, so a replayed event is never handled twice
OWN_IDS = 5_000  # Banter's own recent message ids, to spot replies to it


class _RecentIds:
    """A bounded set: the newest `size` ids."""

    def __init__(self, size: int):
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def add(self, item: int) -> bool:
        """Add; False if it was already there."""
        if item in self._ids:
            return False
        self._ids[item] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, item: int) -> bool:
        return item in self._ids


class ChatService:
    """Handles each incoming message once: logs it, and answers it when it should, at most one reply in flight
    per channel, with a typing indicator, never pinging anyone, silent (or briefly 'resting') when the worker is down.
    """

    def __init__(
        self,
        *,
        learner: Learner,
        worker: WorkerClient,
        bot_id: int,
        limits: ReplyLimits,
        context_turns: int,
        blocklist: tuple[str, ...] = (),
        roll: Callable[[], float] = random.random,
        resting_text: str = RESTING_TEXT,
    ):
        self.learner = learner
        self.worker = worker
        self.bot_id = bot_id
        self.limits = limits
        self.turns = RecentTurns(context_turns, bot_id)
        self.blocked = Blocklist(blocklist)
        self.roll = roll
        self.resting_text = resting_text
        self.counts: Counter[str] = Counter()
        self._seen = _RecentIds(SEEN_IDS)
        self._own = _RecentIds(OWN_IDS)
        self._in_flight: set[int] = set()

    async def handle(self, message: ChatMessage, channel: Channel) -> None:
        """Everything Banter does with a new message. Never raises for an outage of the worker or storage."""
        if message.is_own or message.author_id == self.bot_id:
            return  # its own replies were recorded when sent
        if not self._seen.add(message.id):
            self.counts["duplicates"] += 1
            return
        self.counts["seen"] += 1
        if message.author_is_bot:
            return
        # Created before any await: tasks start in creation order, so storage sees the channel's order.
        logged = asyncio.ensure_future(self.learner.log(message))
        try:
            if not self.learner.storage.is_opted_out(message.author_id):
                self.turns.add(message)
            if (
                message.reply_to_id is not None
                and message.reply_to_author_id is None
                and message.reply_to_id in self._own
            ):
                message = replace(message, reply_to_author_id=self.bot_id)
            settings = await self.learner.settings(message.guild_id)
            trigger = decide(message, settings, bot_id=self.bot_id, roll=self.roll())
            if trigger is not None:
                cooldown = settings.cooldown_seconds if settings is not None else 0.0
                await self._answer(message, channel, trigger, cooldown)
        except Exception:
            log.exception("failed to handle message %d", message.id)
        finally:
            await logged

    async def _answer(self, message: ChatMessage, channel: Channel, trigger: Trigger, cooldown: float) -> None:
        if message.channel_id in self._in_flight:
            self.counts["skipped_in_flight"] += 1
            return
        if not self.limits.allow(message, trigger, cooldown):
            self.counts["skipped_cooldown"] += 1
            return
        self._in_flight.add(message.channel_id)
        try:
            sent = await self._reply(message, channel, trigger)
        finally:
            self._in_flight.discard(message.channel_id)
        if sent is not None:
            self.counts["replies"] += 1
            await self._record_own(sent)

    async def _reply(self, message: ChatMessage, channel: Channel, trigger: Trigger) -> ChatMessage | None:
        if not self.worker.health.up:
            await self._resting(message, channel, trigger)
            return None
        context = self.turns.context_for(message)
        try:
            async with channel.typing():
                result = await self.worker.reply(context)
        except WorkerUnavailable:
            await self._resting(message, channel, trigger)
            return None
        except WorkerError as exc:
            log.error("the worker refused a reply request: %s", exc.message)
            return None
        text = clean_reply(result.reply, self.blocked, channel.custom_emoji())
        if text is None:
            self.counts["replies_withheld"] += 1
            return None
        return await channel.send(text, reply_to=message.id if trigger is not Trigger.CHANCE else None)

    async def _resting(self, message: ChatMessage, channel: Channel, trigger: Trigger) -> None:
        """Silent unless spoken to; then one short notice per channel per window."""
        if trigger.addressed and self.limits.allow_resting_notice(message):
            if await channel.send(self.resting_text, reply_to=message.id) is not None:
                self.counts["resting_notices"] += 1
        else:
            self.counts["silent_while_resting"] += 1

    async def _record_own(self, sent: ChatMessage) -> None:
        self._seen.add(sent.id)  # the gateway echoes it back: nothing more to do then
        self._own.add(sent.id)
        self.turns.add(sent)
        with contextlib.suppress(Exception):
            await self.learner.log(sent)

    def forget(self, message_ids: set[int]) -> None:
        """Deleted messages leave the conversation context at once."""
        self.turns.forget(message_ids)
