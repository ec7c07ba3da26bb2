"""bot/storage/config.py: config.toml through the shared loader, the environment override, defaults."""

import pytest

from bot.storage.config import DEFAULT_URL, LearningFilters, StorageConfig, load_config, resolve_url
from seq2seq.protocol import config_file
from seq2seq.protocol.config_file import ConfigError

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


def test_no_config_file_gives_defaults_but_a_missing_one_asked_for_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_file, "REPO_CONFIG", tmp_path / "absent.toml")  # a checkout without config.toml
    assert load_config(env={}) == StorageConfig()
    assert StorageConfig().url == DEFAULT_URL
    for path, env in ((tmp_path / "absent.toml", {}), (None, {"BANTER_CONFIG": str(tmp_path / "absent.toml")})):
        with pytest.raises(ConfigError, match="config file not found: .*absent.toml"):
            load_config(path, env=env)


def test_banter_config_names_the_file(tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text(TOML)
    assert load_config(env={"BANTER_CONFIG": str(path)}).pair_window_seconds == 60
    assert resolve_url(env={"BANTER_CONFIG": str(path)}) == "sqlite+aiosqlite:///somewhere/else.db"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[storage]\npurge_on_guild_leave = 'no'", "[storage] purge_on_guild_leave: expected true or false, got 'no'"),
        ("[storage]\nbusy_timeout_ms = 2.5", "[storage] busy_timeout_ms: expected an integer, got 2.5"),
        ("[storage]\nurl = 5", "[storage] url: expected a string, got 5"),
        ("[learning]\nblocklist = 'darn'", "[learning] blocklist: expected a list of strings, got 'darn'"),
        ("[learning]\nmax_chars = true", "[learning] max_chars: expected an integer, got True"),
        ("[learning]\nreplay_fraction = 2", "[learning] replay_fraction: expected a number between 0 and 1, got 2.0"),
        ("storage = 1", "[storage] must be a table"),
    ],
)
def test_bad_values_are_named_with_what_was_expected(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    assert str(raised.value).startswith(message)


def test_the_repo_config_toml_loads():
    config = load_config(env={})
    assert config.url.startswith("sqlite+aiosqlite:///") and config.learning.max_chars >= config.learning.min_chars


@pytest.mark.parametrize(
    "bad",
    [
        {"min_chars": 10, "max_chars": 5},
        {"replay_fraction": 1.5},
        {"validation_fraction": -0.1},
        {"validation_fraction": 0.0},  # the worker needs held-out conversations to judge a fine-tune
        {"validation_fraction": 1.0},
        {"max_share_per_user": 0.0},
    ],
)
def test_invalid_learning_filters_are_refused(bad):
    with pytest.raises(ValueError):
        LearningFilters(**bad)
