"""Plain values that cross the knowledge package's boundary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Language = Literal["fr", "en"]


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk of a guideline, with where it comes from."""

    chunk_id: str
    text: str
    title: str
    source: str  # file path relative to the ingested folder
    section: str  # heading path, " > " between levels
    url: str | None
    language: Language
    score: float


@dataclass(frozen=True)
class Citation:
    title: str
    source: str
    section: str
    score: float
    url: str | None = None
    language: Language | None = None

    @classmethod
    def of(cls, passage: Passage) -> Citation:
        return cls(
            title=passage.title,
            source=passage.source,
            section=passage.section,
            score=round(passage.score, 4),
            url=passage.url,
            language=passage.language,
        )


@dataclass(frozen=True)
class Answer:
    answered: bool
    language: Language
    text: str
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    # "tentative": extractive, offered as the closest passage (knowledge.answer); "vetted": a
    # help-desk answer staff saved (knowledge.vetted), given as the answer
    mode: Literal["extractive", "tentative", "generative", "abstain", "vetted"] = "extractive"

    @property
    def decision(self) -> Literal["sure", "tentative", "abstain"]:
        """sure: given as the answer; tentative: offered as the closest passage, which may not
        answer; abstain: handed to a person."""
        if not self.answered or self.mode == "abstain":
            return "abstain"
        return "tentative" if self.mode == "tentative" else "sure"

    def to_json(self) -> dict[str, Any]:
        """The `comptoir ask --json` shape."""
        return {
            "answered": self.answered,
            "mode": self.decision,
            "language": self.language,
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "citations": [
                {k: v for k, v in asdict(c).items() if k in {"title", "source", "section", "score"}}
                for c in self.citations
            ],
        }


@dataclass(frozen=True)
class Turn:
    """An earlier exchange in the same Slack thread."""

    question: str
    answer: str | None = None


class EmptyIndexError(RuntimeError):
    """Nothing has been ingested into this collection yet."""


class Answerer(Protocol):
    def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer: ...
