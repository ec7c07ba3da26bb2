"""Training bookkeeping: runs (status, metrics, who triggered them) and pair counts (model versions: the worker)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import Pair, RunStatus, TrainingRun, utcnow


@dataclass(frozen=True, slots=True)
class TrainingRunInfo:
    id: int
    status: RunStatus
    triggered_by: int | None
    started_at: datetime
    finished_at: datetime | None
    pair_watermark: int | None
    pairs_new: int | None
    pairs_replay: int | None
    metrics: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class PairCounts:
    total: int
    since_last_run: int  # added after the last successful run's export


def _run_info(row) -> TrainingRunInfo:
    return TrainingRunInfo(
        row.id,
        RunStatus(row.status),
        row.triggered_by,
        row.started_at,
        row.finished_at,
        row.pair_watermark,
        row.pairs_new,
        row.pairs_replay,
        row.metrics,
        row.error,
    )


async def last_watermark(conn: AsyncConnection) -> int:
    """The highest pair id a successful run trained on (0: none yet)."""
    value = await conn.scalar(
        select(func.max(TrainingRun.pair_watermark)).where(TrainingRun.status == RunStatus.SUCCEEDED.value)
    )
    return int(value or 0)


async def pair_counts(conn: AsyncConnection, guild_id: int | None = None) -> PairCounts:
    watermark = await last_watermark(conn)
    query = select(func.count(), func.count().filter(Pair.id > watermark)).select_from(Pair)
    if guild_id is not None:
        query = query.where(Pair.guild_id == guild_id)
    total, new = (await conn.execute(query)).one()
    return PairCounts(total, new)


async def start_run(conn: AsyncConnection, triggered_by: int | None) -> int:
    return await conn.scalar(
        insert(TrainingRun)
        .values(status=RunStatus.RUNNING.value, triggered_by=triggered_by, started_at=utcnow())
        .returning(TrainingRun.id)
    )


async def record_export(conn: AsyncConnection, run_id: int, watermark: int, new: int, replay: int) -> None:
    await conn.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id)
        .values(pair_watermark=watermark, pairs_new=new, pairs_replay=replay)
    )


async def finish_run(
    conn: AsyncConnection, run_id: int, status: RunStatus, metrics: dict[str, Any] | None, error: str | None
) -> None:
    if status == RunStatus.RUNNING:
        raise ValueError("a finished run needs a final status")
    result = await conn.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id)
        .values(status=RunStatus(status).value, metrics=metrics, error=error, finished_at=utcnow())
    )
    if result.rowcount == 0:
        raise KeyError(f"no training run {run_id}")


async def get_run(conn: AsyncConnection, run_id: int) -> TrainingRunInfo | None:
    row = (await conn.execute(select(TrainingRun).where(TrainingRun.id == run_id))).first()
    return _run_info(row) if row else None


async def list_runs(conn: AsyncConnection, limit: int = 20) -> list[TrainingRunInfo]:
    rows = await conn.execute(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit))
    return [_run_info(r) for r in rows]
