"""Fit the answer/abstain calibration on the dev split and print it.

    .venv/bin/python -m bench.calibrate

The printed block is what knowledge/calibration.py ships (a test checks they agree).
Logistic regression (L2, Newton's method) on standardised retrieval features; the
label is "the guidelines answer this question". The threshold follows the product's
targets: it is the highest one that still answers ANSWER_TARGET of dev's answerable
questions, so every gain in separation goes to abstaining where the guidelines are silent.
Above every unanswerable dev question's confidence lies `sure`: below it an answer is
offered as the closest passage, which may not answer (knowledge.answer).
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from knowledge.answer import FEATURES, features
from knowledge.calibration import Calibration
from knowledge.embeddings import make_embeddings
from knowledge.evaluation import GUIDELINES, load_eval
from knowledge.service import KnowledgeBase

L2 = 1.0
DIGITS = 4
# The target: answer at least 90 % of the questions the guidelines answer.
ANSWER_TARGET = 0.90


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


def sure_threshold(conf: np.ndarray, y: np.ndarray) -> float:
    """The lowest confidence above every unanswerable (y == 0) question: an answer at or
    above it is given as the answer, one below it as the closest passage. Midway between the
    highest unanswerable confidence and the next higher confidence of any question, rounded
    up to 3 digits (1.0 when none is higher)."""
    unanswerable = conf[y == 0]
    if len(unanswerable) == 0:
        return 0.0
    top = float(unanswerable.max())
    above = conf[conf > top]
    if not len(above):
        return 1.0
    return math.ceil((top + float(above.min())) / 2 * 1000) / 1000


def dev_features(knowledge_base: KnowledgeBase) -> tuple[list[dict[str, float]], np.ndarray]:
    """The retrieval features of every dev question, and whether the guidelines answer it."""
    rows = load_eval(split="dev")
    found = [features(knowledge_base.search(r.question)) for r in rows]
    return found, np.array([1.0 if r.answerable else 0.0 for r in rows])


def fit(knowledge_base: KnowledgeBase) -> Calibration:
    return fit_features(*dev_features(knowledge_base))


def fit_features(found: list[dict[str, float]], y: np.ndarray) -> Calibration:
    x = np.array([[f[k] for k in FEATURES] for f in found])
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    means, scales = np.round(means, DIGITS), np.round(scales, DIGITS)
    weights, bias = fit_logistic((x - means) / scales, y)
    weights, bias = np.round(weights, DIGITS), round(bias, DIGITS)
    z = ((x - means) / scales) @ weights + bias
    conf = 1 / (1 + np.exp(-z))
    return Calibration(
        weights=tuple(float(v) for v in weights),
        bias=float(bias),
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        threshold=best_threshold(conf, y),
        sure=sure_threshold(conf, y),
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
        kb = KnowledgeBase.open(persist_dir=Path(tmp), embeddings=make_embeddings())
        kb.ingest(GUIDELINES)
        cal = fit(kb)
    print(f"# features: {', '.join(FEATURES)}", file=sys.stderr)
    print(render(cal))


if __name__ == "__main__":
    main()
