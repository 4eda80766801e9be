"""slack inbox in its own SQLite file, so an ack never waits on the worker's write transactions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

SQLite only (routing.db.inbox_file): the table moves, with its rows, from the main file to the
`<database>-inbox` file that every connection ATTACHes as `inbox`. SQLite resolves the
unqualified name there, so the model and the queries do not change. PostgreSQL, and a SQLite
database with no inbox file (in memory), keep the table where it is.

The rows are copied and committed before the old table is dropped: a transaction over two
WAL files is not atomic as a whole, and a crash between the two must not lose a delivery.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INBOX = "inbox"  # routing.db.INBOX_SCHEMA; a migration keeps its own copy of what it relies on
COLUMNS = "event_id, body, status, attempts, last_error, received_at, claimed_at, done_at"


def _has_inbox_file() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    return INBOX in {row[1] for row in bind.exec_driver_sql("PRAGMA database_list")}


def _create(schema: str) -> None:
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
        schema=schema,
    )
    op.create_index("ix_slack_inbox_status", "slack_inbox", ["status"], schema=schema)
    op.create_index("ix_slack_inbox_received_at", "slack_inbox", ["received_at"], schema=schema)


def _exists(schema: str) -> bool:
    found = op.get_bind().exec_driver_sql(
        f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = 'slack_inbox'"
    )
    return found.first() is not None


def _move(source: str, target: str) -> None:
    with op.get_context().autocommit_block():  # each statement commits on its own, in order
        if not _exists(target):  # it does when a crash interrupted this move: finish it
            _create(target)
        op.execute(
            f"INSERT OR IGNORE INTO {target}.slack_inbox ({COLUMNS})"
            f" SELECT {COLUMNS} FROM {source}.slack_inbox"
        )
        op.drop_table("slack_inbox", schema=source)


def upgrade() -> None:
    if _has_inbox_file():
        _move("main", INBOX)


def downgrade() -> None:
    if _has_inbox_file():
        _move(INBOX, "main")
