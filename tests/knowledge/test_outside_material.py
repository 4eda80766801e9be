"""The outside material (issue 10) stays whole: pages, questions and messages agree.

knowledge/outside holds restated real marketplace pages and questions on them;
routing/classify/data/outside.jsonl holds seller messages. Both are split by marketplace, so
that what is looked into (dev, train) never shares a marketplace with what is only counted
(test). Fast: files only, no model.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from knowledge.evaluation import (
    OUTSIDE_EVAL_PATH,
    OUTSIDE_GUIDELINES,
    EvalRow,
    Outcome,
    load_eval,
    metrics,
)
from knowledge.loaders import load_document
from routing.classify.data import CATEGORIES, DATA_DIR, MESSAGES_PATH, load_examples

OUTSIDE_MESSAGES = DATA_DIR / "outside.jsonl"
ASKS = {"number", "duration", "yesno", "procedure", "place", "other"}


@cache
def pages() -> dict[str, dict[str, Any]]:
    """Front matter of every outside page, by path relative to the guidelines folder."""
    found = {}
    for path in sorted(OUTSIDE_GUIDELINES.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            text = path.read_text(encoding="utf-8")
            assert text.startswith("---\n"), path
            head = yaml.safe_load(text.split("---\n", 2)[1])
            found[path.relative_to(OUTSIDE_GUIDELINES).as_posix()] = head
    return found


@cache
def questions() -> list[dict[str, Any]]:
    return _jsonl(OUTSIDE_EVAL_PATH)


@cache
def messages() -> list[dict[str, Any]]:
    return _jsonl(OUTSIDE_MESSAGES)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _one_split_per_marketplace(items: list[tuple[str, str]]) -> None:
    splits: dict[str, set[str]] = {}
    for marketplace, split in items:
        splits.setdefault(marketplace, set()).add(split)
    both = {m: s for m, s in splits.items() if len(s) > 1}
    assert not both, both


def test_every_page_says_where_it_comes_from_and_which_part_it_belongs_to() -> None:
    found = pages()
    for path, head in found.items():
        assert str(head.get("title") or "").strip(), path
        assert str(head.get("source_url") or "").startswith(("http://", "https://")), path
        assert str(head.get("marketplace") or "").strip(), path
        assert head.get("language") in ("fr", "en"), path
        assert head.get("split") in ("dev", "test"), path
    assert len(found) >= 40
    assert len({head["marketplace"] for head in found.values()}) >= 8
    # Both parts hold pages in both languages.
    assert {(h["split"], h["language"]) for h in found.values()} == {
        (s, lang) for s in ("dev", "test") for lang in ("fr", "en")
    }


def test_every_page_loads_into_sections() -> None:
    for path in pages():
        doc = load_document(OUTSIDE_GUIDELINES / path, OUTSIDE_GUIDELINES)
        assert doc.sections, path


def test_no_marketplace_is_in_both_parts() -> None:
    _one_split_per_marketplace([(h["marketplace"], h["split"]) for h in pages().values()])
    _one_split_per_marketplace([(q["marketplace"], q["split"]) for q in questions()])
    _one_split_per_marketplace([(m["marketplace"], m["split"]) for m in messages()])


def test_every_question_is_well_formed_and_points_at_pages_that_exist() -> None:
    found = pages()
    rows = questions()
    assert len(rows) >= 200
    assert len({q["id"] for q in rows}) == len(rows)
    for q in rows:
        assert str(q["question"]).strip(), q["id"]
        assert q["language"] in ("fr", "en"), q["id"]
        assert q["style"] in ("clean", "slack", "cross"), q["id"]
        assert q["split"] in ("dev", "test"), q["id"]
        assert q["asks"] in ASKS, q["id"]
        assert str(q.get("marketplace") or "").strip(), q["id"]
        assert str(q.get("source_url") or "").startswith(("http://", "https://")), q["id"]
        if q["answerable"]:
            assert q["expected"] in found, q["id"]
            assert q["facts"], q["id"]
        else:
            assert q["expected"] is None and not q["facts"] and not q["also"], q["id"]
        for page in [q["expected"], *q["also"]] if q["expected"] else []:
            assert page in found, (q["id"], page)
            # A dev question answered by a test page (or the reverse) would leak the test part.
            assert found[page]["split"] == q["split"], (q["id"], page)


def test_every_fact_is_verbatim_in_its_expected_page() -> None:
    for row in load_eval(OUTSIDE_EVAL_PATH):
        if row.expected is None:
            continue
        doc = load_document(OUTSIDE_GUIDELINES / row.expected, OUTSIDE_GUIDELINES)
        text = "\n".join(section.text for section in doc.sections)
        for fact in row.facts:
            assert fact in text, (row.id, fact)


def test_enough_unanswerable_and_cross_language_questions() -> None:
    found = pages()
    rows = questions()
    unanswerable = [q for q in rows if not q["answerable"]]
    cross = [
        q
        for q in rows
        if q["style"] == "cross"
        and q["expected"] is not None
        and found[q["expected"]]["language"] != q["language"]
    ]
    assert len(unanswerable) >= 0.2 * len(rows)
    assert len(cross) >= 0.2 * len(rows)
    # A question styled cross is cross-language indeed.
    assert len(cross) == sum(q["style"] == "cross" for q in rows)
    # Both parts are measured on each kind.
    for split in ("dev", "test"):
        assert any(q["split"] == split for q in unanswerable)
        assert any(q["split"] == split for q in cross)


def test_messages_are_well_formed_and_labelled_with_the_known_labels() -> None:
    rows = messages()
    assert len(rows) >= 500
    assert len({m["id"] for m in rows}) == len(rows)
    # Ids never collide with the team's own messages.
    assert not {m["id"] for m in rows} & {e.id for e in load_examples(MESSAGES_PATH)}
    examples = load_examples(OUTSIDE_MESSAGES)  # raises DatasetError on a bad label
    assert len(examples) == len(rows)
    for m in rows:
        assert m["level"] in (1, 2, 3) and not isinstance(m["level"], bool), m["id"]
        assert m["kind"] in ("question", "problem"), m["id"]
        assert m["category"] in CATEGORIES, m["id"]
        assert m["category_blind"] in CATEGORIES, m["id"]
        assert m["language"] in ("fr", "en"), m["id"]
        assert m["split"] in ("train", "test"), m["id"]
        assert str(m.get("marketplace") or "").strip(), m["id"]
        assert str(m.get("source_url") or "").startswith(("http://", "https://")), m["id"]
    assert set(Counter(m["split"] for m in rows)) == {"train", "test"}
    assert {m["level"] for m in rows if m["split"] == "test"} == {1, 2, 3}


def test_the_outside_questions_load_with_their_extra_fields() -> None:
    rows = load_eval(OUTSIDE_EVAL_PATH)
    assert len(rows) == len(questions())
    assert all(r.asks in ASKS and r.marketplace and r.source_url for r in rows)
    assert any(r.also for r in rows)
    assert {r.split for r in load_eval(OUTSIDE_EVAL_PATH, split="test")} == {"test"}


def test_a_page_in_also_counts_as_a_retrieval_hit() -> None:
    row = EvalRow("o1", "?", "en", "a.md", True, "clean", "test", ("x",), also=("b.md",))
    assert row.pages == ("a.md", "b.md")
    got = metrics([Outcome(row, ["c.md", "b.md", "a.md"], True)])
    assert got["recall@1"] == 0.0 and got["recall@3"] == 1.0 and got["mrr"] == 0.5
    assert metrics([Outcome(row, ["c.md", "d.md"], True)])["recall@3"] == 0.0
