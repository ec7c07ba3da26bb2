"""The worker's HTTP/JSON request and response types and their limits, standard library only (the bot imports this)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Limits shared by the server (which enforces them) and the client (which can check early).
MAX_TURNS = 20  # conversation turns in one reply request
MAX_TURN_CHARS = 4000  # a Discord message is at most 4000 characters (Nitro)
MAX_BATCH_ITEMS = 256  # reply requests in one batched POST
MAX_REPLY_BODY = 1 << 20  # bytes of a /v1/reply body
MAX_JOB_BODY = 64 << 20  # bytes of a fine-tune upload (JSONL)
MAX_JOB_JSON_BODY = 4 << 20  # bytes of a fine-tune sent as one JSON object: parsed whole, so larger ones go as JSONL
MIN_FINETUNE_PAIRS = 10  # fewer cannot be split into training and held-out pairs

VERSION_STATUSES = ("active", "candidate", "rejected", "retired")
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_JOB_STATES = ("succeeded", "failed", "cancelled")

_VERSION_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The worker's own files sit beside the version directories (registry.json and its temporary files):
# a version may never be named like one, whatever the case of the letters.
RESERVED_VERSION_SUFFIXES = (".json", ".tmp")


def loads_json(text: bytes | str) -> Any:
    """json.loads with every way it can fail as a ValueError: bad JSON, bad UTF-8, or nesting too deep to parse."""
    try:
        return json.loads(text)
    except RecursionError:  # "[" × 100,000: the parser recurses once per level
        raise ValueError("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # includes bad UTF-8
        raise ValueError(f"malformed JSON: {exc}") from None


def clip(value: Any, limit: int = 60) -> str:
    """Caller input quoted in a message or a log line: repr'd, and cut short so no one can make either huge."""
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_names(names: list[str], most: int = 5) -> str:
    """A few (clipped) unknown names for an error message, and how many more there were."""
    shown = ", ".join(clip(str(n), 40) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def validate_version(name: Any) -> str:
    """A model version name that is safe as a directory name; ValueError otherwise."""
    if not isinstance(name, str) or not _VERSION_RE.match(name):
        raise ValueError("version names are 1-64 characters of A-Z a-z 0-9 . _ -")
    if ".." in name or name.startswith("."):
        raise ValueError("version names may not contain '..' or start with '.'")
    if name.lower().endswith(RESERVED_VERSION_SUFFIXES):
        raise ValueError("version names may not end in .json or .tmp (reserved for the worker's own files)")
    return name


@dataclass(frozen=True)
class ReplyRequest:
    """One conversation to answer: its turns oldest first, ending with the message to answer."""

    context: list[str]
    options: dict | None = None  # decoding options; the worker's [decoding] defaults fill the rest
    timeout_s: float | None = None  # the worker gives up (504) after this; capped by its own limit

    @classmethod
    def from_json(cls, data: Any, where: str = "request") -> ReplyRequest:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object with a 'context' list")
        unknown = sorted(set(data) - {"context", "options", "timeout_s"})
        if unknown:
            raise ValueError(f"{where}: unknown fields: {clip_names(unknown)}")
        context = data.get("context")
        if not isinstance(context, list) or not context:
            raise ValueError(f"{where}: 'context' must be a non-empty list of strings (the message last)")
        if len(context) > MAX_TURNS:
            raise ValueError(f"{where}: 'context' has {len(context)} turns; at most {MAX_TURNS}")
        for i, turn in enumerate(context):
            if not isinstance(turn, str):
                raise ValueError(f"{where}: context[{i}] must be a string")
            if len(turn) > MAX_TURN_CHARS:
                raise ValueError(f"{where}: context[{i}] is longer than {MAX_TURN_CHARS} characters")
        options = data.get("options")
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"{where}: 'options' must be an object")
        timeout = data.get("timeout_s")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
        ):
            raise ValueError(f"{where}: 'timeout_s' must be a positive number")
        return cls(list(context), options, None if timeout is None else float(timeout))

    def to_json(self) -> dict:
        out: dict = {"context": list(self.context)}
        if self.options:
            out["options"] = dict(self.options)
        if self.timeout_s is not None:
            out["timeout_s"] = self.timeout_s
        return out


