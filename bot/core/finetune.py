"""Fine-tuning the shared model: export pairs from storage, run the worker's job, follow it, record the result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.storage import RunStatus, Storage
from bot.worker import WorkerClient, WorkerError, WorkerUnavailable
from seq2seq.protocol import MIN_FINETUNE_PAIRS, FinetuneOptions, JobInfo

log = logging.getLogger("banter.finetune")

OUTAGE_LIMIT_S = 600.0  # a job whose worker stays unreachable this long is given up on
LOCK_NAME = "finetune"  # Storage.exclusive: one fine-tune across every shard on the database


class AlreadyRunning(Exception):
    pass


def figures_only(metrics: dict) -> dict:
    """A model's metrics as the database keeps them. The worker lists the words its vocabulary lacked:
    people's words, which forget-me could not reach inside a run's record. Their counts stay."""
    missing = metrics.get("missing_words")
    if isinstance(missing, dict):
        return {**metrics, "missing_words": {k: v for k, v in missing.items() if not isinstance(v, list)}}
    return metrics


@dataclass
class FinetuneReport:
    run_id: int
    status: RunStatus = RunStatus.RUNNING
    outcome: str | None = None  # the worker's: activated, rejected, candidate
    version: str | None = None
    error: str | None = None
    pairs_new: int = 0
    pairs_sent: int = 0
    before: dict = field(default_factory=dict)  # the active model's metrics before the job
    after: dict = field(default_factory=dict)  # the candidate's
    job: JobInfo | None = None
    chart: bytes | None = None  # the new version's loss chart (PNG), drawn by the worker


Progress = Callable[[FinetuneReport], Awaitable[None]]


async def _nothing(_: FinetuneReport) -> None:
    return None


class FineTuner:
    """One fine-tune at a time, across every shard on the database; `due()` says whether the schedule
    (interval and enough new pairs) calls for one."""

    def __init__(
        self,
        storage: Storage,
        worker: WorkerClient,
        *,
        interval_hours: float,
        min_pairs: int,
        poll_seconds: float = 2.0,
        max_steps: int = 0,
    ):
        self.storage = storage
        self.worker = worker
        self.interval = timedelta(hours=interval_hours)
        self.min_pairs = max(min_pairs, MIN_FINETUNE_PAIRS)
        self.poll_seconds = poll_seconds
        self.max_steps = max_steps or None
        self.current: FinetuneReport | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """A fine-tune runs in this process."""
        return self._lock.locked()

    async def running_anywhere(self) -> bool:
        """A fine-tune runs here or in another process on the same database (another shard)."""
        return self.running or await self.storage.lock_held(LOCK_NAME)

    async def last_success(self) -> datetime | None:
        for run in await self.storage.training_runs(limit=50):
            if run.status == RunStatus.SUCCEEDED and run.finished_at is not None:
                at = run.finished_at
                return at if at.tzinfo else at.replace(tzinfo=UTC)
        return None

    async def next_due(self) -> tuple[datetime | None, int]:
        """When the interval allows the next run (None: now), and how many new pairs exist."""
        last = await self.last_success()
        counts = await self.storage.pair_counts()
        return (last + self.interval if last else None), counts.since_last_run

    async def due(self, now: datetime | None = None) -> bool:
        when, new = await self.next_due()
        now = now or datetime.now(UTC)
        return (when is None or when <= now) and new >= self.min_pairs

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """One fine-tune at a time in this process, and across every process on the database."""
        if self._lock.locked():
            raise AlreadyRunning("a fine-tune is already running")
        async with self._lock, self.storage.exclusive(LOCK_NAME) as held:
            if not held:
                raise AlreadyRunning("a fine-tune is already running in another process (shard)")
            yield

    async def run(
        self, triggered_by: int | None = None, progress: Progress = _nothing, full: bool = False
    ) -> FinetuneReport:
        async with self._exclusive():
            return await self._run_recorded(triggered_by, progress, full)

    async def run_if_due(self) -> FinetuneReport | None:
        """The schedule's fine-tune: None if not due. Checked again once the lock is held, since
        another shard may have just finished one (which made it no longer due)."""
        async with self._exclusive():
            if not await self.due():
                return None
            return await self._run_recorded(None, _nothing, False)

    async def _run_recorded(self, triggered_by: int | None, progress: Progress, full: bool) -> FinetuneReport:
        report = FinetuneReport(run_id=await self.storage.start_training_run(triggered_by))
        log.info("training run %d starting%s", report.run_id, " (scheduled)" if triggered_by is None else "")
        self.current = report
        try:
            await self._run(report, progress, full)
        except (WorkerError, OSError) as exc:
            report.status, report.error = RunStatus.FAILED, getattr(exc, "message", None) or str(exc)
        except asyncio.CancelledError:
            report.status, report.error = RunStatus.CANCELLED, "the bot stopped"
            raise
        finally:
            if report.status == RunStatus.RUNNING:
                report.status, report.error = RunStatus.FAILED, report.error or "stopped unexpectedly"
            await self._finish(report)
            self.current = None
        await progress(report)
        return report

    async def _run(self, report: FinetuneReport, progress: Progress, full: bool = False) -> None:
        with tempfile.TemporaryDirectory(prefix="banter-export-") as tmp:
            counts = await self.storage.export_training_pairs(tmp, run_id=report.run_id)
            report.pairs_new, report.pairs_sent = counts.new, counts.pairs
            if report.pairs_sent < MIN_FINETUNE_PAIRS:
                report.status = RunStatus.FAILED
                report.error = f"only {report.pairs_sent} pairs to learn from; a fine-tune needs {MIN_FINETUNE_PAIRS}"
                return
            active, versions = await self.worker.models()
            report.before = next((v.metrics for v in versions if v.version == active), {}) or {}
            # The worker makes the one split: [learning] validation_fraction of the conversations are held
            # out to judge the candidate.
            options = FinetuneOptions(
                max_steps=self.max_steps, full=full, holdout_fraction=self.storage.config.learning.validation_fraction
            )
            job = await self.worker.start_finetune(counts.path, options)
        report.job = job
        await progress(report)
        await self._follow(report, progress)

    async def _follow(self, report: FinetuneReport, progress: Progress) -> None:
        assert report.job is not None
        outage_since: float | None = None
        while not report.job.done:
            await asyncio.sleep(self.poll_seconds)
            try:
                job = await self.worker.job(report.job.id)
            except WorkerUnavailable as exc:
                outage_since = outage_since or time.monotonic()
                if time.monotonic() - outage_since > OUTAGE_LIMIT_S:
                    raise WorkerUnavailable(
                        0, f"lost the worker while following job {report.job.id}: {exc.message}"
                    ) from exc
                continue
            outage_since = None
            report.job = job
            await progress(report)
        job = report.job
        report.outcome, report.version, report.after = job.outcome, job.version, job.metrics or {}
        if job.state == "succeeded":
            report.status = RunStatus.SUCCEEDED
            report.chart = await self._chart(job.version)
        else:
            report.status = RunStatus.CANCELLED if job.state == "cancelled" else RunStatus.FAILED
            report.error = job.error or job.state

    async def _chart(self, version: str | None) -> bytes | None:
        """A report without its chart is still worth sending: a failure to fetch it is only logged."""
        if not version:
            return None
        try:
            return await self.worker.loss_chart(version)
        except WorkerError as exc:
            log.warning("no loss chart for version %s: %s", version, exc.message)
            return None

    async def _finish(self, report: FinetuneReport) -> None:
        metrics = {
            "outcome": report.outcome,
            "version": report.version,
            "before": figures_only(report.before),
            "after": figures_only(report.after),
            "job": report.job.id if report.job else None,
        }
        try:
            await self.storage.finish_training_run(report.run_id, report.status, metrics=metrics, error=report.error)
        except Exception:
            log.exception("could not record the end of training run %d", report.run_id)
        log.info(
            "training run %d: %s%s",
            report.run_id,
            report.status.value,
            f" ({report.error})" if report.error else f", {report.outcome} {report.version}",
        )
