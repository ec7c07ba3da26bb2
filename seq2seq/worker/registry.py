"""Model versions on disk: statuses in an atomically written registry.json, and load-warm-then-swap activation."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from seq2seq import model_dir
from seq2seq.protocol import ModelInfo, validate_version

log = logging.getLogger("banter.worker.registry")

REGISTRY_FILE = "registry.json"
SHIPPED = "default"  # the shipped model: never pruned, it is the rollback of last resort
TEMP_PREFIX = ".tmp-"  # hidden directories: unfinished versions, never listed or loaded


class UnknownVersion(LookupError):
    pass


class ActivationError(Exception):
    """A version failed to load or to answer its warm-up; the active one stays."""


class VersionRetired(Exception):
    """A v1 version: the worker serves v2 through the engine only, so it can never be activated (409)."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    engine: object  # seq2seq.engine.decode.Engine; a batch keeps its reference, so a swap never cuts it off
    warm_up_ms: float


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_and_warm(path: Path, version: str, engine_args: dict | None = None) -> LoadedModel:
    """Runs in a thread: load the version's engine, then answer a warm-up through every code path."""
    from seq2seq.engine.decode import Engine
    from seq2seq.engine.options import EngineOptions

    try:
        started = time.perf_counter()
        engine = Engine(model_dir.engine_dir(path), **(engine_args or {}))
        probe = engine.reply_batch([["hello"], ["how are you?"]], EngineOptions(max_len=4, min_len=1))
        if not (isinstance(probe, list) and len(probe) == 2 and all(isinstance(p, str) and p.strip() for p in probe)):
            raise ActivationError(f"version {version}: warm-up produced no reply")
        scores = engine.score([["hello"]], [probe[0]])[0]
        if not all(math.isfinite(s) for s in scores):
            raise ActivationError(f"version {version} refused: its scores are not finite (NaN weights?)")
    except ActivationError:
        raise
    except model_dir.ModelDirError as exc:
        raise ActivationError(f"version {version} refused: {exc}") from exc
    except Exception as exc:  # any other failure in loading or decoding: the version is unusable
        raise ActivationError(f"version {version} refused: warm-up failed ({type(exc).__name__}: {exc})") from exc
    return LoadedModel(version, engine, (time.perf_counter() - started) * 1000)


def is_v1(path: Path) -> bool:
    try:
        return model_dir.kind(path) == model_dir.V1
    except model_dir.ModelDirError:
        return False  # broken, not v1: loading it says what is wrong


