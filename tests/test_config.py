"""Every process reads config.toml the same way: the same file (BANTER_CONFIG), the same types, the same message."""

from __future__ import annotations

import pytest

from bot.config import load as bot_settings
from bot.storage.config import load_config as storage_settings
from seq2seq.protocol.config_file import ConfigError
from seq2seq.worker.settings import load as worker_settings

LOADERS = {"bot": bot_settings, "storage": storage_settings, "worker": worker_settings}


def test_banter_config_is_the_file_for_the_bot_its_storage_and_the_worker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a ./config.toml would come after BANTER_CONFIG anyway
    (tmp_path / "config.toml").write_text("[worker]\nmodels = 'from-the-working-directory'\n")
    path = tmp_path / "deployment.toml"
    path.write_text("[worker]\nmodels = 'shared'\n[storage]\nlock_retries = 9\n[bot]\ncontext_turns = 2\n")
    env = {"BANTER_CONFIG": str(path)}
    bot, storage, worker = (load(env=env) for load in LOADERS.values())
    assert (bot.worker_models, bot.context_turns, bot.config_path) == (worker.models, 2, path)
    assert str(worker.models) == "shared" and storage.lock_retries == 9
    assert str(bot_settings(env={}).worker_models) == "from-the-working-directory"


@pytest.mark.parametrize(
    "name, message",
    [
        ("bot", "[worker] models: expected a path (a string), got 5"),
        ("storage", "[learning] blocklist: expected a list of strings, got 'heck'"),
        ("worker", "[worker] models: expected a path (a string), got 5"),
    ],
)
def test_one_message_for_a_bad_value_and_for_a_missing_file(tmp_path, name, message):
    load = LOADERS[name]
    (tmp_path / "bad.toml").write_text("[learning]\nblocklist = 'heck'\n[worker]\nmodels = 5\n")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path / "bad.toml", env={})
    assert str(raised.value) == message
    with pytest.raises(ConfigError) as raised:
        load(env={"BANTER_CONFIG": str(tmp_path / "absent.toml")})
    assert str(raised.value) == f"config file not found: {tmp_path / 'absent.toml'}"
