"""inbox lease per row: a claim records until when it holds its delivery

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

A working delivery was taken over once its `claimed_at` was older than the *claiming* worker's
lease, so a worker with a short lease took the live claims of one with a long lease (workers of
one database configured apart, or during a rolling change of COMPTOIR_INBOX_LEASE_SECONDS).
The owner now writes `lease_until` at claim and at every renewal. Rows claimed before this
revision have none and keep the old rule until they are claimed again.

On SQLite the table lives in the attached inbox file when there is one (revision 0005).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INBOX = "inbox"  # routing.db.INBOX_SCHEMA; a migration keeps its own copy of what it relies on


def _schema() -> str | None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return None
    attached = {row[1] for row in bind.exec_driver_sql("PRAGMA database_list")}
    return INBOX if INBOX in attached else None


def upgrade() -> None:
    op.add_column(
        "slack_inbox", sa.Column("lease_until", sa.DateTime(), nullable=True), schema=_schema()
    )


def downgrade() -> None:
    op.drop_column("slack_inbox", "lease_until", schema=_schema())
