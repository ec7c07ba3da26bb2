"""Worker settings: config.toml, environment overrides, and the rule that only loopback may go without a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from seq2seq.worker.settings import SettingsError, is_loopback, load

CONFIG = """
[worker]
url = "http://ignored-by-the-worker"
models = "some/models"
port = 9000
max_batch_size = 8
batch_timeout_ms = 5
base_replay_fraction = 0.25

[decoding]
strategy = "greedy"
max_len = 12
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_config_then_environment_then_flags(tmp_path):
    config = write(tmp_path, CONFIG)
    s = load(config, env={})
    assert (s.models, s.port, s.max_batch_size, s.batch_timeout_ms, s.replay_fraction) == (
        Path("some/models"),
        9000,
        8,
        5.0,
        0.25,
    )
    assert s.decoding.strategy == "greedy" and s.decoding.max_len == 12
    s = load(config, env={"BANTER_WORKER_PORT": "9100", "BANTER_WORKER_MODELS": "/m"})
    assert s.port == 9100 and s.models == Path("/m")
    s = load(config, env={"BANTER_WORKER_PORT": "9100"}, port=9200, models=None)
    assert s.port == 9200 and s.models == Path("some/models")


def test_the_decoding_device_comes_from_the_config_or_banter_device(tmp_path):
    assert load(write(tmp_path, CONFIG), env={}).device == "auto"  # a GPU when CTranslate2 sees one
    assert load(write(tmp_path, "[worker]\ndevice = 'cpu'\n"), env={}).device == "cpu"
    assert load(write(tmp_path, "[worker]\ndevice = 'cpu'\n"), env={"BANTER_DEVICE": "cuda"}).device == "cuda"
    with pytest.raises(SettingsError, match="BANTER_DEVICE"):
        load(write(tmp_path, CONFIG), env={"BANTER_DEVICE": "tpu"})


def test_the_repo_config_loads():
    s = load(Path(__file__).resolve().parents[3] / "config.toml", env={})
    assert s.max_queue >= 1 and s.host == "127.0.0.1"


def test_non_loopback_needs_a_token_which_never_shows(tmp_path):
    config = write(tmp_path, CONFIG)
    with pytest.raises(SettingsError, match="BANTER_WORKER_TOKEN"):
        load(config, env={}, host="0.0.0.0")
    s = load(config, env={"BANTER_WORKER_TOKEN": "s3cret-value-0123456789"}, host="0.0.0.0")
    assert s.token == "s3cret-value-0123456789" and "s3cret-value" not in repr(s)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


def test_banter_config_names_the_file_and_a_bad_environment_value_names_the_variable(tmp_path):
    config = write(tmp_path, CONFIG)
    assert load(env={"BANTER_CONFIG": str(config)}).port == 9000
    with pytest.raises(SettingsError, match="config file not found"):
        load(env={"BANTER_CONFIG": str(tmp_path / "absent.toml")})
    with pytest.raises(SettingsError, match="BANTER_WORKER_PORT: expected an integer, got 'x'"):
        load(config, env={"BANTER_WORKER_PORT": "x"})


@pytest.mark.parametrize(
    "text, message",
    [
        ("[worker]\nport = 'x'\n", r"\[worker\] port: expected an integer, got 'x'"),
        ("[worker]\nport = '9000'\n", r"\[worker\] port: expected an integer, got '9000'"),  # TOML has numbers
        ("[worker]\nbase_replay_fraction = true\n", r"\[worker\] base_replay_fraction: expected a number"),
        ("[worker]\nmax_queue = 0\n", "max_queue"),
        ("[worker]\ndevice = 'gpu'\n", r"device \(or BANTER_DEVICE\) must be one of auto, cpu, cuda, not 'gpu'"),
        ("[decoding]\nbeam_size = 0\n", "beam_size"),
        ("[decoding]\nseed = -1\n", "seed"),
        ("[decoding]\ntemperature = '0.9'\n", "temperature"),
        ("[decoding]\nrepetition_penalty = 0.9\n", "repetition_penalty must be between 1 \\(off\\) and 3"),
        ("[worker\n", "config.toml"),
    ],
)
def test_bad_settings_are_named(tmp_path, text, message):
    with pytest.raises(SettingsError, match=message):
        load(write(tmp_path, text), env={})


@pytest.mark.parametrize("token", [" ", "\t\t", "fifteen-chars-x", "sixteen chars ok", "sixteen-chars-\u00e9\u00e9"])
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_a_token_must_be_a_real_secret_wherever_it_is_set(tmp_path, token, host):
    with pytest.raises(SettingsError, match="at least 16 printable ASCII characters") as caught:
        load(write(tmp_path, CONFIG), env={"BANTER_WORKER_TOKEN": token}, host=host)
    assert token.strip() == "" or token not in str(caught.value)
    assert load(write(tmp_path, CONFIG), env={"BANTER_WORKER_TOKEN": "sixteen-chars-ok"}, host=host).token


def test_the_import_folder_is_off_by_default_and_must_exist(tmp_path):
    config = write(tmp_path, CONFIG)
    assert load(config, env={}).import_dir is None
    assert load(config, env={"BANTER_WORKER_IMPORT_DIR": str(tmp_path)}).import_dir == tmp_path
    with_dir = write(tmp_path, CONFIG.replace("[decoding]", f"import_dir = '{tmp_path}'\n\n[decoding]"))
    assert load(with_dir, env={}).import_dir == tmp_path
    with pytest.raises(SettingsError, match="import_dir"):
        load(config, env={"BANTER_WORKER_IMPORT_DIR": str(tmp_path / "missing")})
