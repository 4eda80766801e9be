"""worker heartbeats: each running `comptoir worker` says it is alive, for /healthz

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Workers may run on other machines than `comptoir serve` (`--no-worker`, several workers on one
PostgreSQL), so whether one is alive and what it is doing is known from the database: each
worker upserts its row every few seconds (routing.workers) and deletes it when it stops.
The table lives in the main file on SQLite: the ack path never writes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.Column("doing", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeats")
