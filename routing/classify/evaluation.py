"""Held-out figures for a classifier: the numbers the bench and `classifier train` print."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from routing.classify.data import LEVELS, Example
from routing.classify.model import Classification, Classifier


@dataclass(frozen=True)
class Report:
    n: int
    accuracy: float
    precision: dict[int, float]
    recall: dict[int, float]
    confusion: list[list[int]]  # rows: true level 1..3, columns: predicted level 1..3
    kind_accuracy: float
    category_accuracy: float
    model_accuracy: float  # the model alone, before the floor rules
    model_recall: dict[int, float]
    errors: list[tuple[Example, Classification]]
    # Does the confidence mean what it says? The gap between confidence and accuracy, averaged
    # over confidence bins weighted by their size (expected calibration error), and how often
    # the level is right when the confidence says 0.9 or more (and how many such messages).
    calibration_error: float = 0.0
    right_when_sure: float = 0.0
    n_sure: int = 0


# Bin edges of the calibration error: few bins, as the sets hold a few hundred messages.
CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)
SURE = 0.9


def calibration_error(confidences: Sequence[float], right: Sequence[bool]) -> float:
    """Expected calibration error over CONFIDENCE_BINS: the size-weighted mean, over bins, of
    |mean confidence - share right|. 0 when the confidence is the chance of being right."""
    n = len(confidences)
    if n == 0:
        return 0.0
    total = 0.0
    for low, high in pairwise(CONFIDENCE_BINS):
        last = high == CONFIDENCE_BINS[-1]
        members = [i for i, c in enumerate(confidences) if low <= c < high or (last and c == high)]
        if members:
            conf = sum(confidences[i] for i in members) / len(members)
            acc = sum(1 for i in members if right[i]) / len(members)
            total += len(members) / n * abs(conf - acc)
    return total


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def score(
    examples: Sequence[Example],
    results: Sequence[Classification],
    model_levels: Sequence[int] | None = None,
) -> Report:
    confusion = [[0] * len(LEVELS) for _ in LEVELS]
    for e, r in zip(examples, results, strict=True):
        confusion[e.level - 1][r.level - 1] += 1
    n = len(examples)
    correct = sum(confusion[i][i] for i in range(len(LEVELS)))
    precision = {
        lv: _ratio(confusion[lv - 1][lv - 1], sum(row[lv - 1] for row in confusion))
        for lv in LEVELS
    }
    recall = {lv: _ratio(confusion[lv - 1][lv - 1], sum(confusion[lv - 1])) for lv in LEVELS}
    alone = list(model_levels) if model_levels is not None else [r.level for r in results]
    model_recall = {
        lv: _ratio(
            sum(1 for e, m in zip(examples, alone, strict=True) if e.level == lv and m == lv),
            sum(1 for e in examples if e.level == lv),
        )
        for lv in LEVELS
    }
    right = [e.level == r.level for e, r in zip(examples, results, strict=True)]
    confidences = [float(r.confidence) for r in results]
    sure = [i for i, c in enumerate(confidences) if c >= SURE]
    return Report(
        n=n,
        accuracy=_ratio(correct, n),
        precision=precision,
        recall=recall,
        confusion=confusion,
        kind_accuracy=_ratio(
            sum(e.kind == r.kind for e, r in zip(examples, results, strict=True)), n
        ),
        category_accuracy=_ratio(
            sum(e.category == r.category for e, r in zip(examples, results, strict=True)), n
        ),
        model_accuracy=_ratio(sum(e.level == m for e, m in zip(examples, alone, strict=True)), n),
        model_recall=model_recall,
        errors=[(e, r) for e, r in zip(examples, results, strict=True) if e.level != r.level],
        calibration_error=calibration_error(confidences, right),
        right_when_sure=_ratio(sum(1 for i in sure if right[i]), len(sure)),
        n_sure=len(sure),
    )


def judge(model: Classifier, examples: Sequence[Example]) -> tuple[list[Classification], list[int]]:
    """Classify the examples in one batch: the decisions, and the model's levels alone."""
    from routing.classify.features import featurize

    texts = [e.text for e in examples]
    preds = model.predict_features(featurize(texts, model.embed(texts)))
    results = [model.decide(t, p) for t, p in zip(texts, preds, strict=True)]
    return results, [p.level for p in preds]


def evaluate(model: Classifier, examples: Sequence[Example]) -> Report:
    """Classify the examples in one batch and score the result against their labels."""
    results, model_levels = judge(model, examples)
    return score(examples, results, model_levels)
