"""The labelled evaluation set and its metrics, shared by the benches and the tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample"
EVAL_PATH = SAMPLE / "eval.jsonl"
GUIDELINES = SAMPLE / "guidelines"
# Restated real marketplace pages and questions on them (see outside/README.md).
OUTSIDE = Path(__file__).resolve().parent / "outside"
OUTSIDE_EVAL_PATH = OUTSIDE / "eval.jsonl"
OUTSIDE_GUIDELINES = OUTSIDE / "guidelines"

_REQUIRED = ("id", "question", "language", "expected", "answerable", "style", "split")


@dataclass(frozen=True)
class EvalRow:
    id: str
    question: str
    language: str
    expected: str | None
    answerable: bool
    style: str
    split: str
    # Verbatim spans of the expected guideline that answer the question: a quote holding
    # any one of them answers it (empty for unanswerable questions).
    facts: tuple[str, ...] = ()
    # The outside set only (knowledge/outside/eval.jsonl): what the question asks for
    # (number, duration, yesno, procedure, place, other), the marketplace and the page it
    # was modelled on, and other pages that answer it as well as `expected` does.
    asks: str | None = None
    marketplace: str | None = None
    source_url: str | None = None
    also: tuple[str, ...] = ()

    @property
    def pages(self) -> tuple[str, ...]:
        """The pages whose retrieval counts as a hit: `expected`, then those in `also`."""
        return () if self.expected is None else (self.expected, *self.also)


def load_eval(path: Path = EVAL_PATH, *, split: str | None = None) -> list[EvalRow]:
    """The sample set by default; `OUTSIDE_EVAL_PATH` for the outside one."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            rows.append(
                EvalRow(
                    **{k: raw[k] for k in _REQUIRED},
                    facts=tuple(raw.get("facts") or ()),
                    asks=raw.get("asks"),
                    marketplace=raw.get("marketplace"),
                    source_url=raw.get("source_url"),
                    also=tuple(raw.get("also") or ()),
                )
            )
    return [r for r in rows if split is None or r.split == split]


def hit_rank(row: EvalRow, ranking: Sequence[str]) -> int | None:
    """1-based rank of the first page that answers the row (`expected` or one in `also`)."""
    pages = set(row.pages)
    return next((i for i, doc in enumerate(ranking, start=1) if doc in pages), None)


@dataclass(frozen=True)
class Outcome:
    """One system's result on one question: its document ranking and its decision."""

    row: EvalRow
    ranking: Sequence[str]  # document sources, best first
    answered: bool
    text: str | None = None  # what the seller would read, for systems that answer in words
    tentative: bool = False  # answered, but offered as the closest passage (may not answer)


def holds_fact(text: str, facts: Sequence[str]) -> bool:
    """Whether the text quotes one of the facts (case, spacing and no-break spaces aside)."""

    def norm(s: str) -> str:
        return " ".join(s.replace("\u00a0", " ").replace("\u202f", " ").split()).casefold()

    body = norm(text)
    return any(norm(f) in body for f in facts)


def metrics(outcomes: Iterable[Outcome]) -> dict[str, float]:
    items = list(outcomes)
    answerable = [o for o in items if o.row.answerable]
    unanswerable = [o for o in items if not o.row.answerable]

    ranks = [hit_rank(o.row, o.ranking) for o in answerable]
    n = max(len(answerable), 1)
    quoted = [o for o in answerable if o.answered and o.text is not None and o.row.facts]
    extra = (
        {"quote_hit": sum(holds_fact(o.text or "", o.row.facts) for o in quoted) / len(quoted)}
        if quoted
        else {}
    )
    return {
        "n": len(items),
        "recall@1": sum(1 for r in ranks if r == 1) / n,
        "recall@3": sum(1 for r in ranks if r is not None and r <= 3) / n,
        "mrr": sum(1 / r for r in ranks if r is not None) / n,
        "answer_rate": sum(o.answered for o in answerable) / n,
        "abstain_rate": sum(not o.answered for o in unanswerable) / max(len(unanswerable), 1),
        # Unanswerable questions answered as if the guidelines answered them (no hedge): the
        # answers that mislead. 1 - abstain_rate for a system that never hedges.
        "sure_wrong": sum(o.answered and not o.tentative for o in unanswerable)
        / max(len(unanswerable), 1),
        # Answerable questions whose answer was offered only as the closest passage.
        "tentative": sum(o.answered and o.tentative for o in answerable) / n,
        # Of the answered questions the guidelines answer, the share whose quote holds the fact.
        **extra,
    }
