"""A frozen worker beside a live one: every message answered exactly once (issue 9).

Two real `comptoir worker` processes on one database, SQLite and PostgreSQL, with a short
lease. The first is frozen with SIGSTOP while it holds messages: in the answerer (no
transaction open), or in the transaction that records an answer (on SQLite it holds the
database's write lock, on PostgreSQL row locks). The second works on past the lease, takes the
frozen one's messages over, and answers them; then the first is woken with SIGCONT and must
post nothing for them. The Slack stand-in then holds one answer per message: 0 lost, 0 doubled.

The workers are `comptoir worker` as shipped, started through `child_main`, which only swaps
the knowledge base and the classifier for fast stand-ins (no model to load) and, in the
process to be frozen, makes every answer wait at the chosen point until a file exists, saying
so on stderr: the test freezes it there, never by luck of timing.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bot import slack_payloads as sp
from bot.slack_standin import SlackStandin
from routing import inbox_store
from routing.db import make_engine, make_sessionmaker, transaction, transient, utcnow
from routing.models import InboxEvent, OutboxMessage, Seller, SlackEvent

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "C0FROZEN01"
MESSAGES = 8
# Short, so the test is quick, but long enough that the live worker's own leases outlast a
# heartbeat delayed by a loaded machine (renewed every 2 s): otherwise its two threads take each
# other's messages over and over, and the test measures the machine, not the takeover.
LEASE_SECONDS = 6
STOP_GRACE_SECONDS = 10
HOLD_AT = "FROZEN_TEST_HOLD_AT"  # "answering" | "recording": where the frozen one waits
RELEASE = "FROZEN_TEST_RELEASE"  # the file whose existence lets it go on
HOLDING = "frozen-test: holding "


def child_main() -> None:
    """`comptoir worker` (the arguments follow) with stand-ins for the knowledge base and
    the classifier, and, when HOLD_AT is set, a wait at that point of every answer."""
    import bot.wiring
    from bot.cli import main
    from knowledge.types import Answer, Turn
    from routing import conversations
    from tests.bot.conftest import COMMISSION_FR, FakeClassifier

    hold_at = os.environ.get(HOLD_AT, "")
    release = Path(os.environ.get(RELEASE, "/nonexistent"))

    def hold(what: str) -> None:
        sys.stderr.write(f"{HOLDING}{what}\n")  # one write: two threads may hold at once
        sys.stderr.flush()
        while not release.exists():
            time.sleep(0.02)

    class Answerer:
        def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer:
            if hold_at == "answering":
                hold(question)
            return Answer(
                answered=True,
                language="fr",
                text=f"Réponse à « {question} » [1].",
                confidence=0.9,
                citations=COMMISSION_FR.citations,
            )

    bot.wiring.open_answerer = lambda settings: Answerer()  # type: ignore[assignment,return-value]
    bot.wiring.make_classifier = lambda settings: FakeClassifier()
    if hold_at == "recording":
        record = conversations.do_record_answer

        def record_then_hold(session: Any, **answer: Any) -> None:
            record(session, **answer)  # the question and the event rows are written now
            hold(str(answer["event_id"]))

        conversations.do_record_answer = record_then_hold  # type: ignore[assignment]
    main()


class Worker:
    """A `comptoir worker` child; its stderr lines are collected as they come."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from tests.test_frozen_worker import child_main; child_main()",
                "worker",
                "--threads",
                "2",
                "--no-schedule",
                "--no-migrate",
                "--idle-poll",
                "0.05",
                "--outbox-poll",
                "0.1",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        self.stop_seconds = 0.0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.put(line.rstrip("\n"))

    def said(self, fragment: str) -> list[str]:
        while True:
            try:
                self.lines.append(self._lines.get_nowait())
            except queue.Empty:
                return [line for line in self.lines if fragment in line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.proc.terminate()
            sent = time.monotonic()
            try:
                self.proc.wait(STOP_GRACE_SECONDS + 50)  # the worker's grace, then some
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.stop_seconds = time.monotonic() - sent
            print(f"{self.name} stopped {self.stop_seconds:.1f} s after SIGTERM")
            if self.stop_seconds > STOP_GRACE_SECONDS:
                print(self.output())

    def output(self) -> str:
        self.said("")
        return f"--- {self.name} (exit {self.proc.poll()}) ---\n" + "\n".join(self.lines[-80:])


def wait_until(check: Callable[[], Any], *, timeout: float, what: str) -> None:
    start = time.monotonic()
    deadline = start + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    print(f"{time.monotonic() - start:5.1f} s waiting for {what}")  # shown when the test fails


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as standin:
        yield standin


@pytest.mark.slow
@pytest.mark.parametrize("frozen_at", ["answering", "recording"])
def test_a_worker_frozen_beside_a_live_one_loses_nothing_and_doubles_nothing(
    migrated_url: str, slack: SlackStandin, tmp_path: Path, frozen_at: str
) -> None:
    engine = make_engine(migrated_url)
    factory = make_sessionmaker(engine)
    sqlite = migrated_url.startswith("sqlite")
    with transaction(factory) as s:
        s.add(
            Seller(
                seller_id="S-FROZEN",
                name="Atelier Givre",
                channel_id=CHANNEL,
                account_manager_id=None,
                tier="gold",
                language="fr",
            )
        )
    bodies = [
        sp.message_event(channel=CHANNEL, text=f"Question {i} : quelle est la commission ?")
        for i in range(MESSAGES)
    ]
    for body in bodies:  # what `comptoir serve` does before its ack
        assert inbox_store.store_committed(
            factory, event_id=body["event_id"], body=body, now=utcnow()
        )
    by_hold = {b["event_id"]: b["event_id"] for b in bodies}
    by_hold.update({b["event"]["text"]: b["event_id"] for b in bodies})
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env.update(
        COMPTOIR_DATABASE_URL=migrated_url,
        COMPTOIR_DATA_DIR=str(tmp_path / "data"),
        COMPTOIR_SLACK_BOT_TOKEN=slack.token,
        COMPTOIR_SLACK_SIGNING_SECRET="s3cr3t-for-tests",
        COMPTOIR_SLACK_API_URL=slack.url,
        COMPTOIR_INBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        COMPTOIR_WORKER_STOP_GRACE_SECONDS=str(STOP_GRACE_SECONDS),
        COMPTOIR_DB_STATEMENT_TIMEOUT_SECONDS="1",
        COMPTOIR_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS="2",
    )
    release = tmp_path / "release"
    frozen = Worker("frozen", {**env, HOLD_AT: frozen_at, RELEASE: str(release)})
    workers = [frozen]

    def held() -> list[str]:
        return [by_hold[line.split(HOLDING, 1)[1]] for line in frozen.said(HOLDING)]

    def inbox() -> dict[str, tuple[str, int]]:
        with factory() as s:
            return {r.event_id: (r.status, r.attempts) for r in inbox_store.rows(s)}

    def events(status: str) -> set[str]:
        with factory() as s:
            return set(s.scalars(select(SlackEvent.event_id).where(SlackEvent.status == status)))

    def outbox_settled() -> bool:
        with factory() as s:
            return not s.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")))
            ).all()

    try:
        # Start-up loads no model here, but a loaded machine is slow: generous bounds.
        wait_until(lambda: held(), timeout=300, what="the first worker holding a message")
        if frozen_at == "answering":
            # Stopped between two transactions, as a process mostly is when it answers: both
            # threads in the answerer, and the reactions they queued delivered. Stopped with
            # one thread still recording its message, it would hold SQLite's write lock, which
            # is the "recording" case (seen in CI: the live one then waited for 240 s).
            wait_until(
                lambda: len(held()) >= 2 and outbox_settled(),
                timeout=300,
                what="both threads of the first worker answering, its posts delivered",
            )
        frozen.proc.send_signal(signal.SIGSTOP)
        time.sleep(0.5)  # let its last lines reach us; it says nothing more while stopped
        mine = held()
        assert mine, frozen.output()
        release.touch()  # once woken, it goes on from where it was frozen
        live = Worker("live", env)
        workers.append(live)
        if frozen_at == "recording" and sqlite:
            # The frozen one holds the database's write lock: the live one can take its
            # messages (the inbox is another file) but write nothing; "database is locked"
            # must be retried, never fail a message for good.
            wait_until(
                lambda: all(inbox().get(e, ("", 0))[1] >= 2 for e in mine),
                timeout=240,
                what="the live worker taking the frozen one's messages over",
            )
            wait_until(
                lambda: live.said("database was busy") or live.said("failed for good"),
                timeout=240,
                what="the live worker meeting the lock",
            )
            assert not live.said("failed for good"), live.output()
        else:
            # PostgreSQL ends the frozen one's idle transaction (2 s), freeing its locks; the
            # live one takes its messages once the lease (6 s) is over, and answers them.
            wait_until(
                lambda: set(mine) <= events("answered"),
                timeout=240,
                what="the live worker answering the frozen one's messages",
            )
        frozen.proc.send_signal(signal.SIGCONT)
        wait_until(
            lambda: {status for status, _ in inbox().values()} == {"done"},
            timeout=300,
            what="every message handled",
        )
        # the woken worker finds out its claims were taken over, and commits nothing more
        wait_until(
            lambda: len(frozen.said("posted nothing")) + len(frozen.said("lease lost")) >= 1,
            timeout=240,
            what="the frozen worker noticing it lost its messages",
        )
        wait_until(outbox_settled, timeout=240, what="the outbox delivered")
        for worker in workers:
            worker.stop()
        for body in bodies:
            ts = body["event"]["ts"]
            answers = slack.posts(channel=CHANNEL, thread_ts=ts)
            assert len(answers) == 1, (body["event"]["text"], [a.params for a in answers])
            assert body["event"]["text"] in answers[0].params["text"]
            assert len(slack.reactions(timestamp=ts)) == 1
            assert len(slack.reactions(added=False, timestamp=ts)) == 1
        assert events("answered") == {b["event_id"] for b in bodies}
        with factory() as s:
            attempts = dict(s.execute(select(InboxEvent.event_id, InboxEvent.attempts)).all())
        assert all(attempts[e] >= 2 for e in mine)  # the live one did take them over
    except BaseException:
        for worker in workers:
            print(worker.output())
        raise
    finally:
        for worker in workers:
            worker.stop()
        engine.dispose()


