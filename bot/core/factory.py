"""Builds the conversation path from the configuration, the same way for Discord and the console."""

from __future__ import annotations

from bot.config import BotConfig
from bot.storage import Storage
from bot.worker import WorkerClient

from .chat import ChatService
from .learning import Learner
from .limits import ReplyLimits


def chat_service(
    config: BotConfig, storage: Storage, worker: WorkerClient, bot_id: int, *, interactive: bool = False
) -> ChatService:
    """`interactive`: one person at a terminal, who must get an answer (or 'resting') to every line."""
    limits = ReplyLimits(
        user_seconds=0 if interactive else config.user_cooldown_seconds,
        channel_rate=config.channel_rate,
        channel_per_seconds=0 if interactive else config.channel_per_seconds,
        resting_seconds=0 if interactive else config.resting_notice_seconds,
    )
    return ChatService(
        learner=Learner(storage),
        worker=worker,
        bot_id=bot_id,
        limits=limits,
        context_turns=config.context_turns,
        blocklist=config.blocklist,
    )
