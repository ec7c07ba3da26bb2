"""The one config loader: which file it reads, how a table becomes typed settings, and how it refuses bad values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seq2seq.protocol import config_file
from seq2seq.protocol.config_file import ConfigError, ConfigFile, convert, convert_text, find, read, typed


@dataclass(frozen=True)
class Settings:
    """One field of every type the settings classes use."""

    name: str = "banter"
    count: int = 1
    ratio: float = 0.5
    share: float | None = None
    enabled: bool = True
    folder: Path = Path("models")
    words: tuple[str, ...] = ()
    ids: frozenset[int] = frozenset()


@pytest.fixture
def nowhere(tmp_path, monkeypatch) -> Path:
    """A working directory without config.toml, in a checkout without one either."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_file, "REPO_CONFIG", tmp_path / "checkout" / "config.toml")
    return tmp_path


def test_which_file_an_argument_then_banter_config_then_the_working_directory_then_the_checkout(nowhere):
    given_, named, local = nowhere / "given.toml", nowhere / "named.toml", nowhere / "config.toml"
    assert find(given_, {"BANTER_CONFIG": str(named)}) == (given_, True)
    assert find(None, {"BANTER_CONFIG": str(named)}) == (named, True)
    assert find(None, {"BANTER_CONFIG": ""}) == (config_file.REPO_CONFIG, False)  # empty: unset
    local.write_text("[bot]\n")
    assert find(None, {}) == (Path("config.toml"), False)


def test_a_missing_file_means_defaults_unless_it_was_asked_for(nowhere):
    assert read(env={}) == ConfigFile(None, {})
    for path, env in ((nowhere / "gone.toml", {}), (None, {"BANTER_CONFIG": str(nowhere / "gone.toml")})):
        with pytest.raises(ConfigError, match="config file not found: .*gone.toml"):
            read(path, env)


def test_a_broken_file_or_table_is_named(nowhere):
    (nowhere / "bad.toml").write_text("[worker\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: .*line 1"):
        read(nowhere / "bad.toml", {})
    (nowhere / "latin1.toml").write_bytes(b"name = '\xe9'\n")
    with pytest.raises(ConfigError, match=r"latin1\.toml: cannot be read"):
        read(nowhere / "latin1.toml", {})
    (nowhere / "flat.toml").write_text("worker = 3\n")
    with pytest.raises(ConfigError, match=r"\[worker\] must be a table, got 3"):
        read(nowhere / "flat.toml", {}).table("worker")
    assert read(nowhere / "flat.toml", {}).table("bot") == {}


def test_a_table_becomes_typed_settings(nowhere):
    (nowhere / "config.toml").write_text(
        """
[app]
name = "banter"
count = 3.0
ratio = 2
share = 0.25
enabled = false
folder = "elsewhere"
words = ["a", "b"]
ids = [1, 2, 2]
someone_elses = "left alone"
"""
    )
    values = typed(Settings, "app", read(env={}).table("app"))
    want = Settings("banter", 3, 2.0, 0.25, False, Path("elsewhere"), ("a", "b"), frozenset({1, 2}))
    assert Settings(**values) == want
    assert type(values["count"]) is int and type(values["ratio"]) is float


def test_skip_and_keys_choose_which_keys_a_process_reads():
    table = {"name": "x", "count": 2, "url": "http://w", "blocklist": ["z"]}
    assert typed(Settings, "t", table, skip={"name"}) == {"count": 2}
    renamed = typed(Settings, "t", table, keys={"url": "name", "blocklist": "words"})
    assert renamed == {"name": "http://w", "words": ("z",)}


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("name", 5, "[t] name: expected a string, got 5"),
        ("count", "3", "[t] count: expected an integer, got '3'"),  # TOML has numbers: no silent parsing
        ("count", True, "[t] count: expected an integer, got True"),
        ("count", 2.5, "[t] count: expected an integer, got 2.5"),
        ("ratio", "0.5", "[t] ratio: expected a number, got '0.5'"),
        ("ratio", False, "[t] ratio: expected a number, got False"),
        ("share", "none", "[t] share: expected a number, got 'none'"),
        ("enabled", 1, "[t] enabled: expected true or false, got 1"),
        ("enabled", "yes", "[t] enabled: expected true or false, got 'yes'"),
        ("folder", 7, "[t] folder: expected a path (a string), got 7"),
        ("words", "abc", "[t] words: expected a list of strings, got 'abc'"),
        ("words", ["a", 1], "[t] words: expected a string, got 1"),
        ("ids", [1, "2"], "[t] ids: expected an integer, got '2'"),
        ("ids", {"a": 1}, "[t] ids: expected a list of integers, got {'a': 1}"),
    ],
)
def test_a_bad_value_names_the_table_the_key_and_what_was_expected(key, value, expected):
    with pytest.raises(ConfigError) as raised:
        typed(Settings, "t", {key: value})
    assert str(raised.value) == expected


def test_environment_text_is_parsed_by_the_field_type_and_a_bad_one_names_the_variable():
    env = {"A": "7", "B": "0.25", "C": "off", "D": "/m", "E": "x, y", "F": "3,4", "G": ""}
    variables = {"A": "count", "B": "ratio", "C": "enabled", "D": "folder", "E": "words", "F": "ids", "G": "name"}
    assert config_file.from_env(Settings, env, variables) == {
        "count": 7,
        "ratio": 0.25,
        "enabled": False,
        "folder": Path("/m"),
        "words": ("x", "y"),
        "ids": frozenset({3, 4}),
    }
    for text, field, expected in (
        ("seven", "count", "expected an integer"),
        ("maybe", "enabled", "expected true or false"),
        ("1,x", "ids", "expected an integer, got 'x'"),
    ):
        with pytest.raises(ConfigError, match=f"^BANTER_X: {expected}"):
            config_file.from_env(Settings, {"BANTER_X": text}, {"BANTER_X": field})


def test_a_settings_type_the_loader_does_not_know_is_a_programming_error():
    @dataclass(frozen=True)
    class Odd:
        table: dict | None = None

    with pytest.raises(TypeError, match="not supported"):
        typed(Odd, "t", {"table": {}})


@given(st.integers())
def test_integers_stay_integers_and_stand_for_floats(n):
    assert convert(n, int, "w") == n and convert(n, float, "w") == float(n)
    assert convert_text(str(n), int, "w") == n


@given(st.one_of(st.text(), st.booleans(), st.lists(st.integers()), st.floats(allow_nan=False).filter(lambda f: f % 1)))
def test_anything_but_an_integer_is_refused_where_one_is_expected(value):
    with pytest.raises(ConfigError, match=r"^\[t\] k: expected an integer, got "):
        convert(value, int, "[t] k")
