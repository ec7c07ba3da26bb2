"""The audit log of admin actions: who changed what, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import AuditEntry, utcnow


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    created_at: datetime
    action: str
    guild_id: int | None
    actor_id: int | None
    target_id: int | None
    details: dict[str, Any] | None


async def record(
    conn: AsyncConnection,
    action: str,
    *,
    guild_id: int | None = None,
    actor_id: int | None = None,
    target_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        insert(AuditEntry).values(
            action=action,
            guild_id=guild_id,
            actor_id=actor_id,
            target_id=target_id,
            details=details,
            created_at=utcnow(),
        )
    )


async def read(conn: AsyncConnection, *, guild_id: int | None = None, limit: int = 50) -> list[AuditRecord]:
    """Newest first; one guild's entries, or every entry when guild_id is None."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if guild_id is not None:
        query = query.where(AuditEntry.guild_id == guild_id)
    rows = await conn.execute(query)
    return [AuditRecord(r.id, r.created_at, r.action, r.guild_id, r.actor_id, r.target_id, r.details) for r in rows]
