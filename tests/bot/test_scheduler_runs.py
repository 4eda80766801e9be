"""Periodic jobs: period keys, catch-up after downtime, restarts, failures, races — with
explicit `now` values; the database is real (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.listeners.deps import Deps
from bot.outbox import Outbox
from bot.scheduler import (
    CATCH_UP,
    SLA_SWEEP,
    Deferred,
    Job,
    Period,
    Rule,
    build_scheduler,
    catch_up,
    cron_of,
    run_due,
    schedule_for,
)
from routing import job_runs
from routing.db import make_engine, make_sessionmaker, transaction
from routing.performance.config import load_perf_config
from routing.sla_policy import load_policy
from tests.bot.conftest import default_answerer

ROOT = Path(__file__).resolve().parents[2]
PARIS = "Europe/Paris"
WEEKDAYS = frozenset(range(5))
DIGESTS = Rule(at=time(8, 30), timezone=PARIS, weekdays=WEEKDAYS, business_days=True)
NUDGES = Rule(at=time(9, 30), timezone=PARIS, weekdays=frozenset({0}), period="week")
DAILY = Rule(at=time(6, 0), timezone=PARIS)
# the table with the packaged performance file, passed in as bot.wiring passes the operator's
SCHEDULE = schedule_for(load_perf_config(None))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- pure: periods, keys, DST, business days ----


def test_weekly_key_is_the_iso_week_of_the_paris_date_not_the_utc_one() -> None:
    # Sunday 29 Nov 2026 23:30 UTC is already Monday 00:30 in Paris: a new week
    assert NUDGES.key(date(2026, 11, 29)) == "2026-W48"
    assert NUDGES.key(date(2026, 11, 30)) == "2026-W49"
    sunday_night = utc(2026, 11, 29, 22, 30)  # 23:30 in Paris
    monday_early = utc(2026, 11, 29, 23, 30)  # 00:30 Monday in Paris
    assert NUDGES.latest_due(sunday_night) == NUDGES.latest_due(monday_early)  # W48's Monday
    monday_run = NUDGES.latest_due(utc(2026, 11, 30, 8, 30))  # 09:30 Paris (CET)
    assert monday_run == Period(
        key="2026-W49", day=date(2026, 11, 30), due_at=utc(2026, 11, 30, 8, 30)
    )
    # ISO years: 31 Dec 2026 and 1 Jan 2027 are in 2026-W53; 4 Jan 2027 opens 2027-W01
    assert NUDGES.key(date(2026, 12, 31)) == NUDGES.key(date(2027, 1, 1)) == "2026-W53"
    assert NUDGES.key(date(2027, 1, 4)) == "2027-W01"
    # a daily key is the Paris date: 23:30 UTC on 27 Nov is 00:30 on the 28th in Paris
    just_after_midnight = Rule(at=time(0, 15), timezone=PARIS)
    assert just_after_midnight.latest_due(utc(2026, 11, 27, 23, 30)).key == "2026-11-28"  # type: ignore[union-attr]
    assert DAILY.latest_due(utc(2026, 11, 28, 4, 59)).key == "2026-11-27"  # type: ignore[union-attr]
    assert DAILY.latest_due(utc(2026, 11, 28, 5, 0)).key == "2026-11-28"  # type: ignore[union-attr]


def test_due_instants_follow_paris_daylight_saving() -> None:
    # 08:30 in Paris is 07:30 UTC in winter, 06:30 UTC in summer (change on 29 March 2026)
    assert DIGESTS.due_at(date(2026, 3, 27)) == utc(2026, 3, 27, 7, 30)
    assert DIGESTS.due_at(date(2026, 3, 30)) == utc(2026, 3, 30, 6, 30)
    assert DIGESTS.due_at(date(2026, 10, 23)) == utc(2026, 10, 23, 6, 30)
    assert DIGESTS.due_at(date(2026, 10, 26)) == utc(2026, 10, 26, 7, 30)
    # 07:00 UTC on Monday 30 March is 09:00 in Paris: today's digest is due
    assert DIGESTS.latest_due(utc(2026, 3, 30, 7, 0)).key == "2026-03-30"  # type: ignore[union-attr]
    # 07:00 UTC on Monday 26 October is 08:00 in Paris: not yet, the latest is Friday's
    assert DIGESTS.latest_due(utc(2026, 10, 26, 7, 0)).key == "2026-10-23"  # type: ignore[union-attr]
    # the daily 06:00 on the night the clocks go forward exists and is 04:00 UTC
    assert DAILY.due_at(date(2026, 3, 29)) == utc(2026, 3, 29, 4, 0)


def test_digests_skip_weekends_and_french_public_holidays() -> None:
    assert not DIGESTS.runs_on(date(2026, 11, 28))  # Saturday
    assert not DIGESTS.runs_on(date(2026, 11, 29))  # Sunday
    assert not DIGESTS.runs_on(date(2026, 11, 11))  # Wednesday, Armistice
    assert not DIGESTS.runs_on(date(2026, 4, 6))  # Easter Monday
    assert DIGESTS.runs_on(date(2026, 11, 27))  # a Friday
    # on Sunday the latest due digest is Friday's, not the weekend's
    assert DIGESTS.latest_due(utc(2026, 11, 29, 12)).key == "2026-11-27"  # type: ignore[union-attr]
    # Easter Monday 2026, after 08:30: still Friday 3 April's (Good Friday is worked in France)
    assert DIGESTS.latest_due(utc(2026, 4, 6, 12)).key == "2026-04-03"  # type: ignore[union-attr]
    # Thursday 12 November after 08:30: the 12th; before: Tuesday the 10th (the 11th is off)
    assert DIGESTS.latest_due(utc(2026, 11, 12, 8)).key == "2026-11-12"  # type: ignore[union-attr]
    assert DIGESTS.latest_due(utc(2026, 11, 12, 7)).key == "2026-11-10"  # type: ignore[union-attr]
    # APScheduler's trigger fires Monday to Friday only, at 08:30 Paris
    trigger = cron_of(DIGESTS)
    fire = trigger.get_next_fire_time(None, utc(2026, 11, 27, 8))
    assert fire == utc(2026, 11, 30, 7, 30)  # Friday 09:00 Paris → Monday 08:30
    # …and keeps 08:30 Paris across the spring change: 07:30 UTC on Friday, 06:30 on Monday
    assert trigger.get_next_fire_time(None, utc(2026, 3, 27, 7)) == utc(2026, 3, 27, 7, 30)
    assert trigger.get_next_fire_time(None, utc(2026, 3, 27, 8)) == utc(2026, 3, 30, 6, 30)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        DIGESTS.latest_due(datetime(2026, 11, 27, 9))  # noqa: DTZ001


# ---- with a database ----


def make_deps(factory: sessionmaker[Session]) -> Deps:
    unused = WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/api/")
    return Deps(
        session_factory=factory,
        answerer=default_answerer(),
        outbox=Outbox(factory, unused),
        policy=load_policy(None),
        helpdesk_timezone=PARIS,
        staff_language="fr",
    )


class Recorder:
    """A job that records the periods it ran for, and can be told to fail."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, datetime]] = []
        self.fail_next = 0

    def __call__(self, deps: Deps, period: Period, now: datetime) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("the digest builder broke")
        self.ran.append((period.key, now))