def parse_reply_body(data: Any) -> tuple[list[ReplyRequest], bool]:
    """A /v1/reply body → (requests, whether it was a list)."""
    if isinstance(data, list):
        if not data:
            raise ValueError("an empty list: send at least one request")
        if len(data) > MAX_BATCH_ITEMS:
            raise ValueError(f"{len(data)} requests in one batch; at most {MAX_BATCH_ITEMS}")
        return [ReplyRequest.from_json(item, f"request {i}") for i, item in enumerate(data)], True
    return [ReplyRequest.from_json(data)], False


@dataclass(frozen=True)
class ReplyResult:
    reply: str
    model_version: str
    latency_ms: float  # time inside the worker, from request parsed to reply ready
    decode_ms: float = 0.0  # the batch's decoding time (shared by every request in the batch)
    queue_ms: float = 0.0  # waiting for a batch to fill and for the decoder to be free
    batch_size: int = 1

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ReplyResult:
        return _from_known(cls, data)


@dataclass(frozen=True)
class ModelInfo:
    version: str
    status: str  # one of VERSION_STATUSES
    created: str = ""
    metrics: dict = field(default_factory=dict)  # training metrics plus the gate's numbers
    gate: dict | None = None  # the quality gate's decision, for fine-tuned versions
    parent: str | None = None  # the version it was fine-tuned from
    job: str | None = None
    activated: str | None = None  # when it last became active
    error: str | None = None  # why it was refused, if it was
    forced: str | None = None  # when it was last activated with `force` over the quality gate's rejection

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelInfo:
        return _from_known(cls, data)


