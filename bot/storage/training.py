"""Training bookkeeping: runs (status, metrics, who triggered them), model versions, pair counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import ModelVersion, Pair, RunStatus, TrainingRun, utcnow


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
class ModelVersionInfo:
    id: int
    name: str
    path: str
    training_run_id: int | None
    metrics: dict[str, Any] | None
    is_active: bool
    created_at: datetime


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


def _version_info(row) -> ModelVersionInfo:
    return ModelVersionInfo(row.id, row.name, row.path, row.training_run_id, row.metrics, row.is_active, row.created_at)


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


async def add_model_version(
    conn: AsyncConnection,
    name: str,
    path: str,
    training_run_id: int | None,
    metrics: dict[str, Any] | None,
    activate: bool,
) -> int:
    version_id = await conn.scalar(
        insert(ModelVersion)
        .values(
            name=name, path=path, training_run_id=training_run_id, metrics=metrics, is_active=False, created_at=utcnow()
        )
        .returning(ModelVersion.id)
    )
    if activate:
        await activate_model_version(conn, version_id)
    return version_id


async def activate_model_version(conn: AsyncConnection, version_id: int) -> None:
    """Exactly one active version afterwards."""
    if await conn.scalar(select(ModelVersion.id).where(ModelVersion.id == version_id)) is None:
        raise KeyError(f"no model version {version_id}")
    await conn.execute(update(ModelVersion).where(ModelVersion.is_active).values(is_active=False))
    await conn.execute(update(ModelVersion).where(ModelVersion.id == version_id).values(is_active=True))


async def active_model_version(conn: AsyncConnection) -> ModelVersionInfo | None:
    row = (await conn.execute(select(ModelVersion).where(ModelVersion.is_active))).first()
    return _version_info(row) if row else None


async def list_model_versions(conn: AsyncConnection, limit: int = 20) -> list[ModelVersionInfo]:
    rows = await conn.execute(select(ModelVersion).order_by(ModelVersion.id.desc()).limit(limit))
    return [_version_info(r) for r in rows]
