"""The database schema: SQLAlchemy 2.0 typed ORM models and the metadata Alembic migrates."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .pairs import PairKind

# Stable constraint names, so Alembic can drop and alter them (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Discord ids are 64-bit. On SQLite a primary key must be spelled INTEGER to be the rowid
# (no second index, half the bytes); INTEGER is 64-bit there anyway.
Snowflake = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def utcnow() -> datetime:
    return datetime.now(UTC)


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Message(Base):
    """A message seen in a learning channel; content has user mentions replaced."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(BigInteger, index=True)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No foreign key: the message replied to is often one Banter never stored.
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Banter's own message: may be a pair's query, never a pair's reply.
    is_own: Mapped[bool] = mapped_column(Boolean, default=False)


class Pair(Base):
    """A query message and the message that answered it, with text snapshots for training."""

    __tablename__ = "pairs"
    __table_args__ = (
        # Identical pairs are stored once per guild (per guild, so purging one guild
        # never removes what another guild taught).
        UniqueConstraint("guild_id", "text_hash"),
        CheckConstraint(_in("kind", PairKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    # A key for the reply chain (derived from its first message, not that message's id); the
    # train/validation split hashes it so that no validation reply is ever a training query.
    conversation_id: Mapped[int] = mapped_column(BigInteger)
    query_message_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    # A message answers at most one query.
    reply_message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    # The turn the query itself answered: the model reads it as context. Kept by id too, so
    # that deleting or editing that message reaches this snapshot.
    context_message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    context_text: Mapped[str | None] = mapped_column(Text)
    query_author_id: Mapped[int] = mapped_column(BigInteger)
    reply_author_id: Mapped[int] = mapped_column(BigInteger)
    query_text: Mapped[str] = mapped_column(Text)
    reply_text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    text_hash: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuildSettingsRow(Base):
    __tablename__ = "guild_settings"
    __table_args__ = (
        CheckConstraint("reply_chance >= 0 AND reply_chance <= 1", name="reply_chance"),
        CheckConstraint("cooldown_seconds >= 0", name="cooldown_seconds"),
    )

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    reply_chance: Mapped[float] = mapped_column(Float)
    cooldown_seconds: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GuildChannel(Base):
    """A channel's role in its guild: Banter learns from 'learn' channels, replies in 'reply' ones."""

    __tablename__ = "guild_channels"
    __table_args__ = (CheckConstraint("role IN ('learn', 'reply')", name="role"),)

    guild_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("guild_settings.guild_id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)


class OptOut(Base):
    """A user Banter must never log; the only place their id is kept after a purge."""

    __tablename__ = "opt_outs"

    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingRun(Base):
    __tablename__ = "training_runs"
    __table_args__ = (CheckConstraint(_in("status", RunStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING.value)
    triggered_by: Mapped[int | None] = mapped_column(BigInteger)  # a user id; None: scheduled
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The highest pair id the run's export included: pairs above it are "new" next time.
    pair_watermark: Mapped[int | None] = mapped_column(BigInteger)
    pairs_new: Mapped[int | None] = mapped_column(Integer)
    pairs_replay: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """An admin action. `details` must not hold user ids: forget_user cannot see inside it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "guild_id", "id"),)

    id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
