"""config.toml for every Banter process: which file (BANTER_CONFIG), its TOML, and settings typed by their fields.

Standard library only: the bot, its storage and the worker all read their settings through this module, so a
setting means the same thing, is converted the same way and is refused with the same message everywhere.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CONFIG_ENV = "BANTER_CONFIG"  # another config file (tests, several deployments)
CONFIG_NAME = "config.toml"
REPO_CONFIG = Path(__file__).resolve().parents[2] / CONFIG_NAME  # the checkout's own, the last resort
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_EXPECTED = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path (a string)"}
_EXPECTED_LIST = {bool: "true/false values", int: "integers", float: "numbers", str: "strings", Path: "paths"}


class ConfigError(ValueError):
    """The config file or a setting is wrong: the message names the file, or `[table] key` and what was expected."""


@dataclass(frozen=True)
class ConfigFile:
    """The tables of the config file that was read; `path` None: there was none, so every setting is its default."""

    path: Path | None
    data: Mapping[str, Any]

    def table(self, name: str) -> Mapping[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table, got {value!r}")
        return value


def find(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> tuple[Path, bool]:
    """(the file, whether it was asked for): `path`, else $BANTER_CONFIG, else ./config.toml, else the checkout's.

    A file that was asked for must exist; the default one may be missing (then the defaults hold).
    """
    env = os.environ if env is None else env
    if path is not None:
        return Path(path), True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), True
    local = Path(CONFIG_NAME)
    return (local if local.is_file() else REPO_CONFIG), False


def read(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> ConfigFile:
    """The config file `find` names, parsed; ConfigError names the file when it is missing (if asked for) or bad."""
    file, asked_for = find(path, env)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if asked_for:
            raise ConfigError(f"config file not found: {file}") from None
        return ConfigFile(None, {})
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc})") from None
    try:
        return ConfigFile(file, tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {exc}") from None


def field_types(cls: type) -> dict[str, Any]:
    """The settings class's fields and their resolved types."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def typed(
    cls: type,
    table: str,
    values: Mapping[str, Any],
    *,
    keys: Mapping[str, str] | None = None,
    skip: Iterable[str] = (),
) -> dict[str, Any]:
    """The keys of `[table]` that are settings of `cls`, each converted to its field's type.

    By default every field is read under its own name, except those in `skip` (settings that come from elsewhere);
    `keys` maps table keys to field names instead. Other keys are left alone: tables like [worker] are shared by
    processes that each read their own keys.
    """
    types_ = field_types(cls)
    names = dict(keys) if keys is not None else {name: name for name in types_ if name not in set(skip)}
    return {
        names[key]: convert(value, types_[names[key]], f"[{table}] {key}")
        for key, value in values.items()
        if key in names
    }


def from_env(cls: type, env: Mapping[str, str], variables: Mapping[str, str]) -> dict[str, Any]:
    """Settings from environment variables ({variable: field}); an empty variable is unset."""
    types_ = field_types(cls)
    return {
        name: convert_text(env[variable], types_[name], variable)
        for variable, name in variables.items()
        if env.get(variable)
    }


def convert(value: Any, kind: Any, where: str) -> Any:
    """A TOML (or already typed) value as `kind`, or ConfigError naming `where`. TOML's types must match:
    a number is never a string nor true/false; an integer may stand for a float, and 3.0 for the integer 3."""
    kind, optional = _unwrap_optional(kind)
    if value is None and optional:
        return None
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (tuple, frozenset):
        item = args[0]
        if not isinstance(value, list | tuple | set | frozenset):
            _refuse(where, f"a list of {_EXPECTED_LIST.get(item, item)}", value)
        return origin(convert(v, item, where) for v in value)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is Path:
        if isinstance(value, str | Path):
            return Path(value)
    else:
        raise TypeError(f"{where}: settings of type {kind!r} are not supported")
    _refuse(where, _describe(kind), value)


def convert_text(text: str, kind: Any, where: str) -> Any:
    """An environment variable's text as `kind` (a list: comma-separated), or ConfigError naming `where`."""
    kind, _ = _unwrap_optional(kind)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (tuple, frozenset):
        return origin(convert_text(part.strip(), args[0], where) for part in text.split(",") if part.strip())
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in _TRUE + _FALSE:
                raise ValueError
            return lowered in _TRUE
        if kind is int:
            return int(text.strip())
        if kind is float:
            return float(text.strip())
    except ValueError:
        _refuse(where, _describe(kind), text)
    return convert(text, kind, where)


def _unwrap_optional(kind: Any) -> tuple[Any, bool]:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return kind, False


def _describe(kind: Any) -> str:
    return _EXPECTED.get(kind, getattr(kind, "__name__", str(kind)))


def _refuse(where: str, expected: str, value: Any) -> typing.NoReturn:
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")
