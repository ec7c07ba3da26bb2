"""Privacy: opting out, forgetting a user, a user's data as JSON, and purging a guild."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .audit import record as audit
from .engine import insert_ignoring_duplicates
from .messages import Caches, delete_messages
from .models import AuditEntry, Message, OptOut, Pair, TrainingRun, utcnow
from .pairs import Turn
from .settings import delete_settings
from .writer import Hooks


async def forget_user(conn: AsyncConnection, user_id: int, hooks: Hooks, caches: Caches) -> int:
    """Remove everything stored about a user but the opt-out itself. Returns messages deleted."""
    deleted = await delete_messages(conn, select(Message.id).where(Message.author_id == user_id))
    # Keep the history of runs and admin actions, but not who they were.
    await conn.execute(update(TrainingRun).where(TrainingRun.triggered_by == user_id).values(triggered_by=None))
    await conn.execute(update(AuditEntry).where(AuditEntry.actor_id == user_id).values(actor_id=None))
    await conn.execute(update(AuditEntry).where(AuditEntry.target_id == user_id).values(target_id=None))
    # A tail's context may be one of the user's messages; which, the cache cannot tell: drop them all.
    hooks.append(
        lambda: caches.forget_tails(
            lambda t: isinstance(t, Turn) and t.author_id == user_id, forget_context=lambda t: True
        )
    )
    return deleted


async def opt_out(conn: AsyncConnection, user_id: int, hooks: Hooks, caches: Caches) -> int:
    """Record the opt-out, then forget the user. Returns messages deleted."""
    await conn.execute(
        insert_ignoring_duplicates(conn.dialect.name, OptOut.__table__).values(user_id=user_id, created_at=utcnow())
    )
    deleted = await forget_user(conn, user_id, hooks, caches)
    hooks.append(lambda: caches.opted_out.add(user_id))
    return deleted


async def opt_in(conn: AsyncConnection, user_id: int, hooks: Hooks, caches: Caches) -> bool:
    result = await conn.execute(delete(OptOut).where(OptOut.user_id == user_id))
    hooks.append(lambda: caches.opted_out.discard(user_id))
    return result.rowcount > 0


async def purge_guild(conn: AsyncConnection, guild_id: int, hooks: Hooks, caches: Caches) -> int:
    """Remove a guild's messages, pairs, settings and audit entries. Returns messages deleted."""
    channels = set(await conn.scalars(select(Message.channel_id).distinct().where(Message.guild_id == guild_id)))
    await conn.execute(delete(Pair).where(Pair.guild_id == guild_id))
    deleted = (await conn.execute(delete(Message).where(Message.guild_id == guild_id))).rowcount
    await delete_settings(conn, guild_id)
    await conn.execute(delete(AuditEntry).where(AuditEntry.guild_id == guild_id))
    await audit(conn, "guild.purged", details={"messages": deleted})

    def forget() -> None:
        caches.settings.pop(guild_id, None)
        for channel in channels & caches.tails.keys():
            caches.tails.pop(channel)

    hooks.append(forget)
    return deleted


def _json(key: str, value: Any) -> Any:
    """Ids as strings (JavaScript loses 64-bit integers), datetimes as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if key == "id" or key.endswith("_id"):
        return str(value)
    return value


def _rows(result) -> list[dict[str, Any]]:
    return [{key: _json(key, value) for key, value in row._mapping.items()} for row in result]


async def export_user_data(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    """Everything stored about a user, JSON-ready (json.dumps works on it as it is)."""
    own_ids = select(Message.id).where(Message.author_id == user_id)
    messages = await conn.execute(
        select(
            Message.id,
            Message.guild_id,
            Message.channel_id,
            Message.content,
            Message.created_at,
            Message.edited_at,
            Message.reply_to_id,
        )
        .where(Message.author_id == user_id)
        .order_by(Message.id)
    )
    pairs = await conn.execute(
        select(
            Pair.id,
            Pair.guild_id,
            Pair.channel_id,
            Pair.kind,
            Pair.query_message_id,
            Pair.reply_message_id,
            Pair.context_message_id,
            Pair.context_text,
            Pair.query_text,
            Pair.reply_text,
            Pair.created_at,
        )
        .where(
            or_(
                Pair.query_message_id.in_(own_ids),
                Pair.reply_message_id.in_(own_ids),
                Pair.context_message_id.in_(own_ids),
            )
        )
        .order_by(Pair.id)
    )
    runs = await conn.execute(
        select(TrainingRun.id, TrainingRun.status, TrainingRun.started_at, TrainingRun.finished_at)
        .where(TrainingRun.triggered_by == user_id)
        .order_by(TrainingRun.id)
    )
    audit_rows = await conn.execute(
        select(
            AuditEntry.id,
            AuditEntry.created_at,
            AuditEntry.action,
            AuditEntry.guild_id,
            AuditEntry.actor_id,
            AuditEntry.target_id,
            AuditEntry.details,
        )
        .where(or_(AuditEntry.actor_id == user_id, AuditEntry.target_id == user_id))
        .order_by(AuditEntry.id)
    )
    opted_out_at = await conn.scalar(select(OptOut.created_at).where(OptOut.user_id == user_id))
    return {
        "user_id": str(user_id),
        "exported_at": utcnow().isoformat(),
        "opted_out": opted_out_at is not None,
        "opted_out_at": _json("opted_out_at", opted_out_at),
        "messages": _rows(messages),
        "pairs": _rows(pairs),
        "training_runs_triggered": _rows(runs),
        "audit_log": _rows(audit_rows),
    }
