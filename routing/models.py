"""Tables. Every change a user could ask about is a row, never only a log line."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from routing.db import Base, UTCDateTime, utcnow


class Seller(Base):
    __tablename__ = "sellers"

    seller_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    account_manager_id: Mapped[str | None] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # the directory's optional `nudges` column: "off" means no weekly performance nudge
    nudges_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SlackEvent(Base):
    """Every delivery Slack made us, keyed by event id: retries and replays are seen here."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="received")
    note: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Question(Base):
    """A seller message the bot judged, with what it answered."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("channel_id", "message_ts", name="uq_question_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.seller_id"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(2))
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    answer_text: Mapped[str | None] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mode: Mapped[str] = mapped_column(String(16), default="extractive")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Feedback(Base):
    """A seller's click on an answer: "resolved" or "human" (the hand-off tickets start from)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("question_id", "kind", name="uq_feedback_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """A Slack Web API call waiting to be made; kept until Slack took it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    method: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    ordering_key: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---- help desk (issue 3): staff, tickets, their events and SLA clocks -------------------------


class Staff(Base):
    """Who may act on tickets, and in which role (agent, lead, account_manager, head)."""

    __tablename__ = "staff"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ticket(Base):
    """One seller thread that needs a human. Its state is the fold of its events."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("channel_id", "thread_ts", name="uq_ticket_thread"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.seller_id"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(2))
    summary: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    seller_card_ts: Mapped[str | None] = mapped_column(String(32))
    triage_channel: Mapped[str | None] = mapped_column(String(32))
    triage_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[str | None] = mapped_column(String(8))


class TicketEvent(Base):
    """Every change of a ticket: who (null = the system), what, when, from which Slack message."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))


class SlaClock(Base):
    """One SLA target of one ticket. A re-level or a reopen starts a new generation (a new row),
    so each warning and breach is fired at most once per row, claimed by warned_at/breached_at."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target", "generation", name="uq_sla_clock_generation"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    target: Mapped[str] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    level: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))


class RelevelExample(Base):
    """A staff re-level, kept as a labelled example for `comptoir classifier train`."""

    __tablename__ = "relevel_examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    by_user: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboxEvent(Base):
    """A Slack delivery stored before it is acknowledged; a worker answers it afterwards.

    The HTTP process only verifies, stores and acknowledges, so answering load never slows
    the ack, and an event acknowledged just before a crash is still answered on restart."""

    __tablename__ = "slack_inbox"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a working claim holds the row until then (its owner's lease, renewed by its heartbeat)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---- seller performance (issue 4): daily metrics, evaluations, nudges, digests, job runs --------


class MetricsDaily(Base):
    """One seller's counts for one day, as the operator's warehouse exports them.

    Means (delays, rating) are kept with the count they are a mean of, so a 30-day window can
    weight them correctly; they are null when that count is zero."""

    __tablename__ = "metrics_daily"

    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.seller_id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    orders: Mapped[int] = mapped_column(Integer)
    accepted_orders: Mapped[int] = mapped_column(Integer)
    acceptance_delay_hours: Mapped[float | None] = mapped_column(Float)
    seller_cancellations: Mapped[int] = mapped_column(Integer)
    shipments: Mapped[int] = mapped_column(Integer)
    late_shipments: Mapped[int] = mapped_column(Integer)
    shipments_with_tracking: Mapped[int] = mapped_column(Integer)
    customer_messages: Mapped[int] = mapped_column(Integer)
    response_hours: Mapped[float | None] = mapped_column(Float)
    incidents: Mapped[int] = mapped_column(Integer)
    ratings_count: Mapped[int] = mapped_column(Integer)
    rating_mean: Mapped[float | None] = mapped_column(Float)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PerfEvaluation(Base):
    """A seller's standing on one day: "daily" rows are overwritten, "weekly" ones are history."""

    __tablename__ = "perf_evaluations"
    __table_args__ = (UniqueConstraint("seller_id", "day", "kind", name="uq_perf_evaluation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.seller_id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(8))
    orders: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alerts: Mapped[list[str]] = mapped_column(JSON, default=list)
    limits: Mapped[list[str]] = mapped_column(JSON, default=list)
    score: Mapped[float | None] = mapped_column(Float)
    segment: Mapped[str] = mapped_column(String(16), index=True)
    trend: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    projection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Nudge(Base):
    """A weekly performance message to a seller; the unique key keeps it to one a week."""

    __tablename__ = "nudges"
    __table_args__ = (UniqueConstraint("seller_id", "week", name="uq_nudge_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.seller_id"), index=True)
    week: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(8))
    metric: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2))
    posted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Digest(Base):
    """An account manager's daily digest, one a day."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("account_manager_id", "day", name="uq_digest_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_manager_id: Mapped[str] = mapped_column(String(32), index=True)
    day: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    chart_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobRun(Base):
    """One run of a scheduled job for one period: the unique key is what stops a double run."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "period_key", name="uq_job_run_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner: Mapped[str] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)


class WorkerHeartbeat(Base):
    """A running `comptoir worker`, upserted every few seconds (routing.workers): /healthz
    tells a silent or missing worker from its age, wherever the worker runs."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    doing: Mapped[str] = mapped_column(String(200))


class VettedAnswer(Base):
    """A staff reply saved as an answer for every seller (issue 10): the question, the text as
    edited in the modal (never the raw message), who saved it. Retired rows stay, for audit;
    the source thread is kept for audit only and is never shown to another seller."""

    __tablename__ = "vetted_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2))
    author_id: Mapped[str] = mapped_column(String(32))
    guideline_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    source_question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"))
    source_channel_id: Mapped[str | None] = mapped_column(String(32))
    source_thread_ts: Mapped[str | None] = mapped_column(String(32))
    source_message_ts: Mapped[str | None] = mapped_column(String(32))
