"""Migration 0009 renames the categories revised in issue 10 (shipping and returns are
orders now) in stored tickets and staff re-levels, on SQLite and PostgreSQL, so that
retraining from the re-levels keeps working after the upgrade.

Rows are written and read in SQL: the models follow the newest revision, not 0008's tables."""

from __future__ import annotations

from sqlalchemy import text

from routing import migrate
from routing.classify.data import CATEGORIES, as_example
from routing.db import make_engine, make_sessionmaker, transaction, utcnow
from routing.ticket_queries import relevel_examples


def _categories(url: str, table: str) -> dict[int, str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id, category FROM {table} ORDER BY id")).all()
            return {i: c for i, c in rows}
    finally:
        engine.dispose()


def _insert_tickets(url: str, categories: dict[int, str]) -> None:
    now = utcnow().replace(tzinfo=None)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if not conn.execute(text("SELECT 1 FROM sellers WHERE seller_id = 'S1'")).first():
                conn.execute(
                    text(
                        "INSERT INTO sellers (seller_id, name, channel_id, tier, language,"
                        " created_at, updated_at) VALUES ('S1', 'Seller', 'C1', 'silver', 'fr',"
                        " :now, :now)"
                    ),
                    {"now": now},
                )
            for n, category in categories.items():
                conn.execute(
                    text(
                        "INSERT INTO tickets (id, number, seller_id, channel_id, thread_ts, kind,"
                        " level, category, status, language, summary, confidence, reasons,"
                        " created_at, updated_at) VALUES (:n, :n, 'S1', 'C1', :ts, 'problem', 2,"
                        " :category, 'open', 'fr', :summary, 0.5, '[]', :now, :now)"
                    ),
                    {"n": n, "ts": f"{n}.0", "category": category, "summary": f"t{n}", "now": now},
                )
                conn.execute(
                    text(
                        "INSERT INTO relevel_examples (id, text, kind, level, category, ticket_id,"
                        " by_user, at) VALUES (:n, :summary, 'problem', 2, :category, :n, 'U1',"
                        " :now)"
                    ),
                    {"n": n, "summary": f"t{n}", "category": category, "now": now},
                )
    finally:
        engine.dispose()


def test_old_category_names_become_the_revised_ones_and_back(db_url: str) -> None:
    migrate.upgrade(db_url, "0008")
    _insert_tickets(db_url, {1: "shipping", 2: "returns", 3: "other", 4: "payouts"})

    migrate.upgrade(db_url)
    renamed = {1: "orders", 2: "orders", 3: "other", 4: "payouts"}
    assert _categories(db_url, "tickets") == renamed
    assert _categories(db_url, "relevel_examples") == renamed
    engine = make_engine(db_url)
    try:  # the staff re-levels train again: every category is one the classifier knows
        with transaction(make_sessionmaker(engine)) as s:
            examples = [as_example(row) for row in relevel_examples(s)]
        assert {e.category for e in examples} == {"orders", "other", "payouts"}
        assert all(e.category in CATEGORIES for e in examples)
    finally:
        engine.dispose()

    # a ticket filed under the new category, then back to 0008: compliance was "other" there
    _insert_tickets(db_url, {5: "compliance"})
    migrate.downgrade(db_url, "0008")
    back = {**renamed, 5: "other"}
    assert _categories(db_url, "tickets") == back
    assert _categories(db_url, "relevel_examples") == back
