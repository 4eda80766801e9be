"""Vetted answers between the database (routing.vetted_answers) and the answer index
(knowledge.vetted): the rows are the truth, the index is rebuilt from them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from knowledge.vetted import SyncReport, VettedEntry
from routing import vetted_answers
from routing.models import VettedAnswer

logger = logging.getLogger(__name__)


class VettedIndexer(Protocol):
    """knowledge.service.KnowledgeBase's vetted-answer methods."""

    def add_vetted(self, entries: Sequence[VettedEntry]) -> None: ...

    def remove_vetted(self, ids: Sequence[int]) -> None: ...

    def sync_vetted(self, entries: Sequence[VettedEntry]) -> SyncReport: ...


def entry_of(row: VettedAnswer) -> VettedEntry:
    """What the index holds of a row: the question, the edited answer, its language, its date
    (in UTC) and its guideline link. Never the source thread."""
    return VettedEntry(
        id=row.id,
        question=row.question,
        answer=row.answer,
        language="en" if row.language == "en" else "fr",
        created=row.created_at.date(),
        url=row.guideline_url,
    )


def active_entries(session: Session) -> list[VettedEntry]:
    return [entry_of(row) for row in vetted_answers.active_vetted_answers(session)]


def do_sync_index(factory: sessionmaker[Session], indexer: VettedIndexer) -> SyncReport:
    """Make the index hold the database's answers not retired (at start, and on demand)."""
    with factory() as session:
        entries = active_entries(session)
    report = indexer.sync_vetted(entries)
    if report.added or report.removed:
        logger.info(
            "vetted answers: %d indexed, %d removed from the index, %d unchanged",
            len(report.added),
            len(report.removed),
            report.kept,
        )
    return report
