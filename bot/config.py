"""The bot's settings: `[bot]` and the bot's side of `[worker]` from config.toml, then environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from seq2seq.protocol import config_file
from seq2seq.protocol.config_file import ConfigError

WORKER_URL_ENV = "BANTER_WORKER_URL"
WORKER_TOKEN_ENV = "BANTER_WORKER_TOKEN"  # the worker's shared secret: environment only, never a file
MODELS_ENV = "BANTER_WORKER_MODELS"  # the worker's own override of [worker] models, honoured when we spawn it
TOKEN_ENV = "DISCORD_TOKEN"  # the bot token: environment only, never a file or a flag
# A local Discord-compatible endpoint (the test server, or a REST/gateway proxy).
API_BASE_ENV = "BANTER_DISCORD_API"
GATEWAY_ENV = "BANTER_DISCORD_GATEWAY"
# One bot process per shard: which one this is, of how many (see README "Scaling").
SHARD_ID_ENV = "BANTER_SHARD_ID"
SHARD_COUNT_ENV = "BANTER_SHARD_COUNT"


@dataclass(frozen=True)
class BotConfig:
    """Every key has a default, so a config.toml without `[bot]` works."""

    # People who may run retrain/models/rollback/status, besides the Discord application's owner or team.
    owner_ids: frozenset[int] = frozenset()
    admin_ids: frozenset[int] = frozenset()
    context_turns: int = 6  # recent turns of the channel sent to the worker (the message included)
    user_cooldown_seconds: float = 4.0  # one reply per person per this many seconds
    channel_rate: int = 4  # replies per channel (mentions, replies, DMs)...
    channel_per_seconds: float = 10.0  # ...per this many seconds; Discord allows 5 per 5 s
    resting_notice_seconds: float = 600.0  # "I'm resting" at most once per channel per window
    reply_timeout_seconds: float = 8.0  # give up on a reply after this; the worker gives up too
    worker_probe_max_seconds: float = 10.0  # while the worker is down, check it at most this far apart
    worker_start_timeout_seconds: float = 120.0  # a spawned worker must be ready by then
    log_channel: int = 0  # channel id for fine-tune reports; 0: none
    state_dir: Path = Path("data")  # small files of the bot's own (the command tree's hash)
    reply_blocklist: tuple[str, ...] = ()  # added to [learning] blocklist: replies with these are never sent
    finetune_interval_hours: float = 24.0
    finetune_min_pairs: int = 500
    finetune_check_minutes: float = 10.0  # how often the schedule is looked at
    finetune_poll_seconds: float = 2.0
    finetune_max_steps: int = 0  # 0: the worker's default (epochs)
    shard_id: int = 0  # this process's shard, of shard_count; each gets its guilds' events, DMs go to 0
    shard_count: int = 1  # 1: no sharding
    # From elsewhere in config.toml:
    worker_url: str = ""  # [worker] url; empty: spawn a local worker
    worker_models: Path = Path("models")  # [worker] models, for a spawned worker
    worker_host: str = "127.0.0.1"  # [worker] host, for a spawned worker
    worker_token: str = field(default="", repr=False)
    learning_blocklist: tuple[str, ...] = ()  # [learning] blocklist
    config_path: Path | None = None

    @property
    def blocklist(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w.lower() for w in (*self.learning_blocklist, *self.reply_blocklist) if w))

    @property
    def spawns_worker(self) -> bool:
        return not self.worker_url

    @property
    def shard_options(self) -> dict[str, int]:
        """discord.py's Client options for this process's one shard ({} when not sharded)."""
        return {"shard_id": self.shard_id, "shard_count": self.shard_count} if self.shard_count > 1 else {}

    def check(self) -> None:
        for name in ("context_turns", "channel_rate"):
            if getattr(self, name) < 1:
                raise ConfigError(f"[bot] {name} must be at least 1")
        for name in (
            "user_cooldown_seconds",
            "channel_per_seconds",
            "resting_notice_seconds",
            "finetune_interval_hours",
            "finetune_min_pairs",
            "finetune_max_steps",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"[bot] {name} must not be negative")
        for name in (
            "reply_timeout_seconds",
            "worker_probe_max_seconds",
            "worker_start_timeout_seconds",
            "finetune_check_minutes",
            "finetune_poll_seconds",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"[bot] {name} must be positive")
        if self.shard_count < 1 or not 0 <= self.shard_id < self.shard_count:
            raise ConfigError(
                f"shard {self.shard_id} of {self.shard_count}: the shard id must be at least 0 and below the "
                f"shard count ([bot] shard_id and shard_count, or {SHARD_ID_ENV} and {SHARD_COUNT_ENV})"
            )
        if self.worker_url and not self.worker_url.startswith(("http://", "https://")):
            raise ConfigError(f"[worker] url must start with http:// or https://, got {self.worker_url!r}")


# Keys of other tables the bot reads ({table: {key: field}}); `[bot]` holds the rest of BotConfig's fields.
_ELSEWHERE = {
    "worker": {"url": "worker_url", "models": "worker_models", "host": "worker_host"},
    "learning": {"blocklist": "learning_blocklist"},
}
_NOT_IN_BOT_TABLE = {"worker_token", "config_path", *(f for keys in _ELSEWHERE.values() for f in keys.values())}
_ENV = {
    WORKER_URL_ENV: "worker_url",
    MODELS_ENV: "worker_models",
    SHARD_ID_ENV: "shard_id",
    SHARD_COUNT_ENV: "shard_count",
}


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> BotConfig:
    """config.toml (see seq2seq.protocol.config_file for which one), then BANTER_WORKER_URL/TOKEN/MODELS
    and BANTER_SHARD_ID/COUNT."""
    env = os.environ if env is None else env
    file = config_file.read(path, env)
    values = config_file.typed(BotConfig, "bot", file.table("bot"), skip=_NOT_IN_BOT_TABLE)
    for table, keys in _ELSEWHERE.items():
        values.update(config_file.typed(BotConfig, table, file.table(table), keys=keys))
    values.update(config_file.from_env(BotConfig, env, _ENV))
    config = BotConfig(**values, worker_token=env.get(WORKER_TOKEN_ENV, ""), config_path=file.path)
    config = replace(config, worker_url=config.worker_url.rstrip("/"))
    config.check()
    return config
