"""Build the running objects from Settings, once, at the entry point.

runtime = build_runtime(settings)            # migrates, opens the KB, builds the apps;
runtime.outbox_worker.start()                # the inbox worker thread already runs
server = start_http(runtime.app, port=0, health=runtime.health)
...
server.stop(); runtime.close()

Seller messages go through the inbox (bot.inbox): the HTTP app stores them, the inbox worker
answers them. By default that worker is a thread of this process (tests, the demo, a
single-process serve); `build_runtime(settings, inbox_thread=False)` leaves it to
`comptoir worker` in another process, so answering never slows the ack.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app, create_worker_app
from bot.inbox import InboxWorker, bolt_dispatcher, inbox_middleware
from bot.listeners import Deps
from bot.listeners.deps import MessageClassifier, SerialClassifier
from bot.listeners.giving_up import do_give_up
from bot.listeners.ticketing import on_card_sent
from bot.outbox import Outbox, OutboxWorker
from bot.scheduler import build_scheduler, schedule_for
from bot.settings import Settings
from bot.staff_groups import UsergroupMembers
from bot.vetted_sync import VettedIndexer, do_sync_index
from knowledge.types import Answerer
from routing import migrate
from routing.db import make_engine, make_sessionmaker
from routing.performance.config import PerfConfig, load_perf_config
from routing.sla_policy import SlaPolicy, load_policy

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    answerer: Answerer
    app: App
    outbox: Outbox
    outbox_worker: OutboxWorker
    worker_app: App
    inbox_worker: InboxWorker
    executor: ThreadPoolExecutor
    deps: Deps
    scheduler: BackgroundScheduler
    perf_config: PerfConfig  # the operator's performance file (its jobs are in `scheduler`)

    def health(self) -> dict[str, Any]:
        """For /healthz: the database answers."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"ok": True}

    def start_scheduler(self) -> None:
        """Run the schedule table (bot.scheduler.schedule_for) in a background thread."""
        if not self.scheduler.running:
            self.scheduler.start()

    def start_background(self, *, inbox: bool = True, outbox: bool = True) -> None:
        """Start the inbox worker threads (answer stored messages) and the outbox worker (send
        to Slack). Either may already run: starting it again does nothing."""
        if inbox:
            self.inbox_worker.start()
        if outbox and not self._outbox_started():
            self.outbox_worker.start()

    def _outbox_started(self) -> bool:
        thread = getattr(self.outbox_worker, "_thread", None)
        return thread is not None and thread.is_alive()

    def close(self, *, grace: float | None = None) -> None:
        """Stop the jobs and the workers (the inbox first: its listeners feed the outbox), let
        running listeners finish, release the DB. Messages not yet handled stay queued.

        `grace`: wait at most that many seconds in all, for a process about to exit: a listener
        stuck in the embedder or a database call is left behind (its message's lease expires
        and it is answered again), instead of holding the stop."""
        deadline = None if grace is None else time.monotonic() + grace

        def left(default: float) -> float:
            return default if deadline is None else max(deadline - time.monotonic(), 0.0)

        if self.scheduler.running:
            self.scheduler.shutdown(wait=grace is None)
        self.inbox_worker.stop(timeout=left(30.0))
        self.outbox_worker.stop(timeout=left(10.0))
        self.executor.shutdown(wait=grace is None, cancel_futures=grace is not None)
        self.engine.dispose()  # only the idle connections: one in use is not waited for


