"""vetted answers: help-desk replies saved by staff, answered to the next seller who asks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

A staff reply in a seller's thread, edited in a modal to remove what was that seller's own, is
kept here with the question it answers. The answer index (knowledge.vetted) is rebuilt from
these rows; a retired row (retired_at set) is no longer in it. The source channel, thread and
message are kept for audit only: they are never shown to another seller.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vetted_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("guideline_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.Column("source_question_id", sa.Integer(), nullable=True),
        sa.Column("source_channel_id", sa.String(length=32), nullable=True),
        sa.Column("source_thread_ts", sa.String(length=32), nullable=True),
        sa.Column("source_message_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["source_question_id"], ["questions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vetted_answers_created_at", "vetted_answers", ["created_at"])
    op.create_index("ix_vetted_answers_retired_at", "vetted_answers", ["retired_at"])


def downgrade() -> None:
    op.drop_index("ix_vetted_answers_retired_at", table_name="vetted_answers")
    op.drop_index("ix_vetted_answers_created_at", table_name="vetted_answers")
    op.drop_table("vetted_answers")
