"""The worker's settings: defaults, then config.toml [worker]/[decoding]/[learning], then environment, then flags."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from seq2seq.decoding import DecodeOptions

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
TOKEN_ENV = "BANTER_WORKER_TOKEN"  # the shared secret comes only from the environment, never a file or flag
ENV_OVERRIDES = {
    "BANTER_WORKER_MODELS": "models",
    "BANTER_WORKER_HOST": "host",
    "BANTER_WORKER_PORT": "port",
    "BANTER_WORKER_DECODE_THREADS": "decode_threads",
}


class SettingsError(ValueError):
    """A setting has the wrong type or value; the message names it."""


@dataclass(frozen=True)
class WorkerSettings:
    models: Path = Path("models")
    host: str = "127.0.0.1"
    port: int = 8500
    max_batch_size: int = 64
    batch_timeout_ms: float = 2.0
    max_queue: int = 256
    request_timeout_s: float = 10.0
    # Σ width × max_len over one request's items (see DecodeOptions.cost): 256 replies at the default
    # [decoding] cost 25,600; 256 items × beam 32 × 100 tokens (819,200) is refused with a 400.
    max_request_cost: int = 32_768
    # Slow or half-open connections: a request head must arrive within header_timeout_s of connecting; a
    # connection idles (between requests, or within a body) at most idle_timeout_s; beyond max_connections
    # (lowered to fit the open-file limit) a new connection evicts the longest-open one that has no request.
    header_timeout_s: float = 10.0
    idle_timeout_s: float = 30.0
    max_connections: int = 512
    decode_threads: int = 2  # batches decoded at once (each with one BLAS thread): both cores of a small machine
    keep_versions: int = 5  # model versions kept on disk besides the active one and "default"
    gate_margin: float = 0.05  # allowed relative worsening of base held-out perplexity
    # [worker] base_replay_fraction: share of base-corpus pairs in a fine-tune mix. 0.75 kept the base
    # held-out perplexity within the gate's 5% while the new domain improved by 30% (learncheck).
    replay_fraction: float = 0.75
    max_jobs_kept: int = 20  # finished job records (and their logs) kept
    decoding: DecodeOptions = field(default_factory=DecodeOptions)
    token: str = field(default="", repr=False)  # repr=False: a logged settings object never shows it

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work."""
        if not self.loopback and not self.token:
            raise SettingsError(
                f"binding {self.host} (not loopback) requires a shared secret: "
                f"set {TOKEN_ENV} and send it as 'Authorization: Bearer <token>'"
            )
        for name in ("max_batch_size", "max_queue", "decode_threads", "keep_versions", "max_jobs_kept"):
            if getattr(self, name) < 1:
                raise SettingsError(f"[worker] {name} must be at least 1")
        if self.max_request_cost < self.decoding.cost:
            raise SettingsError(
                f"[worker] max_request_cost ({self.max_request_cost}) is below the cost of one reply "
                f"at the [decoding] settings ({self.decoding.cost} = width × max_len)"
            )
        if not 0 <= self.batch_timeout_ms <= 1000:
            raise SettingsError("[worker] batch_timeout_ms must be between 0 and 1000")
        if not 0 < self.request_timeout_s <= 600:
            raise SettingsError("[worker] request_timeout_s must be in (0, 600]")
        for name in ("header_timeout_s", "idle_timeout_s"):
            if not 0 < getattr(self, name) <= 3600:
                raise SettingsError(f"[worker] {name} must be in (0, 3600]")
        if self.max_connections < 8:
            raise SettingsError("[worker] max_connections must be at least 8")
        if not 0 <= self.gate_margin <= 1:
            raise SettingsError("[worker] gate_margin must be between 0 and 1")
        if not 0 <= self.replay_fraction < 1:
            raise SettingsError("[worker] base_replay_fraction must be in [0, 1)")
        if not 0 <= self.port <= 65535:
            raise SettingsError("[worker] port must be between 0 and 65535")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname other than localhost may resolve to anything


def load(config: Path | None = None, env: dict[str, str] | None = None, **flags) -> WorkerSettings:
    """Settings from a TOML file (default ./config.toml, else the repo's), the environment and flags (None = unset)."""
    env = os.environ if env is None else env
    path = config or (Path("config.toml") if Path("config.toml").exists() else REPO_CONFIG)
    values: dict = {}
    decoding: dict = {}
    if config is not None or path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: {exc}") from None
        known = {f.name for f in fields(WorkerSettings)} - {"decoding", "token"}
        # Other [worker] keys (url) belong to the bot's side; the token is never read from a file.
        values.update({k: v for k, v in data.get("worker", {}).items() if k in known})
        if "base_replay_fraction" in data.get("worker", {}):
            values["replay_fraction"] = data["worker"]["base_replay_fraction"]
        decoding = data.get("decoding", {})
    for var, name in ENV_OVERRIDES.items():
        if env.get(var):
            values[name] = env[var]
    values.update({k: v for k, v in flags.items() if v is not None})
    settings = WorkerSettings(**_typed(values), token=env.get(TOKEN_ENV, ""))
    try:
        settings = replace(settings, decoding=DecodeOptions.from_dict(decoding))
    except ValueError as exc:
        raise SettingsError(f"[decoding]: {exc}") from None
    settings.check()
    return settings


def _typed(values: dict) -> dict:
    """Config and environment values converted to each field's type, or a SettingsError naming the key."""
    defaults = WorkerSettings()
    out = {}
    for f in fields(WorkerSettings):
        if f.name not in values or f.name in ("decoding", "token"):
            continue
        value, default = values[f.name], getattr(defaults, f.name)
        try:
            if isinstance(default, Path):
                value = Path(value)
            elif isinstance(value, bool):
                raise ValueError  # TOML true is not a number
            elif isinstance(default, int):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            elif isinstance(default, str) and not isinstance(value, str):
                raise ValueError
        except (TypeError, ValueError):
            raise SettingsError(f"[worker] {f.name}: {value!r} is not a valid {type(default).__name__}") from None
        out[f.name] = value
    return out