def slack_client(settings: Settings, *, timeout: float = 10.0) -> WebClient:
    """A WebClient on settings.slack_api_url. No built-in retries: the outbox owns retrying,
    with the attempt kept in the database rather than in a sleeping thread."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=timeout,  # type: ignore[arg-type]  # urllib takes fractions of a second
        retry_handlers=[],
    )


def open_answerer(settings: Settings) -> Answerer:
    """The knowledge base the settings describe (with the optional chat model)."""
    from bot.cli.kb import open_knowledge_base

    answerer: Answerer = open_knowledge_base(settings, with_chat_model=True)
    return answerer


def make_classifier(settings: Settings) -> MessageClassifier:
    """The offline classifier, or with COMPTOIR_LLM the chat model backed by it (its fallback)."""
    from routing.classify import Classifier, ModelFileError

    # the operator's retrained model if there is one; its embedding model loads lazily
    try:
        offline = Classifier.load(settings.classifier_path)
    except ModelFileError as exc:
        if settings.classifier_path is None:
            raise
        # Retrained by an earlier version (other features or categories) or damaged: the bot
        # still starts, on the shipped model; the staff re-levels stay in the database for
        # the next `comptoir classifier train`.
        logger.warning(
            "%s; the shipped classifier is used until `comptoir classifier train` is run", exc
        )
        offline = Classifier.load(None)
    if not settings.llm:
        return offline
    from knowledge.providers import make_chat_model
    from routing.classify.llm import LLMClassifier

    # short and one retry: a slow model only delays a ticket, the fallback answers anyway
    chat = make_chat_model(
        settings.llm,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        timeout=15.0,
        max_retries=1,
    )
    return LLMClassifier(chat, fallback=offline)


def _sync_vetted(factory: sessionmaker[Session], index: VettedIndexer) -> None:
    """The answer index holds what the database says (an index wiped or moved, an answer
    retired while this process was down); a failure is logged, the bot starts anyway."""
    try:
        do_sync_index(factory, index)
    except Exception:
        logger.exception("could not bring the vetted answers' index up to date")


def build_runtime(
    settings: Settings,
    *,
    answerer: Answerer | None = None,
    vetted_index: VettedIndexer | None = None,
    classifier: MessageClassifier | None = None,
    policy: SlaPolicy | None = None,
    perf_config: PerfConfig | None = None,
    socket: bool = False,
    run_migrations: bool = True,
    slack_timeout: float = 10.0,
    listener_threads: int = 8,
    worker_idle_poll: float = 2.0,
    inbox_thread: bool = True,
    inbox_threads: int = 1,
    inbox_idle_poll: float = 0.2,
) -> Runtime:
    """Check the Slack secrets, migrate the database, open the knowledge base, build the apps.

    inbox_thread=True starts the inbox worker here, as `inbox_threads` threads of this process,
    woken by the intake itself: messages are answered as long as the runtime lives. False:
    another process answers them (`comptoir worker`), or call `runtime.start_background()`.
    The outbox worker and the scheduler are built but not started: call
    `runtime.outbox_worker.start()` (or `start_background()`) and `runtime.start_scheduler()`
    (tests may prefer `runtime.outbox.deliver_due()`, `runtime.inbox_worker.drain()` and
    `bot.sla_job.run_sla_sweep(runtime.deps, now=…)`).
    """
    settings.check_slack(socket=socket)
    if settings.database_url is None:
        settings.ensure_data_dir()
    if run_migrations:
        migrate.upgrade(settings.db_url)
    engine = make_engine(
        settings.db_url,
        statement_timeout=settings.db_statement_timeout_seconds,
        idle_in_transaction_timeout=settings.db_idle_in_transaction_timeout_seconds,
    )
    session_factory = make_sessionmaker(engine)
    if answerer is None:
        knowledge_base = open_answerer(settings)
        answerer = knowledge_base
        # the knowledge base indexes what staff save as answers, unless the caller said where
        vetted_index = vetted_index or knowledge_base  # type: ignore[assignment]
    if vetted_index is not None:
        _sync_vetted(session_factory, vetted_index)
    if classifier is None:
        classifier = make_classifier(settings)
    # the runtime's edge: the operator's files (or, when unset, the packaged defaults) are
    # resolved here once, or given by the caller (bot.cli resolves them from the same Settings)
    if policy is None:
        policy = load_policy(settings.sla_policy_path)
    if perf_config is None:
        perf_config = load_perf_config(settings.perf_config_path)
    outbox = Outbox(session_factory, slack_client(settings, timeout=slack_timeout))
    deps = Deps(
        session_factory=session_factory,
        answerer=answerer,
        outbox=outbox,
        classifier=SerialClassifier(classifier),
        policy=policy,
        triage_channel=settings.triage_channel,
        helpdesk_timezone=settings.helpdesk_timezone,
        staff_language=settings.staff_language,
        max_message_chars=settings.max_message_chars,
        vetted_index=vetted_index,
        staff_group=(
            UsergroupMembers(
                slack_client(settings, timeout=slack_timeout), settings.staff_usergroup
            )
            if settings.staff_usergroup
            else None
        ),
    )
    outbox.on_sent = partial(on_card_sent, deps)
    executor = ThreadPoolExecutor(
        max_workers=listener_threads, thread_name_prefix="comptoir-listener"
    )
    wake = threading.Event()  # set by the intake when the worker shares this process
    app = create_app(
        client=slack_client(settings, timeout=slack_timeout),
        signing_secret=str(settings.slack_signing_secret),
        deps=deps,
        executor=executor,
        intake=inbox_middleware(session_factory, on_stored=wake.set),
    )
    worker_app = create_worker_app(
        client=slack_client(settings, timeout=slack_timeout),
        signing_secret=str(settings.slack_signing_secret),
        deps=deps,
        identity_from=app,
    )
    inbox_worker = InboxWorker(
        session_factory,
        bolt_dispatcher(worker_app),
        idle_poll=inbox_idle_poll,
        threads=inbox_threads,
        wake=wake,
        lease=timedelta(seconds=settings.inbox_lease_seconds),
        give_up=partial(do_give_up, deps),
    )
    if inbox_thread:
        inbox_worker.start()
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        answerer=answerer,
        app=app,
        outbox=outbox,
        outbox_worker=OutboxWorker(outbox, idle_poll=worker_idle_poll),
        worker_app=worker_app,
        inbox_worker=inbox_worker,
        executor=executor,
        deps=deps,
        scheduler=build_scheduler(deps, schedule_for(perf_config)),
        perf_config=perf_config,
    )
