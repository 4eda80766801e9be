"""The bot under test: the real Bolt app behind waitress, the Slack stand-in, a fresh database.

Requests reach the app as Slack sends them (signed, over HTTP); what the bot said is read
back from the stand-in, what it stored from the database.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import slack_payloads
from bot.server import HttpServer, start_http
from bot.settings import Settings
from bot.slack_standin import SlackStandin
from bot.wiring import Runtime, build_runtime
from knowledge.types import Answer, Citation, Turn
from routing.classify import Classification
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import Question, Seller, SlackEvent, Ticket, TicketEvent
from routing.staff import do_add_staff

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "5e1f0c3a9b7d4e2f8a6c1b3d5e7f9a0b"
SHOP_FR = "C0SHOPFR01"
SHOP_EN = "C0SHOPEN01"
STRANGER = "C0NOTASHOP"
SHOP_NO_AM = "C0SHOPNOAM"  # a seller with no account manager on file
ACCOUNT_MANAGER = "U0ACCTMGR1"
TRIAGE = "C0TRIAGE01"
AGENT = "U0AGENT0001"
AGENT2 = "U0AGENT0002"
LEAD = "U0LEAD00001"
HEAD = "U0HEAD00001"
T = TypeVar("T")


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


# The bots of the running test whose work the test's own waits drive (see Bot.settle).
_DRIVEN: list[Bot] = []


def settle_bots() -> None:
    """Do the running bots' background work now, in the test's thread."""
    for bot in list(_DRIVEN):
        bot.settle()


def poll(probe: Callable[[], T], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Drive the bots' work, then look; again until `probe()` is truthy or `timeout` passed
    (the timeout only matters when something is genuinely stuck, or waits for a backoff)."""
    deadline = time.monotonic() + timeout
    while True:
        settle_bots()
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.02)


@dataclass
class FakeAnswerer:
    """Answers like the knowledge base would; records what it was asked (and with what history)."""

    answers: dict[str, Answer] = field(default_factory=dict)
    asked: list[tuple[str, list[Turn]]] = field(default_factory=list)
    fail: bool = False

    def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer:
        self.asked.append((question, list(history)))
        if self.fail:
            raise RuntimeError("index unavailable")
        for needle, answer in self.answers.items():
            if needle in question.lower():
                return answer
        language = (
            "fr"
            if any(w in question.lower() for w in ("quel", "comment", "frais", "est-ce"))
            else "en"
        )
        return Answer(answered=False, language=language, text="", confidence=0.1, mode="abstain")


COMMISSION_FR = Answer(
    answered=True,
    language="fr",
    text="La commission est de 12 % du prix TTC pour la mode [1].",
    confidence=0.82,
    citations=[
        Citation(
            title="Commissions et versements",
            source="finances/commissions-versements.md",
            section="Commissions > Mode",
            score=0.71,
            url="https://help.example-market.fr/finances/commissions",
            language="fr",
        )
    ],
)
PHOTOS_EN = Answer(
    answered=True,
    language="en",
    text="Photos must be at least 1200 × 1200 px on a white background [1].",
    confidence=0.77,
    citations=[
        Citation(
            title="Product photos",
            source="catalogue/photos-produits.md",
            section="Size",
            score=0.66,
            url=None,
            language="en",
        )
    ],
)


@dataclass
class FakeClassifier:
    """Judges by keywords, like the shipped classifier would on these test messages, with no
    model to load; one end-to-end test runs the real one. Records what it judged."""

    seen: list[str] = field(default_factory=list)
    fail: bool = False

    def classify(self, text: str) -> Classification:
        self.seen.append(text)
        if self.fail:
            raise RuntimeError("model file unreadable")
        low = text.lower()
        if any(w in low for w in ("suspendu", "suspended")):
            return Classification("problem", 3, "account", 0.95, ["Level 3: account suspension"])
        if any(w in low for w in ("versement", "payout", "bloquée", "blocked")):
            return Classification("problem", 2, "payouts", 0.8, ["Level 2: payout problem"])
        if "litige" in low or "dispute" in low:
            return Classification("question", 2, "orders", 0.6, ["Level 2: a dispute"])
        return Classification("question", 1, "other", 0.9, ["Level 1: a general question"])


def default_answerer() -> FakeAnswerer:
    return FakeAnswerer(answers={"commission": COMMISSION_FR, "photo": PHOTOS_EN})


