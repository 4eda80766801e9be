"""Every migration goes up and comes back down, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

from routing import migrate
from routing.db import INBOX_SCHEMA, inbox_file, make_engine


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        if inbox_file(url) is not None:  # SQLite: the inbox has a file of its own
            tables |= set(inspect(engine).get_table_names(schema=INBOX_SCHEMA))
        return tables - {"alembic_version"}
    finally:
        engine.dispose()


def test_each_revision_upgrades_and_downgrades(db_url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(db_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions, "no migrations found"
    seen: list[set[str]] = [_tables(db_url)]
    for rev in revisions:
        migrate.upgrade(db_url, rev)
        assert migrate.current(db_url) == rev
        seen.append(_tables(db_url))
    assert {"sellers", "slack_events", "slack_inbox", "questions", "feedback", "outbox"} <= seen[-1]
    # walk back down one step at a time: each downgrade restores the previous table set
    for i, rev in enumerate(reversed(revisions)):
        target = revisions[-i - 2] if i + 1 < len(revisions) else "base"
        migrate.downgrade(db_url, target)
        assert _tables(db_url) == seen[-i - 2], f"downgrade from {rev} left tables behind"
    assert migrate.current(db_url) is None


def _schema_diff(engine: Engine, *, inbox: bool | None = None) -> list[Any]:
    """The models against the schema of `engine`'s main file; `inbox`: only the inbox table
    (True) or all but it (False), for SQLite where it has a file of its own."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from routing.db import Base

    def include(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        return inbox is None or type_ != "table" or (name == "slack_inbox") == inbox

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    # UTCDateTime is DateTime underneath; ignore pure type-class noise
    return [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]


def test_models_match_migrations(migrated_url: str) -> None:
    """The ORM models and the migrated schema agree (no forgotten migration)."""
    inbox = inbox_file(migrated_url)
    if inbox is None:
        assert _schema_diff(make_engine(migrated_url)) == []
        return
    assert _schema_diff(make_engine(migrated_url), inbox=False) == []
    assert _schema_diff(create_engine(f"sqlite:///{inbox}"), inbox=True) == []
