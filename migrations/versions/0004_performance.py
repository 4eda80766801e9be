"""seller performance: daily metrics, evaluations, nudges, digests, job runs, nudges opt-out

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sellers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("nudges_opt_out", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "metrics_daily",
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("accepted_orders", sa.Integer(), nullable=False),
        sa.Column("acceptance_delay_hours", sa.Float(), nullable=True),
        sa.Column("seller_cancellations", sa.Integer(), nullable=False),
        sa.Column("shipments", sa.Integer(), nullable=False),
        sa.Column("late_shipments", sa.Integer(), nullable=False),
        sa.Column("shipments_with_tracking", sa.Integer(), nullable=False),
        sa.Column("customer_messages", sa.Integer(), nullable=False),
        sa.Column("response_hours", sa.Float(), nullable=True),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("ratings_count", sa.Integer(), nullable=False),
        sa.Column("rating_mean", sa.Float(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.seller_id"]),
        sa.PrimaryKeyConstraint("seller_id", "day"),
    )
    with op.batch_alter_table("metrics_daily", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metrics_daily_day"), ["day"], unique=False)

    op.create_table(
        "perf_evaluations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("trend", sa.JSON(), nullable=False),
        sa.Column("projection", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.seller_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seller_id", "day", "kind", name="uq_perf_evaluation"),
    )
    with op.batch_alter_table("perf_evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_perf_evaluations_day"), ["day"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_perf_evaluations_seller_id"), ["seller_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_perf_evaluations_segment"), ["segment"], unique=False)

    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("posted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.seller_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seller_id", "week", name="uq_nudge_week"),
    )
    with op.batch_alter_table("nudges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nudges_seller_id"), ["seller_id"], unique=False)

    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_manager_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("chart_path", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_manager_id", "day", name="uq_digest_day"),
    )
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_digests_account_manager_id"), ["account_manager_id"], unique=False
        )

    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("period_key", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "period_key", name="uq_job_run_period"),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_runs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_status"))
    op.drop_table("job_runs")
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digests_account_manager_id"))
    op.drop_table("digests")
    with op.batch_alter_table("nudges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nudges_seller_id"))
    op.drop_table("nudges")
    with op.batch_alter_table("perf_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_perf_evaluations_segment"))
        batch_op.drop_index(batch_op.f("ix_perf_evaluations_seller_id"))
        batch_op.drop_index(batch_op.f("ix_perf_evaluations_day"))
    op.drop_table("perf_evaluations")
    with op.batch_alter_table("metrics_daily", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metrics_daily_day"))
    op.drop_table("metrics_daily")
    with op.batch_alter_table("sellers", schema=None) as batch_op:
        batch_op.drop_column("nudges_opt_out")
