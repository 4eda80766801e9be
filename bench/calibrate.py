"""Fit the answer/abstain calibration on the dev parts and print it.

    .venv/bin/python -m bench.calibrate

The printed block is what knowledge/calibration.py ships (a test checks they agree).
Logistic regression (L2, Newton's method) on standardised retrieval features; the
label is "the guidelines answer this question". It is fitted on both dev parts: the
sample's (questions on the team's own guidelines) and the outside material's (questions
on restated real marketplace pages, knowledge/outside), so that it holds on pages the
team did not write; the outside test part is never read here.
The thresholds follow the product's targets on each dev part: the threshold is the
highest one that still answers ANSWER_TARGET of each part's answerable questions, so every
gain in separation goes to abstaining where the guidelines are silent. `sure` is the lowest
confidence that at most SURE_TARGET of each part's unanswerable questions reach: below it
an answer is offered as the closest passage, which may not answer (knowledge.answer).
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge.answer import FEATURES
from knowledge.calibration import Calibration
from knowledge.embeddings import make_embeddings
from knowledge.evaluation import GUIDELINES, OUTSIDE_EVAL_PATH, OUTSIDE_GUIDELINES, load_eval
from knowledge.service import KnowledgeBase

L2 = 1.0
DIGITS = 4
# The targets: answer at least 90 % of the questions the guidelines answer, and give
# a confident (unhedged) answer to at most 10 % of those they do not.
ANSWER_TARGET = 0.90
SURE_TARGET = 0.10


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (bias not penalised)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + penalty * w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w[:-1], float(w[-1])


def best_threshold(conf: np.ndarray, y: np.ndarray, answer_target: float = ANSWER_TARGET) -> float:
    """The highest threshold answering at least `answer_target` of the answerable (y == 1).

    It sits midway between the lowest confidence that must still be answered and the next
    lower confidence of any question, rounded down to 3 digits.
    """
    answerable = np.sort(conf[y == 1])
    if len(answerable) == 0:
        return 0.5
    must_answer = float(answerable[int(np.floor((1 - answer_target) * len(answerable)))])
    below = conf[conf < must_answer]
    lower = float(below.max()) if len(below) else 0.0
    return math.floor((must_answer + lower) / 2 * 1000) / 1000


def sure_threshold(conf: np.ndarray, y: np.ndarray, sure_target: float = SURE_TARGET) -> float:
    """The lowest confidence that at most `sure_target` of the unanswerable (y == 0)
    questions reach: an answer at or above it is given as the answer, one below it as the
    closest passage. Midway between the highest unanswerable confidence that must stay
    below it and the next higher confidence of any question, rounded up to 3 digits (1.0
    when none is higher)."""
    unanswerable = np.sort(conf[y == 0])[::-1]
    if len(unanswerable) == 0:
        return 0.0
    allowed = int(np.floor(sure_target * len(unanswerable)))
    if allowed >= len(unanswerable):
        return 0.0
    top = float(unanswerable[allowed])
    above = conf[conf > top]
    if not len(above):
        return 1.0
    return math.ceil((top + float(above.min())) / 2 * 1000) / 1000


def dev_features(
    knowledge_base: KnowledgeBase, outside_base: KnowledgeBase | None = None
) -> tuple[list[dict[str, float]], np.ndarray, list[str]]:
    """The features of every dev question, whether the guidelines answer it, and its part:
    the sample's dev part on `knowledge_base` (the sample guidelines), then the outside dev
    part on `outside_base` (the outside pages), when given."""
    parts = [("sample", knowledge_base, load_eval(split="dev"))]
    if outside_base is not None:
        parts.append(("outside", outside_base, load_eval(OUTSIDE_EVAL_PATH, split="dev")))
    found: list[dict[str, float]] = []
    labels: list[float] = []
    names: list[str] = []
    for name, kb, rows in parts:
        for r in rows:
            found.append(kb.features_of(kb.search(r.question))[0])
            labels.append(1.0 if r.answerable else 0.0)
            names.append(name)
    return found, np.array(labels), names


def fit(knowledge_base: KnowledgeBase, outside_base: KnowledgeBase | None = None) -> Calibration:
    return fit_features(*dev_features(knowledge_base, outside_base))


def fit_features(
    found: list[dict[str, float]],
    y: np.ndarray,
    parts: Sequence[str] | None = None,
    *,
    names: Sequence[str] = FEATURES,
) -> Calibration:
    """The logistic fit on every question; the thresholds meet the targets on each part
    (`parts` names each question's, e.g. "sample" and "outside") on its own: the lowest
    of the parts' answer thresholds, the highest of their `sure` ones, so that pooling
    a smaller part with a larger one never lets the smaller miss a target."""
    x = np.array([[f[k] for k in names] for f in found])
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    means, scales = np.round(means, DIGITS), np.round(scales, DIGITS)
    weights, bias = fit_logistic((x - means) / scales, y)
    weights, bias = np.round(weights, DIGITS), round(bias, DIGITS)
    z = ((x - means) / scales) @ weights + bias
    conf = 1 / (1 + np.exp(-z))
    part_of = np.array(parts if parts is not None else [""] * len(found))
    masks = [part_of == part for part in sorted(set(part_of))]
    return Calibration(
        weights=tuple(float(v) for v in weights),
        bias=float(bias),
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        threshold=min(best_threshold(conf[mask], y[mask]) for mask in masks),
        sure=max(sure_threshold(conf[mask], y[mask]) for mask in masks),
    )


def render(cal: Calibration) -> str:
    return (
        "CALIBRATION = Calibration(\n"
        f"    weights={cal.weights!r},\n"
        f"    bias={cal.bias!r},\n"
        f"    means={cal.means!r},\n"
        f"    scales={cal.scales!r},\n"
        f"    threshold={cal.threshold!r},\n"
        f"    sure={cal.sure!r},\n"
        ")"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        embeddings = make_embeddings()
        kb = KnowledgeBase.open(persist_dir=Path(tmp) / "sample", embeddings=embeddings)
        kb.ingest(GUIDELINES)
        outside = KnowledgeBase.open(persist_dir=Path(tmp) / "outside", embeddings=embeddings)
        outside.ingest(OUTSIDE_GUIDELINES)
        cal = fit(kb, outside)
    print(f"# features: {', '.join(FEATURES)}", file=sys.stderr)
    print(render(cal))


if __name__ == "__main__":
    main()
