"""Create the task table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False, server_default="pending"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # The database enforces the same states as the API, whoever writes to it
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'done')", name="ck_task_status_valid"
        ),
    )
    # Listing by status is the common filter
    op.create_index("ix_task_status", "task", ["status"])


def downgrade() -> None:
    op.drop_index("ix_task_status", table_name="task")
    op.drop_table("task")
