"""Exit codes that say what happened (0 done, 1 done with rejected items, 2 nothing done
because the input was wrong) for the previews: an unknown seller or account manager is a
wrong input, not an empty week. On both databases, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from routing.db import transaction
from tests.performance.perf_rows import add_seller

MONDAY = "2026-11-30"


@pytest.fixture
def invoke(session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The command against a directory of two sellers of U0AMALICE, one opted out of nudges."""
    from bot.cli import app

    with transaction(session_factory) as session:
        add_seller(session, "lea", name="Boutique Léa")
        add_seller(session, "quiet", name="Quiet Shop", opt_out=True)
    env = {"COMPTOIR_DATABASE_URL": migrated_url, "COMPTOIR_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    return run


def test_nudges_preview_of_an_unknown_seller_is_a_wrong_input(invoke) -> None:  # type: ignore[no-untyped-def]
    for extra in ([], ["--json"]):
        out = invoke("nudges", "preview", "--seller", "NOPE", "--date", MONDAY, *extra)
        assert out.exit_code == 2, out.output
        assert out.stdout == "" and "unknown seller NOPE" in out.stderr
        assert len(out.stderr.splitlines()) == 1


def test_nudges_preview_of_a_known_seller_with_nothing_to_post_says_so(invoke) -> None:  # type: ignore[no-untyped-def]
    out = invoke("nudges", "preview", "--seller", "lea", "--date", MONDAY)
    assert out.exit_code == 0, out.output
    assert "no nudge to post to lea for the week of 2026-11-30" in out.stdout
    quiet = invoke("nudges", "preview", "--seller", "quiet", "--date", MONDAY)
    assert quiet.exit_code == 0 and "quiet has opted out of nudges" in quiet.stdout
    as_json = invoke("nudges", "preview", "--seller", "lea", "--date", MONDAY, "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []
    everyone = invoke("nudges", "preview", "--date", MONDAY)
    assert everyone.exit_code == 0 and "no nudge to post for the week of" in everyone.stdout


def test_digests_preview_of_an_unknown_account_manager_is_a_wrong_input(invoke) -> None:  # type: ignore[no-untyped-def]
    for extra in ([], ["--json"]):
        out = invoke("digests", "preview", "--am", "NOBODY", "--date", MONDAY, *extra)
        assert out.exit_code == 2, out.output
        assert out.stdout == ""
        assert "no account manager NOBODY in the seller directory" in out.stderr
    known = invoke("digests", "preview", "--am", "U0AMALICE", "--date", MONDAY, "--json")
    assert known.exit_code == 0, known.output
    assert json.loads(known.stdout)["digest"]["account_manager_id"] == "U0AMALICE"
    bad_day = invoke("digests", "preview", "--am", "NOBODY", "--date", "30/11/2026")
    assert bad_day.exit_code == 2 and "is not a date" in bad_day.stderr


def test_db_commands_on_a_fresh_data_dir_and_an_unknown_revision(
    db_url: str, tmp_path: Path
) -> None:
    from bot.cli import app

    fresh = {"COMPTOIR_DATA_DIR": str(tmp_path / "fresh" / "data")}  # no folder yet
    out = CliRunner().invoke(app, ["db", "current"], env=fresh)
    assert out.exit_code == 0 and out.stdout == "empty\n", out.output  # was a traceback
    env = {"COMPTOIR_DATABASE_URL": db_url, "COMPTOIR_DATA_DIR": str(tmp_path / "data")}
    for command in ("upgrade", "downgrade"):
        bad = CliRunner().invoke(app, ["db", command, "nosuchrev"], env=env)
        assert bad.exit_code == 2, bad.output  # was a traceback
        assert bad.stderr.startswith("comptoir: Can't locate revision identified by 'nosuchrev'")
        assert len(bad.stderr.splitlines()) == 1 and bad.stdout == ""
    up = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert up.exit_code == 0 and up.stdout.startswith("database at revision 0")
    down = CliRunner().invoke(app, ["db", "downgrade", "base"], env=env)
    assert down.exit_code == 0 and down.stdout == "database at revision empty\n"
