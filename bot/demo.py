"""`comptoir demo`: the real app, end to end, on embedded defaults and a local Slack stand-in.

Nothing is faked inside Comptoir: the database is migrated, the sample guidelines are ingested
into a real Chroma index with the bundled embedding model, the Bolt app serves HTTP, and each
seller message is a signed Events API delivery to /slack/events. Only Slack is stood in for.
"""

from __future__ import annotations

import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from bot import slack_payloads
from bot.blocks import ACTION_HUMAN
from bot.server import start_http
from bot.settings import Settings
from bot.slack_standin import Call, SlackStandin
from bot.terminal import message_to_text
from bot.wiring import build_runtime
from routing import migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import Feedback, Question, Ticket
from routing.sellers import do_import_directory, read_directory_csv
from routing.staff import do_add_staff

SAMPLE = Path(__file__).resolve().parent.parent / "knowledge" / "sample"
TRIAGE = "C0TRIAGE01"
STAFF = (
    ("U0LEAD0001", "lead", "Inès (lead)"),
    ("U0AGENT001", "agent", "Hugo"),
    ("U0HEAD0001", "head", "Claire (head of marketplace)"),
)


@dataclass(frozen=True)
class Scene:
    title: str
    channel: str
    user: str
    text: str


SCENES = (
    Scene(
        "A French seller asks something the guidelines answer",
        "C0SELLER01",
        "U0SELLERFR1",
        "Bonjour, quel est le délai pour accepter une commande avant qu'elle soit annulée ?",
    ),
    Scene(
        "An English seller asks about a policy written only in French",
        "C0SELLER04",
        "U0SELLEREN1",
        "What commission do you take on textile products?",
    ),
    Scene(
        "A question the guidelines do not cover",
        "C0SELLER02",
        "U0SELLERFR2",
        "est-ce que je peux brancher ma boutique shopify en direct par API ?",
    ),
)


