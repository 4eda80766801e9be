"""Leadership: one scheduler acts at a time, and a dead leader's place is taken.

The last test runs two real `comptoir serve` processes on one PostgreSQL database (each with
its worker, which runs the schedule) and kills the leader's serve with SIGKILL."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.cli.worker import STOP_GRACE_SECONDS
from bot.slack_standin import SlackStandin
from routing import migrate
from routing.leader import (
    Campaign,
    FileLockLeader,
    PostgresLeader,
    SoleLeader,
    _lock_key,
    make_leader,
)

ROOT = Path(__file__).resolve().parent.parent
COMPTOIR = Path(sys.executable).with_name("comptoir")


def _terminate_lock_holders(url: str, key: int) -> int:
    """What a crash or a network cut does to the leader's session: the server ends it."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'"
                " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :k"
                # advisory locks are per database: another Comptoir on this server leads its own
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"k": key},
        ).scalar()
    engine.dispose()
    return int(n or 0)


@pytest.mark.parametrize("name", ["comptoir.scheduler", "a"])  # a positive and a negative key
def test_postgres_advisory_lock_has_one_holder_and_passes_on(postgres_url: str, name: str) -> None:
    assert (_lock_key(name) < 0) == (name == "a")
    first, second = PostgresLeader(postgres_url, name=name), PostgresLeader(postgres_url, name=name)
    try:
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire() and not second.still_held()
        # the server drops a vanished leader's session (and lock) within ~25 s, not hours
        assert first._conn is not None
        assert first._conn.execute(text("SHOW tcp_keepalives_idle")).scalar() == "10"
        assert first.try_acquire()  # asking again while leading is harmless
        # the holder's session is killed: it notices, and the lock is free for the other
        assert _terminate_lock_holders(postgres_url, first.key) == 1
        assert not first.still_held()
        assert second.try_acquire()
        assert not first.try_acquire()
        second.release()
        assert first.try_acquire()
    finally:
        first.release()
        second.release()


def test_file_lock_leads_sqlite_processes_on_one_machine(tmp_path: Path) -> None:
    db = tmp_path / "comptoir.db"
    first = make_leader(f"sqlite:///{db}")
    second = make_leader(f"sqlite:///{db}")
    assert isinstance(first, FileLockLeader)
    assert first.path == tmp_path / "comptoir.db.comptoir.scheduler.lock"
    assert first.try_acquire() and not second.try_acquire()
    first.release()
    assert second.try_acquire() and second.still_held()
    second.release()
    # a process holding it and killed: the kernel drops the lock
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from routing.leader import make_leader;"
            "lead = make_leader(sys.argv[1]); assert lead.try_acquire(); print('held', flush=True);"
            "time.sleep(60)",
            f"sqlite:///{db}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not first.try_acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert first.try_acquire()
    first.release()


def test_make_leader_by_url() -> None:
    assert isinstance(make_leader("sqlite://"), SoleLeader)  # in memory: one process
    assert isinstance(make_leader("sqlite:///:memory:"), SoleLeader)
    with pytest.raises(ValueError, match="mysql"):
        make_leader("mysql://u@h/db")


class Calls:
    def __init__(self, *, fail_elected: bool = False) -> None:
        self.events: list[str] = []
        self.fail_elected = fail_elected

    def elected(self) -> None:
        self.events.append("elected")
        if self.fail_elected:
            raise RuntimeError("scheduler would not start")

    def lost(self) -> None:
        self.events.append("lost")


def test_campaign_elects_once_steps_down_when_the_lock_goes_and_campaigns_again(
    postgres_url: str,
) -> None:
    a_calls, b_calls = Calls(), Calls()
    a = Campaign(PostgresLeader(postgres_url), on_elected=a_calls.elected, on_lost=a_calls.lost)
    b = Campaign(PostgresLeader(postgres_url), on_elected=b_calls.elected, on_lost=b_calls.lost)
    try:
        assert a.step() and not b.step()
        assert a.step() and not b.step()  # rounds while leading elect nobody again
        assert a_calls.events == ["elected"] and b_calls.events == []
        _terminate_lock_holders(postgres_url, _lock_key("comptoir.scheduler"))
        assert not a.step()  # it notices at its next round and stops its scheduler
        assert b.step()
        assert a_calls.events == ["elected", "lost"] and b_calls.events == ["elected"]
        b.stop()  # a clean stop steps down and frees the lock at once
        assert b_calls.events == ["elected", "lost"]
        assert a.step()
    finally:
        a.stop()
        b.stop()