def digest_job(rec: Recorder, *, grace: int | None = 10 * 3600) -> Job:
    return Job(id="digests", func=rec, rule=DIGESTS, misfire_grace_time=grace)


def rows(
    factory: sessionmaker[Session], job_id: str = "digests"
) -> list[tuple[str, str, str | None]]:
    with factory() as s:
        return [
            (r.period_key, r.status, r.error)
            for r in sorted(job_runs.list_runs(s, job_id=job_id), key=lambda r: r.period_key)
        ]


def test_a_period_runs_once_and_a_restart_does_not_run_it_again(migrated_url: str) -> None:
    rec = Recorder()
    job = digest_job(rec)
    friday_0831 = utc(2026, 11, 27, 7, 31)
    engine = make_engine(migrated_url)
    deps = make_deps(make_sessionmaker(engine))
    assert run_due(deps, job, now=friday_0831, owner="a:1") == "done"
    assert run_due(deps, job, now=friday_0831 + timedelta(minutes=5), owner="a:1") == "taken"
    engine.dispose()
    # a new process (new engine, new scheduler) over the same database, later the same day
    engine = make_engine(migrated_url)
    deps = make_deps(make_sessionmaker(engine))
    assert catch_up(deps, (job,), now=utc(2026, 11, 27, 15), owner="b:2") == {"digests": "taken"}
    assert rec.ran == [("2026-11-27", friday_0831)]
    with deps.session_factory() as s:
        (run,) = job_runs.list_runs(s)
        assert (run.status, run.owner, run.started_at) == ("done", "a:1", friday_0831)
        assert run.finished_at is not None and run.finished_at >= friday_0831
    engine.dispose()


