"""`comptoir staff|tickets|sla|report` against a real database, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from routing import tickets
from routing.db import transaction
from routing.models import Question
from tests.routing.helpdesk_fixtures import add_seller, open_ticket

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
COMPTOIR = Path(sys.executable).with_name("comptoir")
Invoke = Callable[..., str]


@pytest.fixture
def cli(migrated_url: str, tmp_path: Path) -> Invoke:
    runner = CliRunner()
    env = {"COMPTOIR_DATABASE_URL": migrated_url, "COMPTOIR_DATA_DIR": str(tmp_path / "data")}

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result.stdout if code == 0 else result.stderr

    return invoke


def _seed(factory: sessionmaker[Session]) -> tuple[int, int]:
    with transaction(factory) as s:
        seller = add_seller(s)
        urgent = open_ticket(s, seller, now=START, level=3, thread_ts="1.1")
        calm = open_ticket(s, seller, now=START, level=2, thread_ts="1.2")
        tickets.do_claim(s, ticket_id=calm.id, user_id="U0AGENT01", now=START)
        s.add(
            Question(
                seller_id="S1",
                channel_id=seller.channel_id,
                message_ts="5.0",
                thread_ts="5.0",
                text="Comment exporter mes factures ?",
                language="fr",
                answered=False,
                created_at=START,
            )
        )
        return urgent.number, calm.number


def test_staff_add_and_list(cli: Invoke, session_factory: sessionmaker[Session]) -> None:
    assert (
        cli("staff", "add", "U0LEAD001", "--role", "lead", "--name", "Léa") == "U0LEAD001 is lead\n"
    )
    cli("staff", "add", "U0AGENT01", "--role", "agent")
    listed = json.loads(cli("staff", "list", "--json"))
    assert listed == [
        {"user_id": "U0AGENT01", "role": "agent", "name": None},
        {"user_id": "U0LEAD001", "role": "lead", "name": "Léa"},
    ]
    assert "role 'boss' is not one of" in cli("staff", "add", "U0X123456", "--role", "boss", code=2)
    assert "not a Slack user id" in cli("staff", "add", "bob", "--role", "agent", code=2)


def test_tickets_list_and_show(cli: Invoke, session_factory: sessionmaker[Session]) -> None:
    urgent, calm = _seed(session_factory)
    listed = json.loads(cli("tickets", "list", "--json"))
    assert [t["number"] for t in listed] == [urgent, calm]
    first = listed[0]
    assert (first["seller_id"], first["level"], first["category"], first["status"]) == (
        "S1",
        3,
        "payout",
        "open",
    )
    assert first["owner_id"] is None and listed[1]["owner_id"] == "U0AGENT01"
    assert first["deadlines"]["first_response"] == (START + timedelta(hours=1)).isoformat()
    claimed = json.loads(cli("tickets", "list", "--status", "claimed", "--json"))
    assert [t["number"] for t in claimed] == [calm]
    assert "status 'closed' is not one of" in cli("tickets", "list", "--status", "closed", code=2)
    text = cli("tickets", "list")
    assert text.splitlines()[0].startswith(f"#{urgent}\tL3\topen\t-\tS1")

    shown = json.loads(cli("tickets", "show", str(calm), "--json"))
    assert [e["kind"] for e in shown["events"]] == ["opened", "claimed"]
    assert shown["events"][1]["actor_id"] == "U0AGENT01"
    assert shown["events"][0]["at"] == START.isoformat()  # JSON: ISO-8601 UTC, for programs
    assert {c["target"] for c in shown["clocks"]} == {"first_response", "resolution"}
    assert "no ticket #9999" in cli("tickets", "show", "9999", code=2)


def test_tickets_show_reads_as_text_in_the_help_desk_timezone(
    cli: Invoke, session_factory: sessionmaker[Session]
) -> None:
    _urgent, calm = _seed(session_factory)
    lines = cli("tickets", "show", str(calm)).splitlines()
    # START is 09:00 UTC, 10:00 in Paris; the Level 2 first response is 4 business hours on
    assert lines[0] == f"Ticket #{calm} · Level 2 · claimed · owner U0AGENT01"
    assert "  opened     2026-03-02 10:00 (Europe/Paris)" in lines
    assert "  summary    Mon virement de mars n'est pas arrivé" in lines
    assert any(
        line.startswith("  first_response  running") and "deadline 2026-03-02 14:00" in line
        for line in lines
    )
    assert lines[-2].startswith("  2026-03-02 10:00  opened by system: level 2; kind problem;")
    assert lines[-1] == "  2026-03-02 10:00  claimed by U0AGENT01"
    text = "\n".join(lines)
    assert "{" not in text and "'" not in text.replace("n'est", "")  # no Python reprs
    assert "+00:00" not in text  # no UTC ISO instants for people to convert


def test_sla_sweep_prints_what_fired_once(
    cli: Invoke, session_factory: sessionmaker[Session]
) -> None:
    urgent, _calm = _seed(session_factory)
    at = (START + timedelta(hours=2)).isoformat()
    fired = json.loads(cli("sla", "sweep", "--now", at, "--json"))
    assert [(a["number"], a["kind"], a["target"]) for a in fired] == [
        (urgent, "breach", "first_response")
    ]
    assert fired[0]["escalate_to"] == ["helpdesk_lead", "account_manager", "head_of_marketplace"]
    assert json.loads(cli("sla", "sweep", "--now", at, "--json")) == []
    assert cli("sla", "sweep", "--now", at).endswith(
        "0 alert(s) fired at 2026-03-02 12:00 (Europe/Paris)\n"
    )
    assert "is not an ISO-8601" in cli("sla", "sweep", "--now", "yesterday", code=2)


def test_report_and_gaps(cli: Invoke, session_factory: sessionmaker[Session]) -> None:
    _seed(session_factory)
    now = (START + timedelta(hours=2)).isoformat()
    cli("sla", "sweep", "--now", now)
    figures = json.loads(cli("report", "--since", "2026-03-01", "--now", now, "--json"))
    assert figures["tickets"] == {"opened": 2, "resolved": 0}
    assert figures["deflection"] == {"questions": 1, "deflected": 0, "rate": 0.0}
    assert {(r["level"], r["target"]): r["total"] for r in figures["sla"]} == {
        (3, "first_response"): 1
    }
    assert figures["open_by_age"]["1-4h"] == 2
    text = cli("report", "--since", "2026-03-01", "--now", now)
    assert "SLA L3 first_response: 0/1 met (0%)" in text
    # staff read the help desk's time, to the minute; a date is its midnight there
    assert text.splitlines()[0] == (
        "Help desk from 2026-03-01 00:00 to 2026-03-02 12:00 (Europe/Paris)"
    )
    gaps = json.loads(
        cli("report", "gaps", "--since", "2026-03-01", "--now", now, "--keywords", "--json")
    )
    assert gaps == {
        "topics": [
            {
                "topic": "exporter facture",
                "count": 1,
                "example": "Comment exporter mes factures ?",
                "question_ids": gaps["topics"][0]["question_ids"],
                "closed_by": [],
            }
        ],
        "saved": [],
    }
    assert "is after now" in cli("report", "--since", "2027-01-01", "--now", now, code=2)


def test_report_times_follow_the_configured_timezone_without_microseconds(
    migrated_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {
        "COMPTOIR_DATABASE_URL": migrated_url,
        "COMPTOIR_DATA_DIR": str(tmp_path / "data"),
        "COMPTOIR_HELPDESK_TIMEZONE": "America/Montreal",
    }
    result = runner.invoke(app, ["report"], env=env)  # now: the wall clock, with microseconds
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0]
    stamp = r"(\d{4}-\d\d-\d\d \d\d:\d\d)"
    found = re.fullmatch(rf"Help desk from {stamp} to {stamp} \(America/Montreal\)", header)
    assert found is not None, header
    montreal = ZoneInfo("America/Montreal")
    shown = datetime.strptime(found[2], "%Y-%m-%d %H:%M").replace(tzinfo=montreal)
    assert abs(datetime.now(UTC) - shown) < timedelta(minutes=5)  # local wall time, not UTC's
    mars = {**env, "COMPTOIR_HELPDESK_TIMEZONE": "Mars/Olympus"}
    bad = runner.invoke(app, ["report"], env=mars)
    assert bad.exit_code == 2
    assert bad.stderr.startswith("comptoir: COMPTOIR_HELPDESK_TIMEZONE: unknown timezone")


def test_a_bad_policy_file_stops_the_sweep_with_one_line_and_nothing_else(
    cli: Invoke, migrated_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "sla.yaml"
    bad.write_text("levels: {3: {first_response: soon}}\n")
    runner = CliRunner()
    env = {
        "COMPTOIR_DATABASE_URL": migrated_url,
        "COMPTOIR_DATA_DIR": str(tmp_path / "data"),
        "COMPTOIR_SLA_POLICY_PATH": str(bad),
    }
    result = runner.invoke(app, ["sla", "sweep"], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"comptoir: COMPTOIR_SLA_POLICY_PATH: {bad}")
    assert len(result.stderr.splitlines()) == 1
    missing = {**env, "COMPTOIR_SLA_POLICY_PATH": str(tmp_path / "nowhere.yaml")}
    result = runner.invoke(app, ["sla", "sweep"], env=missing)
    assert result.exit_code == 2 and "cannot read" in result.stderr
    # read only by the commands that need it: the queue is still there to look at
    assert runner.invoke(app, ["tickets", "list"], env=env).exit_code == 0


def test_the_installed_command_runs_a_sweep(migrated_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env["COMPTOIR_DATABASE_URL"] = migrated_url
    env["COMPTOIR_DATA_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [str(COMPTOIR), "sla", "sweep", "--now", "2026-03-02T09:00:00Z", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_jobs_lists_recorded_runs_newest_first_with_the_last_line_of_an_error(
    cli: Invoke, session_factory: sessionmaker[Session]
) -> None:
    from routing import job_runs

    with transaction(session_factory) as s:
        done = job_runs.claim(
            s, job_id="perf_evaluate", period_key="2026-11-26", owner="a:1", now=START
        )
        assert done is not None
        job_runs.mark_done(s, run_id=done.id, now=START + timedelta(seconds=4))
        failed = job_runs.claim(
            s, job_id="digests", period_key="2026-11-27", owner="a:1", now=START + timedelta(days=1)
        )
        assert failed is not None
        error = "Traceback (most recent call last):\n  ...\nRuntimeError: Slack said no"
        job_runs.mark_failed(s, run_id=failed.id, error=error, now=START + timedelta(days=1))
    lines = cli("jobs").splitlines()
    assert lines[0].split()[:3] == ["digests", "2026-11-27", "failed"]
    assert lines[0].endswith("RuntimeError: Slack said no")
    assert lines[1].split()[:3] == ["perf_evaluate", "2026-11-26", "done"]
    assert lines[1].split()[3:5] == ["2026-03-02", "10:00"]  # START, in the help desk's time
    rows = [json.loads(line) for line in cli("jobs", "--status", "done", "--json").splitlines()]
    assert [(r["job"], r["period"], r["owner"]) for r in rows] == [
        ("perf_evaluate", "2026-11-26", "a:1")
    ]
    assert "--status must be one of" in cli("jobs", "--status", "broken", code=2)
    # a known job with no run says so and is fine; a job that does not exist is a typo
    assert [
        json.loads(r)["job"] for r in cli("jobs", "--job", "digests", "--json").splitlines()
    ] == ["digests"]
    assert "unknown job 'digest'; the jobs are sla_sweep," in cli("jobs", "--job", "digest", code=2)


def test_gaps_show_the_answers_saved_and_what_they_closed(
    cli: Invoke, session_factory: sessionmaker[Session]
) -> None:
    from routing.models import VettedAnswer

    _seed(session_factory)
    with transaction(session_factory) as s:
        s.add(
            VettedAnswer(
                question="Comment exporter les factures ?",
                answer="Menu Finances, puis Factures, puis Exporter.",
                language="fr",
                author_id="U0AGENT01",
                created_at=START + timedelta(minutes=30),
            )
        )
    now = (START + timedelta(hours=2)).isoformat()
    text = cli("report", "gaps", "--since", "2026-03-01", "--now", now, "--keywords")
    [topic, heading, saved] = text.splitlines()
    assert topic.startswith("1\texporter facture\t") and topic.endswith(
        "closed by help-desk answer #1"
    )
    assert heading == "help-desk answers saved in the period:"
    assert saved.startswith("  #1 2026-03-02 10:30 by U0AGENT01: 'Comment exporter les factures ?'")
    assert saved.endswith("closes 1 unanswered question(s); answered 0 since")
