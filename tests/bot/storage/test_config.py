"""bot/storage/config.py: config.toml, the environment override, defaults."""

import pytest

from bot.storage.config import DEFAULT_URL, LearningFilters, StorageConfig, load_config, resolve_url

TOML = """
[storage]
url = "sqlite+aiosqlite:///somewhere/else.db"
pair_window_seconds = 60
purge_on_guild_leave = false
unknown_key = 1

[learning]
min_chars = 3
max_chars = 200
blocklist = ["darn", "heck"]
replay_fraction = 0.25
validation_fraction = 0.1
max_share_per_user = 0.2
"""


def test_reads_storage_and_learning_tables(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML)
    config = load_config(path, env={})
    assert config.url == "sqlite+aiosqlite:///somewhere/else.db"
    assert config.pair_window_seconds == 60 and config.purge_on_guild_leave is False
    assert config.learning == LearningFilters(3, 200, ("darn", "heck"), 0.25, 0.1, 0.2)


def test_the_environment_wins(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML)
    env = {"BANTER_DATABASE_URL": "postgresql+asyncpg://u:p@db/banter"}
    assert load_config(path, env=env).url == "postgresql+asyncpg://u:p@db/banter"
    assert resolve_url(env=env) == "postgresql+asyncpg://u:p@db/banter"
    assert resolve_url("sqlite:///explicit.db", env=env) == "sqlite:///explicit.db"


def test_missing_file_gives_defaults(tmp_path):
    assert load_config(tmp_path / "absent.toml", env={}) == StorageConfig()
    assert StorageConfig().url == DEFAULT_URL


def test_the_repo_config_toml_loads():
    config = load_config(env={})
    assert config.url.startswith("sqlite+aiosqlite:///") and config.learning.max_chars >= config.learning.min_chars


@pytest.mark.parametrize(
    "bad",
    [
        {"min_chars": 10, "max_chars": 5},
        {"replay_fraction": 1.5},
        {"validation_fraction": -0.1},
        {"max_share_per_user": 0.0},
    ],
)
def test_invalid_learning_filters_are_refused(bad):
    with pytest.raises(ValueError):
        LearningFilters(**bad)