def test_a_run_missed_while_down_happens_once_late_on_start(
    session_factory: sessionmaker[Session],
) -> None:
    rec = Recorder()
    job = digest_job(rec)
    deps = make_deps(session_factory)
    assert run_due(deps, job, now=utc(2026, 11, 26, 7, 30), owner="a:1") == "done"  # Thursday
    # down from Thursday noon to Friday 11:00 Paris: Friday's 08:30 was missed
    start = utc(2026, 11, 27, 10)
    assert catch_up(deps, (job,), now=start, owner="a:1") == {"digests": "done"}
    assert catch_up(deps, (job,), now=start + timedelta(minutes=5), owner="a:1") == {
        "digests": "taken"
    }
    # the weekend: nothing new is due; Monday 08:30 runs Monday's
    assert catch_up(deps, (job,), now=utc(2026, 11, 29, 12), owner="a:1") == {"digests": "taken"}
    assert run_due(deps, job, now=utc(2026, 11, 30, 7, 30), owner="a:1") == "done"
    assert [key for key, _ in rec.ran] == ["2026-11-26", "2026-11-27", "2026-11-30"]
    assert rec.ran[1][1] == start  # late, once


def test_days_missed_while_down_are_evaluated_oldest_first_but_not_before_the_first_run(
    session_factory: sessionmaker[Session],
) -> None:
    rec = Recorder()
    job = Job(id="perf_evaluate", func=rec, rule=DAILY, backfill_days=7)
    deps = make_deps(session_factory)
    # a new install on Tuesday: today's evaluation only, not a week of empty days
    assert catch_up(deps, (job,), now=utc(2026, 11, 24, 9), owner="a:1") == {
        "perf_evaluate": "done"
    }
    # down from Tuesday noon to Friday 10:00 Paris: Wednesday and Thursday never ran
    start = utc(2026, 11, 27, 9)
    assert catch_up(deps, (job,), now=start, owner="a:1") == {"perf_evaluate": "done"}
    assert [key for key, _ in rec.ran] == ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert catch_up(deps, (job,), now=start + timedelta(minutes=5), owner="b:2") == {
        "perf_evaluate": "taken"
    }
    assert len(rec.ran) == 4
    assert [(k, st) for k, st, _ in rows(session_factory, "perf_evaluate")] == [
        ("2026-11-24", "done"),
        ("2026-11-25", "done"),
        ("2026-11-26", "done"),
        ("2026-11-27", "done"),
    ]


def test_a_job_without_backfill_catches_up_its_latest_period_only(
    session_factory: sessionmaker[Session],
) -> None:
    rec = Recorder()
    deps = make_deps(session_factory)
    job = digest_job(rec, grace=None)
    assert run_due(deps, job, now=utc(2026, 11, 23, 7, 30), owner="a:1") == "done"  # Monday
    assert catch_up(deps, (job,), now=utc(2026, 11, 27, 10), owner="a:1") == {"digests": "done"}
    assert [key for key, _ in rec.ran] == ["2026-11-23", "2026-11-27"]


def test_due_after_lists_the_periods_after_a_key_within_the_window() -> None:
    now = utc(2026, 11, 27, 9)  # Friday 10:00 Paris
    keys = [p.key for p in DIGESTS.due_after("2026-11-20", now, days=7)]
    assert keys == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert [p.key for p in DIGESTS.due_after("2026-11-25", now, days=7)] == [
        "2026-11-26",
        "2026-11-27",
    ]
    assert [p.key for p in DAILY.due_after("2026-01-01", now, days=2)] == [
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
    ]
    assert [p.key for p in NUDGES.due_after("2026-W46", now, days=14)] == ["2026-W47", "2026-W48"]