def test_a_leader_whose_start_fails_gives_the_lock_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    broken = Campaign(make_leader(url), on_elected=Calls(fail_elected=True).elected, on_lost=print)
    assert not broken.step()
    other = Campaign(make_leader(url), on_elected=Calls().elected, on_lost=print)
    assert other.step()  # not stuck behind a process that holds the lock but runs nothing
    other.stop()
    with pytest.raises(ValueError, match="retry_seconds"):
        Campaign(SoleLeader(), on_elected=print, on_lost=print, retry_seconds=0)


# ---- two real `comptoir serve` processes on one PostgreSQL database ----


class Serve:
    """A `comptoir serve --port 0` process (or the command `args` give); its stderr lines are
    collected as they come."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        args: tuple[str, ...] = ("serve", "--port", "0", "--leader-retry", "0.2"),
    ) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [str(COMPTOIR), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))

    def drain(self) -> list[str]:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen

    def said(self, fragment: str) -> bool:
        return any(fragment in line for line in self.drain())

    def owns(self, line: str) -> bool:
        """Whether the `host:pid` that ends `line` is this serve's worker (its child)."""
        pid = line.rsplit(":", 1)[-1]
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def wait_until(check: Any, *, timeout: float, what: str, show: tuple[Serve, ...] = ()) -> float:
    """Seconds until `check()` holds; a timeout fails with what each process in `show` said
    (these tests run under CI load: the output tells a slow child from a stuck one)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            said = "\n".join(
                f"--- {s.name} (pid {s.proc.pid}, exit {s.proc.poll()}):\n    "
                + "\n    ".join(s.drain()[-40:])
                for s in show
            )
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{said}")
        time.sleep(0.05)
    return time.monotonic() - start


def job_runs_owners(url: str) -> dict[str, tuple[str, str, Any]]:
    """{job id: (owner, status, started_at)} of every recorded run."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT job_id, owner, status, started_at FROM job_runs")).all()
    engine.dispose()
    return {job: (owner, status, started) for job, owner, status, started in rows}


@pytest.fixture
def two_serves(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Serve, Serve]]:
    migrate.upgrade(postgres_url)  # once, before: two processes would race to create tables
    with SlackStandin() as slack:
        serves = []
        for name in ("one", "two"):
            env = {
                **os.environ,
                "COMPTOIR_DATA_DIR": str(tmp_path / name),
                "COMPTOIR_DATABASE_URL": postgres_url,
                "COMPTOIR_SLACK_BOT_TOKEN": slack.token,
                "COMPTOIR_SLACK_SIGNING_SECRET": "s3cr3t-for-tests",
                "COMPTOIR_SLACK_API_URL": slack.url,
            }
            serves.append(Serve(name, env))
        try:
            yield serves[0], serves[1]
        finally:
            for serve in serves:
                serve.stop()


