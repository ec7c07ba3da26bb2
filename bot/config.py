"""The bot's settings: `[bot]` and the bot's side of `[worker]` from config.toml, then environment overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_ENV = "BANTER_CONFIG"  # another config file (tests, several deployments)
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


class ConfigError(ValueError):
    """A setting has the wrong type or value; the message names it."""


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


def _convert(name: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, frozenset):
            return frozenset(int(v) for v in value)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return tuple(value)
        if isinstance(default, Path):
            return Path(value)
        if isinstance(default, bool) or isinstance(value, bool):
            raise TypeError
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str) and not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"[bot] {name}: {value!r} is not a valid {type(default).__name__}") from None


def config_file(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if path is not None:
        return Path(path)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return Path("config.toml") if Path("config.toml").exists() else REPO_ROOT / "config.toml"


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> BotConfig:
    """Read config.toml (a missing default file means defaults), then BANTER_WORKER_URL/TOKEN/MODELS
    and BANTER_SHARD_ID/COUNT."""
    env = os.environ if env is None else env
    file = config_file(path, env)
    explicit = path is not None or bool(env.get(CONFIG_ENV))
    data: dict[str, Any] = {}
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: {exc}") from None
    elif explicit:
        raise ConfigError(f"config file not found: {file}")
    defaults = BotConfig()
    known = {f.name: getattr(defaults, f.name) for f in fields(BotConfig)}
    values: dict[str, Any] = {}
    for key, value in data.get("bot", {}).items():
        if key in known and not key.startswith("worker_") and key not in ("config_path", "learning_blocklist"):
            values[key] = _convert(key, value, known[key])
    worker = data.get("worker", {})
    for key in ("url", "models", "host"):
        if key in worker:
            values[f"worker_{key}"] = _convert(f"worker.{key}", worker[key], known[f"worker_{key}"])
    if "blocklist" in data.get("learning", {}):
        values["learning_blocklist"] = _convert("learning.blocklist", data["learning"]["blocklist"], ())
    if env.get(WORKER_URL_ENV):
        values["worker_url"] = env[WORKER_URL_ENV]
    if env.get(MODELS_ENV):
        values["worker_models"] = Path(env[MODELS_ENV])
    for key, name in (("shard_id", SHARD_ID_ENV), ("shard_count", SHARD_COUNT_ENV)):
        if env.get(name, "").strip():
            try:
                values[key] = int(env[name])
            except ValueError:
                raise ConfigError(f"{name} must be a whole number, got {env[name]!r}") from None
    config = replace(
        defaults, **values, worker_token=env.get(WORKER_TOKEN_ENV, ""), config_path=file if file.exists() else None
    )
    config = replace(config, worker_url=config.worker_url.rstrip("/"))
    config.check()
    return config
