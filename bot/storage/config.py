"""Storage settings: reads `[storage]` and `[learning]` from config.toml and the URL override."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .pairs import DEFAULT_WINDOW_SECONDS
from .text import DEFAULT_COMMAND_PREFIXES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.toml"
DEFAULT_URL = "sqlite+aiosqlite:///data/banter.db"
URL_ENV = "BANTER_DATABASE_URL"


@dataclass(frozen=True, slots=True)
class LearningFilters:
    """What the export lets through to training (the `[learning]` table)."""

    min_chars: int = 2
    max_chars: int = 300
    blocklist: tuple[str, ...] = ()
    replay_fraction: float = 0.5
    validation_fraction: float = 0.05
    max_share_per_user: float | None = 0.10

    def __post_init__(self) -> None:
        if not 0 <= self.min_chars <= self.max_chars:
            raise ValueError("learning: need 0 <= min_chars <= max_chars")
        for name in ("replay_fraction", "validation_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"learning: {name} must be between 0 and 1")
        if self.max_share_per_user is not None and not 0.0 < self.max_share_per_user <= 1.0:
            raise ValueError("learning: max_share_per_user must be in (0, 1]")


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


def _pick(table: Mapping[str, Any], cls: type) -> dict:
    """The keys of a TOML table that `cls` knows (lists as tuples); unknown keys are ignored."""
    names = set(cls.__dataclass_fields__) - {"learning"}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items() if k in names}


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> StorageConfig:
    """Read config.toml (missing file: defaults); BANTER_DATABASE_URL wins over `[storage] url`."""
    env = os.environ if env is None else env
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    data: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    storage = _pick(data.get("storage", {}), StorageConfig)
    learning = LearningFilters(**_pick(data.get("learning", {}), LearningFilters))
    config = StorageConfig(**storage, learning=learning)
    if env.get(URL_ENV):
        config = replace(config, url=env[URL_ENV])
    return config


def resolve_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The database URL the app and `alembic upgrade head` both use."""
    return url or load_config(env=env).url