@pytest.mark.postgres
def test_postgres_ends_a_transaction_left_idle_and_frees_its_locks(postgres_url: str) -> None:
    """What a frozen worker's open transaction becomes: the server ends its session after the
    idle-in-transaction timeout, its row lock goes, and the frozen side's error is transient."""
    engine = make_engine(postgres_url, statement_timeout=5, idle_in_transaction_timeout=0.5)
    other = make_engine(postgres_url, statement_timeout=5)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "5s"
            assert (
                conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "500ms"
            )
            conn.execute(text("CREATE TABLE lock_me (id int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO lock_me VALUES (1)"))
            conn.commit()
        frozen = engine.connect()
        frozen.execute(text("SELECT id FROM lock_me WHERE id = 1 FOR UPDATE"))
        time.sleep(1.0)  # frozen, its transaction open
        with other.connect() as conn:  # would wait for the lock 5 s, then fail
            conn.execute(text("UPDATE lock_me SET id = 2 WHERE id = 1"))
            conn.commit()
        with pytest.raises(Exception) as woken:
            frozen.execute(text("SELECT 1"))
        assert transient(woken.value)
        frozen.close()
    finally:
        engine.dispose()
        other.dispose()


def test_sqlite_waits_for_the_write_lock_as_long_as_the_statement_timeout(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}", statement_timeout=0.25)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 250
    finally:
        engine.dispose()
