"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 20:50:00.401834
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Discord ids; on SQLite INTEGER so that a primary key is the rowid.
SNOWFLAKE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", SNOWFLAKE, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_actor_id"), "audit_log", ["actor_id"])
    op.create_index(op.f("ix_audit_log_guild_id"), "audit_log", ["guild_id", "id"])
    op.create_index(op.f("ix_audit_log_target_id"), "audit_log", ["target_id"])

    op.create_table(
        "guild_settings",
        sa.Column("guild_id", SNOWFLAKE, autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reply_chance", sa.Float(), nullable=False),
        sa.Column("cooldown_seconds", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cooldown_seconds >= 0", name=op.f("ck_guild_settings_cooldown_seconds")),
        sa.CheckConstraint("reply_chance >= 0 AND reply_chance <= 1", name=op.f("ck_guild_settings_reply_chance")),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_settings")),
    )
    op.create_table(
        "messages",
        sa.Column("id", SNOWFLAKE, autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("is_own", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(op.f("ix_messages_author_id"), "messages", ["author_id"])
    op.create_index(op.f("ix_messages_guild_id"), "messages", ["guild_id"])
    op.create_index(op.f("ix_messages_reply_to_id"), "messages", ["reply_to_id"])

    op.create_table(
        "opt_outs",
        sa.Column("user_id", SNOWFLAKE, autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_opt_outs")),
    )
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("triggered_by", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pair_watermark", sa.BigInteger(), nullable=True),
        sa.Column("pairs_new", sa.Integer(), nullable=True),
        sa.Column("pairs_replay", sa.Integer(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'cancelled')", name=op.f("ck_training_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
    )
    op.create_table(
        "guild_channels",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.CheckConstraint("role IN ('learn', 'reply')", name=op.f("ck_guild_channels_role")),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["guild_settings.guild_id"],
            name=op.f("fk_guild_channels_guild_id_guild_settings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("guild_id", "channel_id", "role", name=op.f("pk_guild_channels")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("training_run_id", sa.Integer(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
            name=op.f("fk_model_versions_training_run_id_training_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", name=op.f("uq_model_versions_name")),
    )
    op.create_index(op.f("ix_model_versions_training_run_id"), "model_versions", ["training_run_id"])

    op.create_table(
        "pairs",
        sa.Column("id", SNOWFLAKE, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("query_message_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_message_id", sa.BigInteger(), nullable=False),
        sa.Column("context_message_id", sa.BigInteger(), nullable=True),
        sa.Column("context_text", sa.Text(), nullable=True),
        sa.Column("query_author_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_author_id", sa.BigInteger(), nullable=False),
        sa.Column("query_text", sa.Text(), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text_hash", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('reply', 'adjacent', 'bot')", name=op.f("ck_pairs_kind")),
        sa.ForeignKeyConstraint(
            ["context_message_id"],
            ["messages.id"],
            name=op.f("fk_pairs_context_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["query_message_id"], ["messages.id"], name=op.f("fk_pairs_query_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reply_message_id"], ["messages.id"], name=op.f("fk_pairs_reply_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairs")),
        sa.UniqueConstraint("guild_id", "text_hash", name=op.f("uq_pairs_guild_id_text_hash")),
        sa.UniqueConstraint("reply_message_id", name=op.f("uq_pairs_reply_message_id")),
    )
    op.create_index(op.f("ix_pairs_context_message_id"), "pairs", ["context_message_id"])
    op.create_index(op.f("ix_pairs_query_message_id"), "pairs", ["query_message_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pairs_query_message_id"), table_name="pairs")
    op.drop_index(op.f("ix_pairs_context_message_id"), table_name="pairs")
    op.drop_table("pairs")
    op.drop_index(op.f("ix_model_versions_training_run_id"), table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("guild_channels")
    op.drop_table("training_runs")
    op.drop_table("opt_outs")
    op.drop_index(op.f("ix_messages_reply_to_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_guild_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_author_id"), table_name="messages")
    op.drop_table("messages")
    op.drop_table("guild_settings")
    op.drop_index(op.f("ix_audit_log_target_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_guild_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor_id"), table_name="audit_log")
    op.drop_table("audit_log")
