"""Fine-tuning jobs: one training subprocess at a time, its state and progress, cancel, publish and gate outcome."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import shutil
import signal
import sys
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from seq2seq.protocol import FinetuneOptions, JobInfo, validate_version
from seq2seq.worker.files import TEMP_PREFIX, remove_tree, write_json_atomically
from seq2seq.worker.registry import ActivationError, Registry, now_iso
from seq2seq.worker.settings import TOKEN_ENV
from seq2seq.worker.uploads import PairsFile

log = logging.getLogger("banter.worker.jobs")
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # so the subprocess imports this same seq2seq
JOBS_DIR = ".jobs"  # hidden: never mistaken for a model version
UPLOAD_PREFIX = "upload-"  # pairs of a request still being read, in JOBS_DIR
PAIRS_FILE = "pairs.jsonl"  # the job's input: people's words, kept only while the job runs
RUN_DIR = "run"  # checkpoints: large (weights plus optimizer slots), useless once the job ends
CANCEL_GRACE_S = 10.0  # SIGTERM lets training stop at a step boundary; then SIGKILL
# Training reads files and writes files: it needs none of the secrets in the worker's environment, neither
# the worker's own token nor the bot's (a worker started by Docker Compose gets the whole .env).
TRAINING_WITHOUT = (TOKEN_ENV, "DISCORD_TOKEN", "BANTER_DATABASE_URL")


class JobConflict(Exception):
    """Another job is running (409)."""


class UnknownJob(LookupError):
    pass


@dataclass
class Job:
    info: JobInfo
    options: FinetuneOptions
    dir: Path
    proc: asyncio.subprocess.Process | None = None
    cancel_requested: bool = False
    result: dict | None = None
    error_event: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def update(self, **changes) -> None:
        self.info = JobInfo.from_json({**asdict(self.info), **changes})


class JobManager:
    def __init__(self, registry: Registry, *, margin: float, replay_fraction: float, keep_jobs: int = 20, metrics=None):
        self.registry = registry
        self.margin = margin
        self.replay_fraction = replay_fraction
        self.keep_jobs = keep_jobs
        self.metrics = metrics
        self.root = registry.root / JOBS_DIR
        self.jobs: dict[str, Job] = {}
        self._starting = asyncio.Lock()

    def load_history(self) -> None:
        """Earlier jobs from disk; one that was running when the worker died is failed now, its leftovers deleted."""
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in self.root.iterdir():
            if folder.is_dir():  # no job runs yet: whatever a killed worker left behind goes
                discard_job_data(folder)
            elif folder.name.startswith(UPLOAD_PREFIX):  # a request cut off by the worker's death
                folder.unlink(missing_ok=True)
        for file in sorted(self.root.glob("*/job.json"), key=lambda f: f.stat().st_mtime):
            try:
                info = JobInfo.from_json(json.loads(file.read_text(encoding="utf-8")))
            except (ValueError, TypeError, OSError):
                continue
            if not info.done:
                info = JobInfo.from_json(
                    {
                        **asdict(info),
                        "state": "failed",
                        "pid": None,
                        "finished": now_iso(),
                        "error": "the worker stopped while this job ran",
                    }
                )
                write_json_atomically(file, asdict(info))
            job = Job(info, FinetuneOptions(), file.parent)
            job.done.set()
            self.jobs[info.id] = job
        self._count()

    @property
    def running(self) -> Job | None:
        return next((j for j in self.jobs.values() if not j.info.done), None)

    def get(self, job_id: str) -> JobInfo:
        if job_id not in self.jobs:
            raise UnknownJob(f"unknown job: {job_id}")
        return self.jobs[job_id].info

    def list(self) -> list[JobInfo]:
        return [j.info for j in reversed(self.jobs.values())]

    def upload_path(self) -> Path:
        """Where a request's pairs are written before its job exists (beside the jobs: one rename moves them)."""
        return self.root / f"{UPLOAD_PREFIX}{uuid.uuid4().hex}.jsonl"

    async def start(self, pairs: PairsFile, options: FinetuneOptions) -> JobInfo:
        async with self._starting:
            if self.running:
                raise JobConflict(f"job {self.running.info.id} is still {self.running.info.state}; one job at a time")
            base = self.registry.active
            if base is None:
                raise JobConflict("no active model to fine-tune from")
            job_id = uuid.uuid4().hex[:12]
            version = options.version or f"ft-{datetime.now(UTC):%Y%m%d-%H%M%S}-{job_id[:6]}"
            validate_version(version)
            if self.registry.exists(version) or (self.registry.root / version).exists():
                raise JobConflict(f"model version {version} already exists")
            job_dir = self.root / job_id
            job_dir.mkdir(parents=True)
            try:
                os.replace(pairs.path, job_dir / PAIRS_FILE)
            except OSError:
                await asyncio.to_thread(shutil.rmtree, job_dir, True)  # no half-made job stays behind
                raise
            job = Job(
                JobInfo(
                    job_id,
                    "queued",
                    version=version,
                    base_version=base,
                    options=options.to_json(),
                    pairs=pairs.count,
                    created=now_iso(),
                    progress={"phase": "queued"},
                ),
                options,
                job_dir,
            )
            self.jobs[job_id] = job
            self._save(job)
            try:
                await self._spawn(job)
            except Exception as exc:  # no process, so no _watch to end the job: end it here
                job.update(state="failed", error=f"could not start training: {type(exc).__name__}: {exc}")
                await asyncio.to_thread(discard_job_data, job_dir)
                self._save(job)
                job.done.set()
                raise
        asyncio.get_running_loop().create_task(self._watch(job), name=f"job-{job_id}")
        self._prune_history()
        return job.info

    async def _spawn(self, job: Job) -> None:
        cmd = finetune_command(
            self.registry.path(job.info.base_version),
            job.dir / PAIRS_FILE,
            self._staging(job),
            job.dir / RUN_DIR,
            job.options,
            margin=self.margin,
            replay_fraction=self.replay_fraction,
        )
        with (job.dir / "train.log").open("ab") as log_file:
            # Its own session (cancel signals the whole group) and a lower priority: replies come first.
            job.proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=finetune_env(),
                start_new_session=True,
                preexec_fn=_child_setup,
            )
        job.update(state="running", pid=job.proc.pid, progress={"phase": "starting"})
        self._save(job)
        log.info(
            "job %s: fine-tuning %s into %s (pid %d, %d pairs)",
            job.info.id,
            job.info.base_version,
            job.info.version,
            job.proc.pid,
            job.info.pairs,
        )

    def _staging(self, job: Job) -> Path:
        return self.registry.root / f"{TEMP_PREFIX}{job.info.id}"

    async def _watch(self, job: Job) -> None:
        try:
            async for line in job.proc.stdout:
                self._on_event(job, line)
            code = await job.proc.wait()
            # Before the job reads as finished: a client that sees "succeeded" finds no pairs or checkpoints left.
            await asyncio.to_thread(discard_job_data, job.dir)
            await self._finish(job, code)
        except Exception as exc:  # publishing failed (disk full?): the job fails, nothing half-visible stays
            log.exception("job %s failed while finishing", job.info.id)
            job.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            await asyncio.to_thread(remove_tree, self._staging(job))
            await asyncio.to_thread(discard_job_data, job.dir)
            job.update(pid=None, finished=job.info.finished or now_iso())
            self._save(job)
            job.done.set()
            self._count()

    def _on_event(self, job: Job, line: bytes) -> None:
        try:
            event = json.loads(line)
            kind = event.pop("event")
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # stray output from a library, not ours
        if kind in ("progress", "phase"):
            job.update(progress={**job.info.progress, **event})
        elif kind == "device":
            job.update(device=event.get("device"))
            log.info("job %s: training runs on %s", job.info.id, event.get("device"))
        elif kind == "result":
            job.result = event
        elif kind == "error":
            job.error_event = str(event.get("message"))

    async def _finish(self, job: Job, code: int) -> None:
        if job.cancel_requested:
            job.update(state="cancelled", error=job.info.error or "cancelled on request")
        elif code != 0 or job.result is None:
            job.update(state="failed", error=job.error_event or _exit_reason(code))
        else:
            await self._publish(job)
        log.info("job %s %s%s", job.info.id, job.info.state, f": {job.info.error}" if job.info.error else "")

    async def _publish(self, job: Job) -> None:
        gate = job.result.get("gate") or {}
        passed = bool(gate.get("passed"))
        base, version = job.info.base_version, job.info.version
        await self.registry.add(
            self._staging(job), version, "candidate" if passed else "rejected", gate=gate, parent=base, job=job.info.id
        )
        outcome, error = ("candidate" if passed else "rejected"), None
        if passed and job.options.activate:
            if self.registry.active != base:
                error = f"not activated: the active version changed from {base} to {self.registry.active} meanwhile"
            else:
                try:
                    await self.registry.activate(version)
                    outcome = "activated"
                except ActivationError as exc:
                    outcome, error = "rejected", str(exc)
                    await self.registry.mark(version, status="rejected")
        job.update(
            state="succeeded",
            outcome=outcome,
            gate=gate,
            metrics=job.result.get("metrics") or {},
            error=error,
            progress={**job.info.progress, "phase": "done"},
        )
        await self.registry.prune()

    async def cancel(self, job_id: str) -> JobInfo:
        job = self.jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"unknown job: {job_id}")
        if job.info.done or job.proc is None:
            return job.info
        job.cancel_requested = True
        _signal_group(job.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(job.done.wait(), CANCEL_GRACE_S)
        except TimeoutError:
            _signal_group(job.proc.pid, signal.SIGKILL)
            await job.done.wait()
        return job.info

    async def shutdown(self) -> None:
        job = self.running
        if job and job.proc:
            job.update(error="the worker shut down")
            job.cancel_requested = True
            _signal_group(job.proc.pid, signal.SIGKILL)
            await job.done.wait()

    def _save(self, job: Job) -> None:
        write_json_atomically(job.dir / "job.json", asdict(job.info))
        self._count()

    def _count(self) -> None:
        if self.metrics:
            counts: dict[str, int] = {}
            for job in self.jobs.values():
                counts[job.info.state] = counts.get(job.info.state, 0) + 1
            self.metrics.set_jobs(counts)

    def _prune_history(self) -> None:
        finished = [j for j in self.jobs.values() if j.info.done]
        for job in finished[: max(0, len(self.jobs) - self.keep_jobs)]:
            del self.jobs[job.info.id]
            shutil.rmtree(job.dir, ignore_errors=True)


def finetune_command(
    base: Path,
    pairs: Path,
    out: Path,
    run_dir: Path,
    options: FinetuneOptions,
    *,
    margin: float | None = None,
    replay_fraction: float | None = None,
) -> list[str]:
    """The command line of one fine-tune process (`python -m seq2seq.worker.finetune`, which documents it)."""
    cmd = [sys.executable, "-m", "seq2seq.worker.finetune", "--base", str(base), "--pairs", str(pairs)]
    cmd += ["--out", str(out), "--run-dir", str(run_dir), "--options", json.dumps(options.to_json())]
    if margin is not None:
        cmd += ["--margin", str(margin)]
    if replay_fraction is not None:
        cmd += ["--replay-fraction", str(replay_fraction)]
    return cmd


def finetune_env() -> dict[str, str]:
    """Our environment without its secrets, quieter, with this seq2seq first on the path wherever it starts."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {k: v for k, v in os.environ.items() if k not in TRAINING_WITHOUT}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": path}


def _exit_reason(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory, or killed)" if -code == signal.SIGKILL else ""
        return f"the training process was killed by {name}{hint}"
    return f"the training process exited with status {code}; see its train.log"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


try:  # loaded now: the child between fork and exec should do as little as possible
    _LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except OSError:
    _LIBC = None


def _child_setup() -> None:
    """In the child before exec: a lower priority, and SIGKILL when the worker dies (even by kill -9)."""
    os.nice(10)
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG; survives exec, so no window where training is orphaned


def discard_job_data(job_dir: Path) -> None:
    """What a finished job no longer needs: its checkpoints, and the pairs (raw text forget-me cannot reach here).
    The job keeps only its record (job.json: counts and figures) and its training log."""
    (job_dir / PAIRS_FILE).unlink(missing_ok=True)
    shutil.rmtree(job_dir / RUN_DIR, ignore_errors=True)
    for leftover in job_dir.glob(TEMP_PREFIX + "*"):  # a record write cut short by kill -9
        remove_tree(leftover)
