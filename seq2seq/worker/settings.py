"""The worker's settings: defaults, then config.toml [worker] and [decoding], then environment, then flags."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from seq2seq.engine.decoding import DecodeOptions
from seq2seq.engine.device import DEVICES
from seq2seq.protocol import config_file
from seq2seq.protocol.config_file import ConfigError

TOKEN_ENV = "BANTER_WORKER_TOKEN"  # the shared secret comes only from the environment, never a file or flag
MIN_TOKEN_CHARS = 16
ENV_OVERRIDES = {  # variable: field
    "BANTER_WORKER_MODELS": "models",
    "BANTER_WORKER_IMPORT_DIR": "import_dir",
    "BANTER_WORKER_HOST": "host",
    "BANTER_WORKER_PORT": "port",
    "BANTER_WORKER_DECODE_THREADS": "decode_threads",
    "BANTER_DEVICE": "device",
}


SettingsError = ConfigError  # the worker's name for the one config error (seq2seq.protocol.config_file)
# [worker] keys whose field has another name; [worker] url is the bot's, and the token is never read from a file.
KEYS_RENAMED = {"base_replay_fraction": "replay_fraction"}
NOT_IN_WORKER_TABLE = {"decoding", "token", *KEYS_RENAMED.values()}


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
    decode_threads: int = 2  # batches decoded at once: engine replicas of one thread each, both cores of a small box
    device: str = "auto"  # where replies decode: auto (a CUDA GPU when CTranslate2 sees one), cpu or cuda
    keep_versions: int = 5  # model versions kept on disk besides the active one and "default"
    gate_margin: float = 0.05  # allowed relative worsening of base held-out perplexity
    # [worker] base_replay_fraction: share of base-corpus pairs in a fine-tune mix. 0.75 kept the base
    # held-out perplexity within the gate's 5% while the new domain improved by 30% (learncheck).
    replay_fraction: float = 0.75
    max_jobs_kept: int = 20  # finished job records (and their logs) kept
    # The one folder whose files a fine-tune request may name by `path`; None: `path` is refused.
    import_dir: Path | None = None
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
        if self.token and not is_real_secret(self.token):  # the message never shows the token
            raise SettingsError(
                f"{TOKEN_ENV} must be a real secret: at least {MIN_TOKEN_CHARS} printable ASCII characters, "
                "no spaces (for example the output of: python3 -c 'import secrets; print(secrets.token_hex(32))')"
            )
        if self.import_dir is not None and not self.import_dir.is_dir():
            raise SettingsError(f"[worker] import_dir: {self.import_dir} is not a directory")
        for name in ("max_batch_size", "max_queue", "decode_threads", "keep_versions", "max_jobs_kept"):
            if getattr(self, name) < 1:
                raise SettingsError(f"[worker] {name} must be at least 1")
        if self.device not in DEVICES:
            raise SettingsError(
                f"[worker] device (or BANTER_DEVICE) must be one of {', '.join(DEVICES)}, not {self.device!r}"
            )
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


def is_real_secret(token: str) -> bool:
    """Long enough to resist guessing, and sendable as a bearer token (no whitespace, nothing outside ASCII)."""
    return len(token) >= MIN_TOKEN_CHARS and all("!" <= c <= "~" for c in token)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname other than localhost may resolve to anything


def load(config: Path | None = None, env: dict[str, str] | None = None, **flags) -> WorkerSettings:
    """Settings from config.toml (see seq2seq.protocol.config_file for which one), the environment and flags
    (None = unset)."""
    env = os.environ if env is None else env
    file = config_file.read(config, env)
    worker = file.table("worker")
    values = config_file.typed(WorkerSettings, "worker", worker, skip=NOT_IN_WORKER_TABLE)
    if isinstance(worker.get("import_dir"), str) and not worker["import_dir"].strip():
        values["import_dir"] = None  # "" means no import folder, never the working directory
    values.update(config_file.typed(WorkerSettings, "worker", worker, keys=KEYS_RENAMED))
    values.update(config_file.from_env(WorkerSettings, env, ENV_OVERRIDES))
    types = config_file.field_types(WorkerSettings)
    values.update({k: config_file.convert(v, types[k], f"--{k}") for k, v in flags.items() if v is not None})
    settings = WorkerSettings(**values, token=env.get(TOKEN_ENV, ""))
    try:
        settings = replace(settings, decoding=DecodeOptions.from_dict(file.table("decoding")))
    except ValueError as exc:
        raise SettingsError(f"[decoding]: {exc}") from None
    settings.check()
    return settings