def seed_sellers(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        s.add_all(
            [
                Seller(
                    seller_id="S-FR",
                    name="Maison Lune",
                    channel_id=SHOP_FR,
                    account_manager_id=ACCOUNT_MANAGER,
                    tier="gold",
                    language="fr",
                ),
                Seller(
                    seller_id="S-EN",
                    name="Nordic Goods",
                    channel_id=SHOP_EN,
                    account_manager_id=ACCOUNT_MANAGER,
                    tier="silver",
                    language="en",
                ),
                Seller(
                    seller_id="S-NOAM",
                    name="Atelier Sans Contact",
                    channel_id=SHOP_NO_AM,
                    account_manager_id=None,
                    tier="bronze",
                    language="fr",
                ),
            ]
        )
        for user_id, role in (
            (AGENT, "agent"),
            (AGENT2, "agent"),
            (LEAD, "lead"),
            (HEAD, "head"),
            (ACCOUNT_MANAGER, "account_manager"),
        ):
            do_add_staff(s, user_id=user_id, role=role)


@dataclass
class Bot:
    """One running Comptoir process (app + HTTP server + outbox) and the Slack it talks to."""

    runtime: Runtime
    server: HttpServer
    slack: SlackStandin
    closed: bool = False
    # without background threads, the test's waits do the workers' work (settle)
    drive_inbox: bool = False
    drive_outbox: bool = False

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.runtime.session_factory

    def send(self, payload: str | dict[str, Any], **kw: Any) -> httpx.Response:
        return slack_payloads.deliver(self.url, payload, SECRET, **kw)

    def event_status(self, event_id: str) -> str | None:
        with self.factory() as s:
            row = s.get(SlackEvent, event_id)
            return row.status if row else None

    def wait_event(self, event_id: str, *statuses: str, timeout: float = 10.0) -> SlackEvent:
        def probe() -> SlackEvent | None:
            with self.factory() as s:
                row = s.get(SlackEvent, event_id)
                return row if row is not None and row.status in statuses else None

        return poll(probe, timeout=timeout, what=f"event {event_id} in {statuses}")

    def questions(self) -> list[Question]:
        with self.factory() as s:
            return list(s.scalars(select(Question).order_by(Question.id)))

    def tickets(self) -> list[Ticket]:
        with self.factory() as s:
            return list(s.scalars(select(Ticket).order_by(Ticket.number)))

    def wait_ticket(self, probe: Callable[[Ticket], bool] = bool, *, number: int = 1001) -> Ticket:
        """The ticket once `probe` holds for it (e.g. its triage card's ts is known)."""

        def get() -> Ticket | None:
            with self.factory() as s:
                t = s.scalar(select(Ticket).where(Ticket.number == number))
                return t if t is not None and probe(t) else None

        return poll(get, what=f"ticket #{number}")

    def ticket_events(self, ticket_id: int) -> list[tuple[str, str | None]]:
        with self.factory() as s:
            rows = s.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id)
            )
            return [(e.kind, e.actor_id) for e in rows]

    def settle(self) -> None:
        """What the inbox and outbox workers would do by now, done in the calling thread:
        answer every stored message, deliver every call that is due, until neither moves.
        A failure is logged and left for the next pass, as the worker threads do."""
        if self.closed:
            return
        for _ in range(50):
            moved = 0
            try:
                if self.drive_inbox:
                    moved += self.runtime.inbox_worker.drain()
                if self.drive_outbox:
                    report = self.runtime.outbox.deliver_due()
                    moved += report.sent + report.retried + report.failed
            except Exception:
                logging.getLogger(__name__).exception("settle: a pass failed; next poll retries")
                return
            if not moved:
                return

    def close(self) -> None:
        """Stop serving and wait for running listeners to finish (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.server.stop()
        # what this replica acked is answered before it goes, as the old in-process listeners
        # were; a worker process instead leaves the rest queued for the next one (bot.inbox)
        self.runtime.inbox_worker.stop()
        self.runtime.inbox_worker.drain()
        self.runtime.close()


def make_settings(db_url: str, slack: SlackStandin, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "slack_bot_token": slack.token,
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.url,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as standin:
        yield standin


@pytest.fixture
def start_bot(
    migrated_url: str, slack: SlackStandin, tmp_path: Path
) -> Iterator[Callable[..., Bot]]:
    """Start a Comptoir process on the test database; several may share it (as replicas do)."""
    engine = make_engine(migrated_url)
    seed_sellers(make_sessionmaker(engine))
    engine.dispose()
    started: list[Bot] = []

    def start(
        *,
        answerer: Any = None,
        classifier: Any = None,
        worker: bool = True,
        inbox: bool = True,
        threads: bool = False,
        slack_timeout: float = 0.5,
        **runtime_options: Any,
    ) -> Bot:
        """worker: calls queued for Slack are delivered; inbox: stored messages are answered
        (False: the HTTP side alone, as when no worker process runs). By default that work is
        done by the test's own waits (`poll`, `slack.wait_for`), deterministically, whatever
        the machine's load; threads=True runs the real worker threads instead, for the tests
        about concurrency itself."""
        runtime = build_runtime(
            make_settings(migrated_url, slack, tmp_path, triage_channel=TRIAGE),
            answerer=answerer if answerer is not None else default_answerer(),
            classifier=classifier if classifier is not None else FakeClassifier(),
            run_migrations=False,
            slack_timeout=slack_timeout,
            worker_idle_poll=0.2,
            inbox_thread=inbox and threads,
            **runtime_options,
        )
        if worker and threads:
            runtime.outbox_worker.start()
        bot = Bot(
            runtime=runtime,
            server=start_http(runtime.app, health=runtime.health),
            slack=slack,
            drive_inbox=inbox and not threads,
            drive_outbox=worker and not threads,
        )
        started.append(bot)
        _DRIVEN.append(bot)
        return bot

    slack.on_wait = settle_bots
    try:
        yield start
    finally:
        slack.on_wait = None
        for bot in started:
            if bot in _DRIVEN:
                _DRIVEN.remove(bot)
            bot.close()


@pytest.fixture
def bot(start_bot: Callable[..., Bot]) -> Bot:
    return start_bot()
