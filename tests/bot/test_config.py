"""The bot's settings: [bot] and [worker] from config.toml, defaults for what is missing, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig, ConfigError, load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_bot_table_and_the_repository_file_loads():
    assert load(env={}).context_turns == BotConfig().context_turns
    config = load(write_path := Path(__file__).resolve().parents[2] / "config.toml", env={})
    assert config.config_path == write_path and config.spawns_worker


def test_bot_worker_and_learning_keys_then_environment(tmp_path):
    path = write(
        tmp_path,
        """
[bot]
admin_ids = [11, 12]
reply_timeout_seconds = 3
log_channel = 77
reply_blocklist = ["Zap"]
[worker]
url = "http://worker:8500/"
models = "elsewhere"
[learning]
blocklist = ["boom"]
""",
    )
    config = load(path, env={"BANTER_WORKER_TOKEN": "s3cret"})
    assert config.admin_ids == {11, 12} and config.reply_timeout_seconds == 3.0 and config.log_channel == 77
    assert config.worker_url == "http://worker:8500" and config.worker_models == Path("elsewhere")
    assert config.blocklist == ("boom", "zap") and not config.spawns_worker
    assert config.worker_token == "s3cret" and "s3cret" not in repr(config)
    env = {"BANTER_WORKER_URL": "http://other:1", "BANTER_WORKER_MODELS": "/m"}
    config = load(path, env=env)
    assert config.worker_url == "http://other:1" and config.worker_models == Path("/m")
    assert load(env={"BANTER_CONFIG": str(path)}).log_channel == 77


def test_bot_keys_that_start_with_worker_are_read_too(tmp_path):
    config = load(write(tmp_path, "[bot]\nworker_probe_max_seconds = 3\nworker_start_timeout_seconds = 30"), env={})
    assert (config.worker_probe_max_seconds, config.worker_start_timeout_seconds) == (3.0, 30.0)
    # ...but what belongs to other tables or the environment is never taken from [bot]
    config = load(write(tmp_path, "[bot]\nworker_url = 'http://x:1'\nworker_token = 'leak'"), env={})
    assert config.worker_url == "" and config.worker_token == ""


@pytest.mark.parametrize(
    "text, message",
    [
        ("[bot]\ncontext_turns = 0", "[bot] context_turns must be at least 1"),
        ("[bot]\nuser_cooldown_seconds = 'soon'", "[bot] user_cooldown_seconds: expected a number, got 'soon'"),
        ("[bot]\nadmin_ids = 'me'", "[bot] admin_ids: expected a list of integers, got 'me'"),
        ("[bot]\nadmin_ids = [1, '2']", "[bot] admin_ids: expected an integer, got '2'"),
        ("[bot]\nlog_channel = 1.5", "[bot] log_channel: expected an integer, got 1.5"),
        ("[worker]\nmodels = 5", "[worker] models: expected a path (a string), got 5"),
        ("[learning]\nblocklist = [1]", "[learning] blocklist: expected a string, got 1"),
        ("[worker]\nurl = 'worker:8500'", "[worker] url must start with http:// or https://"),
        ("[bot\n", "config.toml"),
    ],
)
def test_bad_values_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path, text), env={})
    assert message in str(raised.value)


def test_an_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml", env={})


def test_a_shard_from_the_file_or_the_environment(tmp_path):
    assert load(env={}).shard_options == {}  # not sharded by default
    path = write(tmp_path, "[bot]\nshard_id = 1\nshard_count = 3\n")
    assert load(path, env={}).shard_options == {"shard_id": 1, "shard_count": 3}
    config = load(path, env={"BANTER_SHARD_ID": "0", "BANTER_SHARD_COUNT": "2"})
    assert config.shard_options == {"shard_id": 0, "shard_count": 2}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BANTER_SHARD_ID": "2", "BANTER_SHARD_COUNT": "2"}, "shard 2 of 2"),
        ({"BANTER_SHARD_ID": "-1", "BANTER_SHARD_COUNT": "2"}, "shard -1 of 2"),
        ({"BANTER_SHARD_COUNT": "0"}, "shard 0 of 0"),
        ({"BANTER_SHARD_ID": "one"}, "BANTER_SHARD_ID"),
    ],
)
def test_a_shard_that_cannot_be_is_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load(env=env)