class Registry:
    def __init__(self, root: Path, keep: int = 5, metrics=None, engine_args: dict | None = None):
        self.root = Path(root)
        self.engine_args = engine_args or {}  # Engine(...) arguments: device, threads, seed
        self.keep = keep
        self.metrics = metrics
        self.current: LoadedModel | None = None
        self._lock = asyncio.Lock()  # one activation or prune at a time
        self._entries: dict[str, dict] = {}
        self._active: str | None = None
        self.starting = True  # until start() has tried every version: not ready, but not broken either

    # ----- the record on disk
    def _file(self) -> Path:
        return self.root / REGISTRY_FILE

    def _read(self) -> dict:
        try:
            data = json.loads(self._file().read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as exc:  # a corrupt record is rebuilt from the directories
            log.warning("ignoring unreadable %s (%s); rebuilding it", self._file(), exc)
            return {}

    def _write(self) -> None:
        data = {"format": 1, "active": self._active, "updated": now_iso(), "versions": self._entries}
        tmp = self.root / (REGISTRY_FILE + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must never expose an empty file after a power cut
        os.replace(tmp, self._file())

    def scan(self) -> None:
        """Reconcile the record with the directories: new ones are candidates, vanished ones are dropped."""
        self.root.mkdir(parents=True, exist_ok=True)
        data = self._read()
        entries = data.get("versions") if isinstance(data.get("versions"), dict) else {}
        found = {}
        for path in sorted(self.root.iterdir()):
            try:
                name = validate_version(path.name)
            except ValueError:
                continue  # hidden temp dirs, registry.json, stray files
            if not path.is_dir() or not any(
                (path / f).is_file() for f in (model_dir.TRANSFORMER_FILE, model_dir.CONFIG_FILE)
            ):
                continue
            entry = entries.get(name) if isinstance(entries.get(name), dict) else None
            if entry is None:
                entry = {"status": "candidate", "created": _mtime_iso(path), "metrics": model_dir.read_metrics(path)}
            if is_v1(path) and entry.get("error") != model_dir.V1_RETIRED:
                # The upgrade to v2: a v1 version stays listed (and on disk, until pruned) but never serves again.
                log.warning("model version %s is a v1 model: retired (replaced by the v2 engine)", name)
                entry.update(status="retired", error=model_dir.V1_RETIRED)
            found[name] = entry
        self._entries = found
        active = data.get("active")
        self._active = active if active in found and found[active].get("error") != model_dir.V1_RETIRED else None
        for name, entry in found.items():
            if entry.get("status") == "active" and name != self._active:
                entry["status"] = "retired"
        self._write()

    # ----- queries
    @property
    def active(self) -> str | None:
        return self.current.version if self.current else None

    def path(self, version: str) -> Path:
        return self.root / validate_version(version)

    def exists(self, version: str) -> bool:
        return validate_version(version) in self._entries

    def info(self, version: str) -> ModelInfo:
        entry = self._entries.get(validate_version(version))
        if entry is None:
            raise UnknownVersion(f"unknown model version: {version}")
        return ModelInfo.from_json({**entry, "version": version})

    def list(self) -> list[ModelInfo]:
        return sorted((self.info(v) for v in self._entries), key=lambda m: (m.created, m.version), reverse=True)

    # ----- changes
    async def start(self) -> None:
        """At start-up: load the recorded active version, else the shipped one, else the newest usable."""
        try:
            self.scan()
            order = [self._active, SHIPPED, *[m.version for m in self.list() if m.status != "rejected"]]
            usable = (v for v in order if v and v in self._entries and not is_v1(self.path(v)))
            for version in dict.fromkeys(usable):
                try:
                    await self.activate(version)
                    return
                except ActivationError as exc:
                    log.error("%s", exc)
            log.error("no usable model version in %s: not ready until one is activated", self.root)
        finally:
            self.starting = False

    async def activate(self, version: str) -> ModelInfo:
        validate_version(version)
        async with self._lock:
            if version not in self._entries:
                raise UnknownVersion(f"unknown model version: {version}")
            if self.current and self.current.version == version:
                return self.info(version)
            if is_v1(self.path(version)):
                raise VersionRetired(f"model version {version} cannot be activated: {model_dir.V1_RETIRED}")
            log.info("loading model version %s beside %s", version, self.active or "nothing")
            try:
                loaded = await asyncio.to_thread(load_and_warm, self.path(version), version, self.engine_args)
            except ActivationError as exc:
                self._entries[version]["error"] = str(exc)
                if self.metrics:
                    self.metrics.refused_versions.inc()
                self._write()
                raise
            previous = self.current
            self.current = loaded  # the swap: new batches use it; batches in flight finish on `previous`
            if previous and previous.version in self._entries:
                self._entries[previous.version]["status"] = "retired"
            entry = self._entries[version]
            entry.update(status="active", error=None, activated=now_iso())
            self._active = version
            self._write()
            if self.metrics:
                self.metrics.set_model(version)
                self.metrics.swaps.inc()
            log.info(
                "model version %s is active (warm-up %.0f ms)%s",
                version,
                loaded.warm_up_ms,
                f"; {previous.version} retired" if previous else "",
            )
            return self.info(version)

    async def add(self, staged: Path, version: str, status: str, **fields) -> ModelInfo:
        """Publish a finished, complete directory under its version name with one atomic rename."""
        validate_version(version)
        async with self._lock:
            target = self.root / version
            if target.exists():
                raise FileExistsError(f"model version {version} already exists")
            os.rename(staged, target)
            self._entries[version] = {
                "status": status,
                "created": now_iso(),
                "metrics": model_dir.read_metrics(target),
                **fields,
            }
            self._write()
        return self.info(version)

    async def mark(self, version: str, **fields) -> None:
        async with self._lock:
            if version in self._entries:
                self._entries[version].update(fields)
                self._write()

    async def prune(self) -> list[str]:
        """Keep the newest `keep` versions besides the active and shipped ones; delete the rest."""
        async with self._lock:
            others = [m for m in self.list() if m.version not in (self.active, SHIPPED)]
            doomed = [m.version for m in others[self.keep :]]
            for version in doomed:
                del self._entries[version]
            self._write()  # forget them first: a crash mid-delete leaves an unlisted directory, not a listed hole
        for version in doomed:
            await asyncio.to_thread(remove_tree, self.root / version)
            log.info("pruned model version %s", version)
        return doomed

    def clean_temp(self) -> None:
        """Unfinished versions left by a crash are never published: delete them at start-up."""
        for path in self.root.glob(TEMP_PREFIX + "*"):
            remove_tree(path)
            log.info("removed unfinished %s", path.name)


def remove_tree(path: Path) -> None:
    """Rename to a hidden name first, so a half-deleted directory is never seen as a version."""
    if path.is_symlink():
        path.unlink()
        return
    if not path.exists():
        return
    hidden = path.with_name(f"{TEMP_PREFIX}del-{path.name}-{time.monotonic_ns()}")
    os.rename(path, hidden)
    shutil.rmtree(hidden, ignore_errors=True)


def _mtime_iso(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