def test_the_trigger_firing_on_a_holiday_runs_nothing_new(
    session_factory: sessionmaker[Session],
) -> None:
    rec = Recorder()
    deps = make_deps(session_factory)
    assert run_due(deps, digest_job(rec), now=utc(2026, 11, 10, 7, 30), owner="a:1") == "done"
    # Wednesday 11 November: the Monday-to-Friday trigger fires, the rule says "not today"
    assert run_due(deps, digest_job(rec), now=utc(2026, 11, 11, 7, 30), owner="a:1") == "taken"
    assert run_due(deps, digest_job(rec), now=utc(2026, 11, 12, 7, 30), owner="a:1") == "done"
    assert [key for key, _ in rec.ran] == ["2026-11-10", "2026-11-12"]
    assert [key for key, _, _ in rows(session_factory)] == ["2026-11-10", "2026-11-12"]


def test_a_run_too_late_for_its_grace_is_recorded_as_missed_not_run(
    session_factory: sessionmaker[Session],
) -> None:
    rec = Recorder()
    job = digest_job(rec, grace=3600)  # a digest read after 09:30 is not worth sending late
    deps = make_deps(session_factory)
    assert run_due(deps, job, now=utc(2026, 11, 27, 9), owner="a:1") == "missed"  # 10:00 Paris
    assert run_due(deps, job, now=utc(2026, 11, 27, 9, 5), owner="a:1") == "taken"
    assert rec.ran == []
    ((key, status, error),) = rows(session_factory)
    assert (key, status) == ("2026-11-27", "failed")
    assert error is not None and error.startswith("missed: due 2026-11-27T07:30:00+00:00")


def test_a_failed_run_is_recorded_with_its_error_and_retried_at_the_next_tick(
    session_factory: sessionmaker[Session],
) -> None:
    rec = Recorder()
    rec.fail_next = 1
    job = digest_job(rec)
    deps = make_deps(session_factory)
    at = utc(2026, 11, 27, 7, 30)
    assert run_due(deps, job, now=at, owner="a:1") == "failed"
    ((_, status, error),) = rows(session_factory)
    assert status == "failed" and error is not None and "the digest builder broke" in error
    # a failure is not retried in a tight loop: within 5 minutes the period is left alone
    assert catch_up(deps, (job,), now=at + timedelta(minutes=2), owner="a:1") == {
        "digests": "taken"
    }
    # the next catch-up tick after that retries it, once
    assert catch_up(deps, (job,), now=at + timedelta(minutes=6), owner="a:1") == {"digests": "done"}
    assert catch_up(deps, (job,), now=at + timedelta(minutes=12), owner="a:1") == {
        "digests": "taken"
    }
    assert rows(session_factory) == [("2026-11-27", "done", None)]
    assert rec.ran == [("2026-11-27", at + timedelta(minutes=6))]


def test_a_run_left_running_by_a_dead_process_is_taken_over_once_stale(
    session_factory: sessionmaker[Session],
) -> None:
    at = utc(2026, 11, 27, 7, 30)
    with transaction(session_factory) as s:  # a process claimed it, then was killed
        assert job_runs.claim(s, job_id="digests", period_key="2026-11-27", owner="dead:9", now=at)
    rec = Recorder()
    deps = make_deps(session_factory)
    assert run_due(deps, digest_job(rec), now=at + timedelta(hours=1), owner="b:2") == "taken"
    assert run_due(deps, digest_job(rec), now=at + timedelta(hours=2), owner="b:2") == "done"
    with session_factory() as s:
        (run,) = job_runs.list_runs(s)
        assert (run.owner, run.status) == ("b:2", "done")


