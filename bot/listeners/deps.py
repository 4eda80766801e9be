"""What the listeners need, built once by bot.wiring and passed in (no globals, no defaults
read here)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.listeners.parsing import MAX_MESSAGE_CHARS
from bot.outbox import Outbox
from bot.staff_groups import UsergroupMembers
from bot.vetted_sync import VettedIndexer
from knowledge.types import Answerer
from routing.classify import Classification
from routing.db import utcnow
from routing.sla_policy import SlaPolicy


class MessageClassifier(Protocol):
    """routing.classify.Classifier, or a test's small fake with the same method."""

    def classify(self, text: str) -> Classification: ...


class SerialClassifier:
    """One classification at a time: the shipped classifier loads its embedding model lazily,
    on first use, and two listener threads must not both load it. A call takes ~50 ms."""

    def __init__(self, inner: MessageClassifier) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def classify(self, text: str) -> Classification:
        with self._lock:
            return self.inner.classify(text)


@dataclass
class Deps:
    """The policy, timezone and language come from the operator's configuration, resolved
    once at the edge (bot.wiring, bot.cli): none has a default here to fall back on."""

    session_factory: sessionmaker[Session]
    answerer: Answerer
    outbox: Outbox
    policy: SlaPolicy
    helpdesk_timezone: str  # deadlines are said in this zone
    staff_language: str  # triage cards, App Home, DMs to staff
    classifier: MessageClassifier | None = None  # None: every message is a question (no tickets)
    triage_channel: str | None = None  # None: not configured (no triage cards)
    clock: Callable[[], datetime] = field(default=utcnow)
    working_reaction: str = "eyes"
    staff_group: UsergroupMembers | None = None  # COMPTOIR_STAFF_USERGROUP, when set
    # the classifier and the answerer read this much of a message (COMPTOIR_MAX_MESSAGE_CHARS)
    max_message_chars: int = MAX_MESSAGE_CHARS
    # where "Save as an answer" indexes what staff save (the knowledge base); None: stored only
    vetted_index: VettedIndexer | None = None

    def staff_members(self) -> frozenset[str]:
        """The staff user group's members (cached); empty when no group is configured.
        Call it before opening a transaction: it may ask Slack."""
        return self.staff_group.members() if self.staff_group is not None else frozenset()
