"""drop model_versions: the worker's registry is the one record of model versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Its rows only ever echoed the worker's fine-tune outcomes (rollbacks never reached it); the
    # training run keeps the version it produced in its metrics.
    op.drop_index(op.f("ix_model_versions_training_run_id"), table_name="model_versions")
    op.drop_table("model_versions")


def downgrade() -> None:
    # The table as 0001 made it, empty: the worker's registry holds the versions.
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