@pytest.mark.slow
def test_one_of_two_serve_processes_leads_and_the_other_takes_over_when_it_is_killed(
    two_serves: tuple[Serve, Serve], postgres_url: str
) -> None:
    one, two = two_serves
    wait_until(
        lambda: one.said("listening on") and two.said("listening on"),
        timeout=180,  # generous: a bound for a loaded CI machine, not a speed assertion
        what="both processes serving",
        show=(one, two),
    )
    wait_until(
        lambda: one.said("scheduler leader") or two.said("scheduler leader"),
        timeout=180,  # the workers start after serve: they load the models first, at nice 10
        what="a leader",
        show=(one, two),
    )
    time.sleep(1.0)  # five campaign rounds of the follower: it must stay a follower
    leaders = [s for s in (one, two) if s.said("scheduler leader")]
    assert len(leaders) == 1, [s.drain() for s in (one, two)]
    leader = leaders[0]
    follower = two if leader is one else one
    (line,) = [ln for ln in leader.drain() if "scheduler leader" in ln]
    assert leader.owns(line)  # the owner it announces is that serve's worker, not serve
    owner = line.rsplit(" ", 1)[-1]
    # on start the leader caught up: today's evaluation is recorded under its name, and only
    # the leader wrote job_runs (the follower's scheduler never ran)
    wait_until(
        lambda: leader.said("caught up:"), timeout=90, what="the leader's catch-up", show=(one, two)
    )
    before = job_runs_owners(postgres_url)
    assert "perf_evaluate" in before
    assert {who for who, _, _ in before.values()} == {owner}

    leader.proc.send_signal(signal.SIGKILL)  # no clean shutdown of serve
    leader.proc.wait(timeout=10)
    # Serve's death SIGTERMs its worker, which steps down at once (0.2-0.5 s here); a worker
    # stuck in its stop is bounded by STOP_GRACE_SECONDS, after which its exit frees the lock.
    # Both workers run at nice 10: a loaded machine can starve them for tens of seconds.
    took = wait_until(
        lambda: follower.said("scheduler leader"),
        timeout=STOP_GRACE_SECONDS + 60,
        what="the follower taking over",
        show=(one, two),
    )
    (line,) = [ln for ln in follower.drain() if "scheduler leader" in ln]
    assert follower.owns(line)
    assert follower.proc.poll() is None
    # the new leader caught up too, and found nothing to redo: the same rows, same owner
    wait_until(
        lambda: follower.said("caught up:"),
        timeout=90,
        what="the new leader's catch-up",
        show=(one, two),
    )
    assert any("perf_evaluate=taken" in ln for ln in follower.drain())
    after = job_runs_owners(postgres_url)
    assert after["perf_evaluate"] == before["perf_evaluate"]
    print(f"takeover after SIGKILL: {took:.2f} s")


def test_leading_scheduler_catches_up_runs_and_pauses_with_the_lead(postgres_url: str) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    said: list[str] = []
    catch_ups: list[str] = []

    def make(name: str) -> tuple[Any, BackgroundScheduler]:
        from bot.scheduler import LeadingScheduler

        scheduler = BackgroundScheduler()
        leading = LeadingScheduler(
            scheduler,
            PostgresLeader(postgres_url),
            catch_up=lambda: catch_ups.append(name) or {"digests": "done"},  # type: ignore[func-returns-value]
            owner=name,
            announce=said.append,
        )
        return leading, scheduler

    (a, a_sched), (b, b_sched) = make("a:1"), make("b:2")
    try:
        assert a.campaign.step() and not b.campaign.step()
        assert a_sched.running and not b_sched.running
        assert catch_ups == ["a:1"]
        assert said == ["scheduler leader: a:1", "caught up: digests=done"]
        _terminate_lock_holders(postgres_url, _lock_key("comptoir.scheduler"))
        assert not a.campaign.step()
        assert a_sched.state == 2  # STATE_PAUSED: its jobs no longer fire
        assert b.campaign.step() and b_sched.running
        assert catch_ups == ["a:1", "b:2"]
        assert "scheduler follower: a:1 lost the lead" in said
    finally:
        a.stop()
        b.stop()
    assert not a_sched.running and not b_sched.running


def worker(name: str, env: dict[str, str], *extra: str) -> Serve:
    """A `comptoir worker` process, its stderr collected as Serve's."""
    return Serve(name, env, ("worker", "--leader-retry", "0.2", *extra))


@pytest.mark.slow
def test_a_worker_started_with_no_schedule_never_leads(tmp_path: Path) -> None:
    # The lock is a file beside the SQLite database: free while only --no-schedule runs, so
    # a worker started next takes it at once.
    with SlackStandin() as slack:
        env = {
            **os.environ,
            "COMPTOIR_DATA_DIR": str(tmp_path),
            "COMPTOIR_SLACK_BOT_TOKEN": slack.token,
            "COMPTOIR_SLACK_SIGNING_SECRET": "s3cr3t-for-tests",
            "COMPTOIR_SLACK_API_URL": slack.url,
        }
        quiet = worker("quiet", env, "--no-schedule")
        leader = None
        try:
            wait_until(
                lambda: quiet.said("worker running"), timeout=180, what="the worker", show=(quiet,)
            )
            leader = worker("leader", env)
            wait_until(
                lambda: leader.said("scheduler leader"),
                timeout=180,
                what="a leader",
                show=(quiet, leader),
            )
            assert not quiet.said("scheduler")
            (line,) = [ln for ln in leader.drain() if "scheduler leader" in ln]
            assert line.endswith(f":{leader.proc.pid}")
        finally:
            quiet.stop()
            if leader is not None:
                leader.stop()