def test_claim_rejects_bad_input(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        with pytest.raises(ValueError, match="naive"):
            job_runs.claim(s, job_id="x", period_key="p", owner="a", now=datetime(2026, 1, 1))  # noqa: DTZ001
        with pytest.raises(ValueError, match="non-empty"):
            job_runs.claim(s, job_id="x", period_key="", owner="a", now=utc(2026, 1, 1))
        with pytest.raises(ValueError, match="status"):
            job_runs.list_runs(s, status="finished")
    with pytest.raises(ValueError, match="no rule"):
        run_due(make_deps(session_factory), SLA_SWEEP, now=utc(2026, 1, 1))


# ---- the table, as APScheduler runs it ----


def test_the_table_has_every_job_at_the_configured_times_coalesced_never_overlapping(
    session_factory: sessionmaker[Session],
) -> None:
    assert [job.id for job in SCHEDULE] == [
        "sla_sweep",
        "catch_up",
        "inbox_purge",
        "perf_evaluate",
        "nudges",
        "digests",
    ]
    scheduler = build_scheduler(make_deps(session_factory), SCHEDULE)
    try:
        scheduler.start(paused=True)
        for job in SCHEDULE:
            aps = scheduler.get_job(job.id)
            assert aps.coalesce is True and aps.max_instances == 1
            assert aps.misfire_grace_time == job.misfire_grace_time
        assert scheduler.get_job("sla_sweep").trigger.interval == timedelta(minutes=1)
        assert scheduler.get_job("catch_up").trigger.interval == timedelta(minutes=5)

        def next_fire(job_id: str, after: datetime) -> datetime:
            fire = scheduler.get_job(job_id).trigger.get_next_fire_time(None, after)
            return fire.astimezone(UTC)

        friday_noon = utc(2026, 11, 27, 11)
        # routing/performance/defaults.yaml: evaluation 07:00, nudges Monday 09:30,
        # digests 08:30 on business days, all Europe/Paris (CET: UTC+1 in November)
        assert next_fire("perf_evaluate", friday_noon) == utc(2026, 11, 28, 6)  # Saturday too
        assert next_fire("nudges", friday_noon) == utc(2026, 11, 30, 8, 30)
        assert next_fire("digests", friday_noon) == utc(2026, 11, 30, 7, 30)  # not the weekend
    finally:
        scheduler.shutdown(wait=False)
    grace = {job.id: job.misfire_grace_time for job in SCHEDULE}
    assert grace == {
        "sla_sweep": None,
        "catch_up": None,
        "inbox_purge": None,
        "perf_evaluate": None,
        "nudges": 8 * 3600,
        "digests": 10 * 3600,
    }


def test_a_deferred_run_stays_undone_and_runs_at_the_next_tick_after(
    session_factory: sessionmaker[Session],
) -> None:
    quiet = [True]
    ran: list[datetime] = []

    def nudges(deps: Deps, period: Period, now: datetime) -> None:
        if quiet[0]:
            raise Deferred("quiet hours")
        ran.append(now)

    job = Job(
        id="nudges", func=nudges, rule=Rule(at=time(9, 30), weekdays=frozenset({0}), period="week")
    )
    deps = make_deps(session_factory)
    monday = utc(2026, 11, 30, 8, 30)
    assert run_due(deps, job, now=monday, owner="a:1") == "deferred"
    assert rows(session_factory, "nudges") == [("2026-W49", "failed", "deferred: quiet hours")]
    quiet[0] = False
    assert run_due(deps, job, now=monday + timedelta(minutes=10), owner="a:1") == "done"
    assert ran == [monday + timedelta(minutes=10)]


def test_the_scheduler_runs_catch_up_through_apscheduler(
    session_factory: sessionmaker[Session],
) -> None:
    """Started for real: the catch_up entry of the table runs the missed period at once."""
    rec = Recorder()
    now = utc(2026, 11, 27, 10)
    deps = make_deps(session_factory)
    deps.clock = lambda: now
    scheduler = build_scheduler(deps, (CATCH_UP, digest_job(rec)), owner="a:1")
    scheduler.start(paused=True)
    try:
        scheduler.modify_job("catch_up", next_run_time=datetime.now(UTC))
        scheduler.resume()
        _poll(lambda: rows(session_factory) == [("2026-11-27", "done", None)])
    finally:
        scheduler.shutdown(wait=True)
    assert rec.ran == [("2026-11-27", now)]


def _poll(check: Callable[[], Any], timeout: float = 10.0) -> None:
    import time as _time

    deadline = _time.monotonic() + timeout
    while not check():
        assert _time.monotonic() < deadline, "timed out"
        _time.sleep(0.05)


# ---- two real processes racing for the same periods ----

RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from datetime import UTC, datetime
    from routing import job_runs
    from routing.db import make_engine, make_sessionmaker, transaction
    url, go, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    factory = make_sessionmaker(make_engine(url))
    now = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    while not go.exists():
        time.sleep(0.01)
    for i in range(40):
        key = f"2026-11-{i:02d}"
        with transaction(factory) as s:
            run = job_runs.claim(s, job_id="digests", period_key=key, owner=name, now=now)
        if run is not None:
            print("ran", key, flush=True)  # the job's work, then:
            with transaction(factory) as s:
                job_runs.mark_done(s, run_id=run.id, now=now)
    """
)


def test_two_processes_racing_for_the_same_periods_run_each_once(
    migrated_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, migrated_url, str(go), f"p{n}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    go.touch()  # both start claiming at the same moment
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outs.append(out.split("\n"))
    ran = [line for out in outs for line in out if line.startswith("ran")]
    assert sorted(ran) == sorted(f"ran 2026-11-{i:02d}" for i in range(40))  # each once
    engine = make_engine(migrated_url)
    with make_sessionmaker(engine)() as s:
        runs = job_runs.list_runs(s, limit=100)
        assert len(runs) == 40 and {r.status for r in runs} == {"done"}
        owners = {r.owner for r in runs}
    engine.dispose()
    assert owners <= {"p1", "p2"}


# ---- the performance jobs of the table, on sample data ----


def test_the_performance_jobs_run_once_each_in_order_from_the_table(
    session_factory: sessionmaker[Session], tmp_path: Path, sample_kb: Any
) -> None:
    from bot.slack_standin import SlackStandin
    from routing.models import Digest, Nudge, PerfEvaluation
    from routing.performance.metrics_import import import_metrics_csv
    from routing.performance.sample import write_sample
    from routing.sellers import do_import_directory, read_directory_csv

    monday = date(2026, 11, 30)
    write_sample(tmp_path, sellers=30, days=60, end=monday)
    now = utc(2026, 11, 30, 9)  # 10:00 in Paris: after all three were due, the server was down
    with transaction(session_factory) as s:
        do_import_directory(s, read_directory_csv(tmp_path / "sellers.csv"))
        import_metrics_csv(s, path=tmp_path / "metrics.csv", now=now)
    with SlackStandin() as slack:
        client = WebClient(token=slack.token, base_url=slack.url, timeout=5, retry_handlers=[])
        deps = Deps(
            session_factory=session_factory,
            answerer=sample_kb,
            outbox=Outbox(session_factory, client),
            policy=load_policy(None),
            helpdesk_timezone=PARIS,
            staff_language="fr",
        )
        outcome = catch_up(deps, SCHEDULE, now=now, owner="a:1")
        assert outcome == {"perf_evaluate": "done", "nudges": "done", "digests": "done"}
        assert catch_up(deps, SCHEDULE, now=now + timedelta(minutes=5), owner="b:2") == {
            "perf_evaluate": "taken",
            "nudges": "taken",
            "digests": "taken",
        }
    assert {(k, st) for k, st, _ in rows(session_factory, "perf_evaluate")} == {
        ("2026-11-30", "done")
    }
    assert [(k, st) for k, st, _ in rows(session_factory, "nudges")] == [("2026-W49", "done")]
    with session_factory() as s:
        evaluated = s.scalars(
            select(PerfEvaluation.seller_id).where(PerfEvaluation.day == monday)
        ).all()
        nudged = s.scalars(select(Nudge.seller_id)).all()
        digests = s.scalars(select(Digest.account_manager_id)).all()
    assert len(set(evaluated)) == 30  # every seller evaluated for the day (daily + weekly rows)
    assert nudged and len(nudged) == len(set(nudged))  # someone to nudge, each once
    assert digests and len(digests) == len(set(digests))
