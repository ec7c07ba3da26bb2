"""Model versions on disk: statuses in an atomically written registry.json, and load-warm-then-swap activation."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from seq2seq import model_dir
from seq2seq.protocol import ModelInfo, validate_version
from seq2seq.worker.files import TEMP_PREFIX, remove_tree, write_json_atomically

log = logging.getLogger("banter.worker.registry")

REGISTRY_FILE = "registry.json"
SHIPPED = "default"  # the shipped model: never pruned, it is the rollback of last resort


class UnknownVersion(LookupError):
    pass


class ActivationError(Exception):
    """A version failed to load or to answer its warm-up; the active one stays."""


class VersionRetired(Exception):
    """A v1 version: the worker serves v2 through the engine only, so it can never be activated (409)."""


class GateRejected(Exception):
    """The quality gate rejected this version: it is activated only when the request says `force`."""


class RegistryWriteError(Exception):
    """registry.json could not be written (a full disk?): nothing changed, on disk or in memory."""


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

    def _save(self, entries: dict[str, dict], active: str | None) -> None:
        """Write the record first; only once it is on disk does memory take the new state (so both agree)."""
        data = {"format": 1, "active": active, "updated": now_iso(), "versions": entries}
        try:
            write_json_atomically(self._file(), data)
        except OSError as exc:
            raise RegistryWriteError(
                f"could not record the change in {REGISTRY_FILE} ({exc.strerror or exc}); nothing changed"
            ) from exc
        self._entries, self._active = entries, active

    def _copy(self) -> dict[str, dict]:
        return {name: dict(entry) for name, entry in self._entries.items()}

    def scan(self) -> None:
        """Reconcile the record with the directories: new ones are candidates, vanished ones are dropped."""
        self.root.mkdir(parents=True, exist_ok=True)
        data = self._read()
        entries = data.get("versions") if isinstance(data.get("versions"), dict) else {}
        found = {}
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(".") or not _is_dir(path):
                continue  # the worker's own (jobs, unfinished versions, temporary files), the record, stray files
            problem = _unusable(path)
            if problem:
                log.warning("skipping %s: %s", path, problem)
                continue
            name = path.name
            entry = entries.get(name) if isinstance(entries.get(name), dict) else None
            if entry is None:
                metrics = _metrics(path)
                gate = metrics.get("gate") if isinstance(metrics.get("gate"), dict) else None
                # A record lost with registry.json must not turn a gate-rejected version into a candidate.
                status = "rejected" if gate and gate.get("passed") is False else "candidate"
                entry = {"status": status, "created": _mtime_iso(path), "metrics": metrics, "gate": gate}
            if is_v1(path) and entry.get("error") != model_dir.V1_RETIRED:
                # The upgrade to v2: a v1 version stays listed (and on disk, until pruned) but never serves again.
                log.warning("model version %s is a v1 model: retired (replaced by the v2 engine)", name)
                entry.update(status="retired", error=model_dir.V1_RETIRED)
            found[name] = entry
        active = data.get("active")
        active = active if active in found and found[active].get("error") != model_dir.V1_RETIRED else None
        for name, entry in found.items():
            if entry.get("status") == "active" and name != active:
                entry["status"] = "retired"
        self._save(found, active)

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
            recorded = self._active
            fallbacks = [SHIPPED, *[m.version for m in self.list()]]
            order = [recorded, *[v for v in fallbacks if v in self._entries and not gate_refused(self._entries[v])]]
            for version in dict.fromkeys(v for v in order if v and not is_v1(self.path(v))):
                try:
                    # The recorded active version was chosen by an operator, perhaps with force: it may load again.
                    await self.activate(version, force=version == recorded)
                    return
                except ActivationError as exc:
                    log.error("%s", exc)
            log.error("no usable model version in %s: not ready until one is activated", self.root)
        finally:
            self.starting = False

    async def activate(self, version: str, *, force: bool = False) -> ModelInfo:
        validate_version(version)
        async with self._lock:
            if version not in self._entries:
                raise UnknownVersion(f"unknown model version: {version}")
            if self.current and self.current.version == version:
                return self.info(version)
            if is_v1(self.path(version)):
                raise VersionRetired(f"model version {version} cannot be activated: {model_dir.V1_RETIRED}")
            refused = gate_refused(self._entries[version])
            if refused and not force:
                raise GateRejected(
                    f"version {version} was rejected by the quality gate ({refused}); "
                    'activate it with {"force": true} to override'
                )
            log.info("loading model version %s beside %s", version, self.active or "nothing")
            try:
                loaded = await asyncio.to_thread(load_and_warm, self.path(version), version, self.engine_args)
            except ActivationError as exc:
                self._record_refusal(version, str(exc))
                raise
            entries = self._copy()
            # At start-up the recorded active version loads again: when, and whether by force, it was activated
            # stays as the operator did it, not the time of the restart.
            reloaded = entries[version].get("status") == "active"
            for entry in entries.values():
                if entry.get("status") == "active":  # one active version, whatever the record said before
                    entry["status"] = "retired"
            entries[version].update(status="active", error=None)
            if not reloaded or not entries[version].get("activated"):
                entries[version]["activated"] = now_iso()
                if refused:
                    entries[version]["forced"] = entries[version]["activated"]
            self._save(entries, version)  # first the record: if it cannot be written, the old model serves on
            previous = self.current
            self.current = loaded  # the swap: new batches use it; batches in flight finish on `previous`
            if self.metrics:
                self.metrics.set_model(version)
                self.metrics.swaps.inc()
            if refused:
                log.warning("model version %s activated with force over the quality gate (%s)", version, refused)
            log.info(
                "model version %s is active (warm-up %.0f ms)%s",
                version,
                loaded.warm_up_ms,
                f"; {previous.version} retired" if previous else "",
            )
            return self.info(version)

    def _record_refusal(self, version: str, error: str) -> None:
        """Keep why a version failed; the recorded active version that failed to load is active no longer."""
        if self.metrics:
            self.metrics.refused_versions.inc()
        entries, active = self._copy(), self._active
        entries[version]["error"] = error
        if version == active and self.current is None:
            entries[version]["status"] = "retired"
            active = None
        try:
            self._save(entries, active)
        except RegistryWriteError as exc:
            log.error("%s", exc)  # the refusal itself is what the caller needs to hear

    async def add(self, staged: Path, version: str, status: str, **fields) -> ModelInfo:
        """Publish a finished, complete directory under its version name with one atomic rename."""
        validate_version(version)
        async with self._lock:
            target = self.root / version
            if target.exists():
                raise FileExistsError(f"model version {version} already exists")
            os.rename(staged, target)
            entries = self._copy()
            entries[version] = {
                "status": status,
                "created": now_iso(),
                "metrics": _metrics(target),
                **fields,
            }
            try:
                self._save(entries, self._active)
            except RegistryWriteError:
                os.rename(target, staged)  # unrecorded, it would come back at the next start as a mere candidate
                raise
        return self.info(version)

    async def mark(self, version: str, **fields) -> None:
        async with self._lock:
            if version in self._entries:
                entries = self._copy()
                entries[version].update(fields)
                self._save(entries, self._active)

    async def prune(self) -> list[str]:
        """Keep the newest `keep` versions besides the active and shipped ones; delete the rest."""
        async with self._lock:
            others = [m for m in self.list() if m.version not in (self.active, SHIPPED)]
            doomed = [m.version for m in others[self.keep :]]
            entries = {name: entry for name, entry in self._copy().items() if name not in doomed}
            # Forget them first: a crash mid-delete leaves an unlisted directory, not a listed hole.
            self._save(entries, self._active)
        for version in doomed:
            await asyncio.to_thread(remove_tree, self.root / version)
            log.info("pruned model version %s", version)
        return doomed

    def clean_temp(self) -> None:
        """Unfinished versions and temporary files left by a crash are never published: delete them at start-up."""
        for path in self.root.glob(TEMP_PREFIX + "*"):
            remove_tree(path)
            log.info("removed unfinished %s", path.name)


def gate_refused(entry: dict) -> str | None:
    """Why the quality gate (or a failed load after it) rejected this version; None if it did not."""
    gate = entry.get("gate") or (entry.get("metrics") or {}).get("gate")
    if isinstance(gate, dict) and gate.get("passed") is False:
        return "; ".join(str(r) for r in gate.get("reasons") or []) or "the gate failed"
    if entry.get("status") == "rejected":
        return entry.get("error") or "status rejected"
    return None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return True  # unreadable: _unusable says why


def _unusable(path: Path) -> str | None:
    """Why a folder in the versions folder cannot be a version; None if it can."""
    try:
        validate_version(path.name)
    except ValueError as exc:
        return f"not a usable version name ({exc})"
    try:
        if not any((path / name).is_file() for name in (model_dir.TRANSFORMER_FILE, model_dir.CONFIG_FILE)):
            return f"no {model_dir.TRANSFORMER_FILE} (v2) or {model_dir.CONFIG_FILE} (v1) in it"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def _metrics(path: Path) -> dict:
    try:
        metrics = model_dir.read_metrics(path)
    except (ValueError, OSError) as exc:  # only figures for people to read: a bad file costs them, not the version
        log.warning("ignoring unreadable %s in %s (%s)", model_dir.METRICS_FILE, path, exc)
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _mtime_iso(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
