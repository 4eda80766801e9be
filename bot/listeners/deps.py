"""What the listeners need, built once by bot.wiring and passed in (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.outbox import Outbox
from knowledge.types import Answerer
from routing.db import utcnow


@dataclass
class Deps:
    session_factory: sessionmaker[Session]
    answerer: Answerer
    outbox: Outbox
    clock: Callable[[], datetime] = field(default=utcnow)
    working_reaction: str = "eyes"
