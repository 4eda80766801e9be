"""slack inbox: deliveries stored before the ack, answered by a worker

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_inbox",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("slack_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_inbox_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_slack_inbox_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_inbox_received_at"))
        batch_op.drop_index(batch_op.f("ix_slack_inbox_status"))
    op.drop_table("slack_inbox")
