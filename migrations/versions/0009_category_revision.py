"""categories revised (issue 10): shipping and returns become orders; compliance is new

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

The classifier's categories were revised on real seller messages (routing/classify/data.py):
"shipping" and "returns" are now part of "orders" (an order's life after the sale), and
"compliance" (authorities, lawyers, recalls, legal obligations) is new. Tickets and staff
re-levels stored under the old names are renamed, so that retraining from the re-levels
(`comptoir classifier train`) and the reports see one name per category. Ticket events keep
the names they were written with: they record what was said at the time.

Downgrade: "compliance" goes back to "other" (where legal threats were filed before);
"orders" stays "orders", so which tickets were "shipping" or "returns" is not restored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# a migration keeps its own copy of what it relies on (routing.classify.data.CATEGORY_ALIASES)
RENAMED = {"shipping": "orders", "returns": "orders"}
RENAMED_BACK = {"compliance": "other"}
TABLES = ("tickets", "relevel_examples")


def _rename(mapping: dict[str, str]) -> None:
    for table in TABLES:
        t = sa.table(table, sa.column("category", sa.String(64)))
        for old, new in mapping.items():
            op.execute(t.update().where(t.c.category == old).values(category=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename(RENAMED_BACK)
