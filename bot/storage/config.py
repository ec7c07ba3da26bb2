"""Storage settings: `[storage]` and `[learning]` from config.toml, and the URL override."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from seq2seq.protocol import config_file
from seq2seq.protocol.config_file import ConfigError

from .pairs import DEFAULT_WINDOW_SECONDS
from .text import DEFAULT_COMMAND_PREFIXES

REPO_ROOT = Path(__file__).resolve().parents[2]  # where migrations/ and alembic.ini are
DEFAULT_URL = "sqlite+aiosqlite:///data/banter.db"
URL_ENV = "BANTER_DATABASE_URL"


@dataclass(frozen=True, slots=True)
class LearningFilters:
    """What the export lets through to training, and how much of it judges the result (the `[learning]` table)."""

    min_chars: int = 2
    max_chars: int = 300
    blocklist: tuple[str, ...] = ()
    replay_fraction: float = 0.5
    # Share of the exported conversations the worker holds out of training to judge the candidate (sent as
    # the job's holdout_fraction; the worker makes the one split).
    validation_fraction: float = 0.2
    max_share_per_user: float | None = 0.10

    def __post_init__(self) -> None:
        if not 0 <= self.min_chars <= self.max_chars:
            raise ConfigError("[learning] min_chars, max_chars: expected 0 <= min_chars <= max_chars")
        if not 0.0 <= self.replay_fraction <= 1.0:
            raise ConfigError(
                f"[learning] replay_fraction: expected a number between 0 and 1, got {self.replay_fraction}"
            )
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(
                "[learning] validation_fraction: expected a number between 0 and 1, both excluded, "
                f"got {self.validation_fraction}"
            )
        if self.max_share_per_user is not None and not 0.0 < self.max_share_per_user <= 1.0:
            raise ConfigError(
                f"[learning] max_share_per_user: expected a number in (0, 1], got {self.max_share_per_user}"
            )


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Everything Storage.open needs; every field has a default."""

    url: str = DEFAULT_URL
    pair_window_seconds: float = DEFAULT_WINDOW_SECONDS
    purge_on_guild_leave: bool = True
    # SQLite waits this long for a lock before the driver gives up; the writer then
    # retries `lock_retries` more times with a short back-off, and after that keeps the
    # writes (at most `write_backlog` of them) until the database is free again.
    busy_timeout_ms: int = 5000
    lock_retries: int = 3
    write_backlog: int = 10_000
    command_prefixes: tuple[str, ...] = DEFAULT_COMMAND_PREFIXES
    learning: LearningFilters = field(default_factory=LearningFilters)

    def with_url(self, url: str | None) -> StorageConfig:
        return self if url is None else replace(self, url=url)


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> StorageConfig:
    """config.toml (see seq2seq.protocol.config_file for which one); BANTER_DATABASE_URL wins over `[storage] url`."""
    env = os.environ if env is None else env
    file = config_file.read(path, env)
    learning = LearningFilters(**config_file.typed(LearningFilters, "learning", file.table("learning")))
    storage = config_file.typed(StorageConfig, "storage", file.table("storage"), skip={"learning"})
    storage.update(config_file.from_env(StorageConfig, env, {URL_ENV: "url"}))
    return StorageConfig(**storage, learning=learning)


def resolve_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The database URL the app and `alembic upgrade head` both use."""
    return url or load_config(env=env).url