@dataclass(frozen=True)
class FinetuneOptions:
    """Settings of one fine-tuning job; None means the worker's default."""

    # Times each new pair is seen; each replayed base pair is seen once. 20: at 6, no reply to learncheck's new-words
    # log used any of its 50 new words (each met 20 times); at 20, 14 of them (blend 0.94, base +4.8%).
    epochs: float = 20.0
    max_steps: int | None = None
    learning_rate: float | None = None  # default: half the base model's
    batch_size: int | None = None
    replay_fraction: float | None = None  # share of base-corpus pairs in the mix ([worker] base_replay_fraction)
    margin: float | None = None  # allowed relative worsening of base held-out perplexity (default 0.05)
    holdout_fraction: float = 0.2  # new pairs kept out of training to judge the candidate
    activate: bool = True  # activate the candidate when it passes the gate
    version: str | None = None  # the new version's name (default ft-<time>-<job>)
    seed: int = 1234
    full: bool = False  # retrain from scratch with a vocabulary rebuilt from the base corpus plus these pairs
    distill: float = 0.5  # share of each target given to the active model's own prediction (0: none); not with full

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.epochs <= 100:
            problems.append("epochs must be in (0, 100]")
        if self.max_steps is not None and not 1 <= self.max_steps <= 10_000_000:
            problems.append("max_steps must be positive")
        if self.learning_rate is not None and not 0 < self.learning_rate <= 1:
            problems.append("learning_rate must be in (0, 1]")
        if self.batch_size is not None and not 1 <= self.batch_size <= 4096:
            problems.append("batch_size must be between 1 and 4096")
        if self.replay_fraction is not None and not 0 <= self.replay_fraction < 1:
            problems.append("replay_fraction must be in [0, 1)")
        if not 0 <= self.distill < 1:
            problems.append("distill must be in [0, 1)")
        if self.margin is not None and not 0 <= self.margin <= 1:
            problems.append("margin must be in [0, 1]")
        if not 0 < self.holdout_fraction < 1:
            problems.append("holdout_fraction must be in (0, 1)")
        if self.version is not None:
            try:
                validate_version(self.version)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("invalid fine-tune options: " + "; ".join(problems))

    @classmethod
    def from_json(cls, data: Any) -> FinetuneOptions:
        """Strict: unknown keys and wrong types are errors (no silent coercion)."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("fine-tune options must be an object")
        return cls(**_typed(cls, data, coerce=False))

    @classmethod
    def from_query(cls, query: dict[str, str]) -> FinetuneOptions:
        """From URL query parameters (used with a JSONL body): strings converted by field type."""
        return cls(**_typed(cls, dict(query), coerce=True))

    def to_json(self) -> dict:
        return asdict(self)


_FIELD_TYPES = {
    "epochs": float,
    "max_steps": int,
    "learning_rate": float,
    "batch_size": int,
    "replay_fraction": float,
    "margin": float,
    "holdout_fraction": float,
    "activate": bool,
    "version": str,
    "seed": int,
    "full": bool,
    "distill": float,
}
_TYPE_NAMES = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}


def _typed(cls, data: dict, coerce: bool) -> dict:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown fine-tune options: {clip_names(unknown)}")
    clean = {}
    for key, value in data.items():
        kind = _FIELD_TYPES[key]
        if value is None:
            clean[key] = None
            continue
        if coerce and isinstance(value, str) and kind is not str:
            try:
                value = {"true": True, "false": False}[value.lower()] if kind is bool else kind(value)
            except (KeyError, ValueError):
                raise ValueError(f"{key} must be {_TYPE_NAMES[kind]}") from None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValueError(f"{key} must be {_TYPE_NAMES[kind]}")
        clean[key] = value
    return clean


@dataclass(frozen=True)
class JobInfo:
    id: str
    state: str  # one of JOB_STATES
    kind: str = "finetune"
    progress: dict = field(default_factory=dict)  # {"phase", "step", "total", "loss"}
    metrics: dict = field(default_factory=dict)
    gate: dict | None = None
    version: str | None = None  # the version it produced (or will produce)
    base_version: str | None = None
    outcome: str | None = None  # activated, rejected, candidate (kept, not activated)
    error: str | None = None
    device: str | None = None  # where training ran, as the training process reported it
    options: dict = field(default_factory=dict)
    pairs: int = 0
    created: str = ""
    finished: str | None = None
    pid: int | None = None  # the training process, while it runs

    @property
    def done(self) -> bool:
        return self.state in FINISHED_JOB_STATES

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> JobInfo:
        return _from_known(cls, data)


def pair_from_json(obj: Any, where: str) -> dict:
    """One fine-tune pair {"query", "reply", "context"?} checked and normalised."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected an object with 'query' and 'reply'")
    unknown = sorted(set(obj) - {"query", "reply", "context", "group"})
    if unknown:
        raise ValueError(f"{where}: unknown fields: {clip_names(unknown)}")
    query, reply, context = obj.get("query"), obj.get("reply"), obj.get("context") or ""
    if not isinstance(query, str) or not isinstance(reply, str) or not query.strip() or not reply.strip():
        raise ValueError(f"{where}: 'query' and 'reply' must be non-empty strings")
    if isinstance(context, list):
        context = context[-1] if context and isinstance(context[-1], str) else ""
    if not isinstance(context, str):
        raise ValueError(f"{where}: 'context' must be a string or a list of strings")
    if max(len(query), len(reply), len(context)) > MAX_TURN_CHARS:
        raise ValueError(f"{where}: a turn is longer than {MAX_TURN_CHARS} characters")
    out = {"query": query, "reply": reply}
    if context:
        out["context"] = context
    if isinstance(obj.get("group"), str):
        out["group"] = obj["group"]
    return out


def error_body(status: int, message: str) -> dict:
    return {"error": {"status": status, "message": message}}


def _from_known(cls, data: Any):
    """Build a response type, ignoring fields a newer worker added (forward compatible)."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object for {cls.__name__}")
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})