class Demo:
    def __init__(self, out: TextIO, data_dir: Path) -> None:
        self.out = out
        self.data_dir = data_dir

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, text: str) -> None:
        """What the demo is busy with, on stderr: the first run spends a minute embedding,
        and a silent minute looks like a hang. stdout stays the conversation alone."""
        print(f"demo: {text}", file=sys.stderr, flush=True)

    def run(self) -> int:
        # A fresh database every run; the index is kept, so a second run shows an
        # incremental ingest (nothing re-embedded) instead of paying for the embeddings again.
        (self.data_dir / "comptoir.db").unlink(missing_ok=True)
        for leftover in self.data_dir.glob("comptoir.db-*"):
            leftover.unlink()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(16)
        with SlackStandin() as slack:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                data_dir=self.data_dir,
                slack_bot_token=slack.token,
                slack_signing_secret=secret,
                slack_api_url=slack.url,
                triage_channel=TRIAGE,
            )
            self.say("Comptoir demo: the real app on embedded defaults, Slack stood in locally")
            self.say(f"  data      {self.data_dir} (SQLite database, Chroma index)")
            self.say(f"  slack     stand-in Web API at {slack.url}")
            self._prepare(settings)
            self.step("starting the bot's HTTP endpoint")
            runtime = build_runtime(settings, worker_idle_poll=0.1)
            runtime.outbox_worker.start()
            server = start_http(runtime.app, health=runtime.health)
            self.say(f"  endpoint  {server.url}/slack/events (signed Events API deliveries)")
            try:
                self._play(slack, server.url, secret)
                from bot.demo_helpdesk import play_helpdesk

                play_helpdesk(self, slack, server.url, secret, runtime.deps)
                from bot.demo_performance import play_performance

                play_performance(
                    self, slack, runtime.deps, self.data_dir, config=runtime.perf_config
                )
                from bot.demo_vetted import play_vetted

                play_vetted(self, slack, server.url, secret, runtime.deps)
            finally:
                server.stop()
                runtime.close()
            self._summary(settings)
        return 0

    def _prepare(self, settings: Settings) -> None:
        started = time.monotonic()
        self.step("migrating a fresh SQLite database")
        migrate.upgrade(settings.db_url)
        engine = make_engine(settings.db_url)
        self.step("importing the sample seller directory and help-desk staff")
        with transaction(make_sessionmaker(engine)) as session:
            report = do_import_directory(session, read_directory_csv(SAMPLE / "sellers.csv"))
            for user_id, role, name in STAFF:
                do_add_staff(session, user_id=user_id, role=role, display_name=name)
        engine.dispose()
        from bot.cli.kb import ingest_progress, open_knowledge_base

        self.step("loading the embedding model and the index")
        kb = open_knowledge_base(settings)
        self.step("indexing the sample guidelines (the first run embeds them: about a minute)")
        with ingest_progress("demo: embedding guidelines") as progress:
            ingest = kb.ingest(SAMPLE / "guidelines", progress=progress)
        self.say(
            f"  ready     {report.created} sellers; guidelines: {ingest.documents} indexed, "
            f"{ingest.unchanged} unchanged since the last run, {ingest.embedded} chunks embedded "
            f"({time.monotonic() - started:.1f} s)"
        )

    def _play(self, slack: SlackStandin, url: str, secret: str) -> None:
        def send(payload: dict[str, Any], **kw: Any) -> int:
            return slack_payloads.deliver(url, payload, secret, **kw).status_code

        first_payload: dict[str, Any] | None = None
        answered: list[tuple[Scene, str, Call]] = []
        for number, scene in enumerate(SCENES, 1):
            payload = slack_payloads.message_event(
                channel=scene.channel, user=scene.user, text=scene.text
            )
            first_payload = first_payload or payload
            ts = payload["event"]["ts"]
            self.say(f"\n{number}. {scene.title}  [#{scene.channel}]")
            self.say(f"   seller   {scene.text}")
            status = send(payload)
            reply = self.wait(slack, scene.channel, ts)
            self.show("comptoir", reply, f"(ack {status}, answered in the thread)")
            answered.append((scene, ts, reply))

        assert first_payload is not None
        ts = first_payload["event"]["ts"]
        channel = first_payload["event"]["channel"]
        self.say("\n4. Slack retries delivery 1 (X-Slack-Retry-Num: 1, same event id)")
        status = send(first_payload, retry_num=1)
        time.sleep(1.0)  # give a wrongly duplicated answer the time to show up
        count = len(slack.posts(channel=channel, thread_ts=ts))
        self.say(f"   ack {status}; answers in that thread: {count} (the retry was recognised)")

        scene, ts, reply = answered[1]
        self.say('\n5. The seller of question 2 wants more than the guideline: "I need a human"')
        click = slack_payloads.block_actions(
            action_id=ACTION_HUMAN,
            value=str(self._question_id(reply)),
            channel=scene.channel,
            message_ts=reply.response["ts"],
            user=scene.user,
            thread_ts=ts,
        )
        send(click)
        self.show("comptoir", self.wait(slack, scene.channel, ts, after=1))

    @staticmethod
    def _question_id(answer: Call) -> int:
        for block in answer.params.get("blocks") or []:
            for element in block.get("elements", []):
                if element.get("action_id") == ACTION_HUMAN:
                    return int(element["value"])
        raise RuntimeError("the answer carries no 'I need a human' button")

    @staticmethod
    def wait(
        slack: SlackStandin,
        channel: str,
        thread_ts: str | None = None,
        *,
        after: int = 0,
        timeout: float = 60.0,
    ) -> Call:
        """The bot's next post in a channel or thread, once Slack has it."""
        deadline = time.monotonic() + timeout
        while len(posts := slack.posts(channel=channel, thread_ts=thread_ts)) <= after:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer reached Slack within {timeout:.0f} s")
            time.sleep(0.05)
        return posts[after]

    def show(self, who: str, call: Call, note: str = "") -> None:
        lines = message_to_text(call.params).splitlines()
        self.say(f"   {who:<8} {lines[0] if lines else ''}")
        for line in lines[1:]:
            self.say(f"            {line}")
        if note:
            self.say(f"            {note}")

    def _summary(self, settings: Settings) -> None:
        engine = make_engine(settings.db_url)
        with make_sessionmaker(engine)() as session:
            questions = session.scalars(select(Question).order_by(Question.id)).all()
            feedback = session.scalars(select(Feedback)).all()
            tickets = session.scalars(select(Ticket).order_by(Ticket.number)).all()
        engine.dispose()
        problems = {t.question_id: t.number for t in tickets if t.kind == "problem"}
        self.say("\nStored for the help desk and the knowledge-gap report:")
        for q in questions:
            if q.id in problems:
                self.say(f"  message {q.id}   {q.language}  a problem, ticket #{problems[q.id]}")
                continue
            verdict = "answered" if q.answered else "abstained"
            sources = ", ".join(sorted({c["source"] for c in q.citations})) or "-"
            self.say(
                f"  question {q.id}  {q.language}  {verdict:<9} confidence {q.confidence:.2f}"
                f"  sources: {sources}"
            )
        for f in feedback:
            self.say(f"  feedback on question {f.question_id}: {f.kind} (by {f.user_id})")
        for t in tickets:
            owner = f"claimed by {t.owner_id}" if t.owner_id else "unclaimed"
            self.say(
                f"  ticket #{t.number}  level {t.level}  {t.category:<10} {t.status:<8} {owner}"
            )


def run(settings: Settings, out: TextIO) -> int:
    return Demo(out, settings.data_dir / "demo").run()
