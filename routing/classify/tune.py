"""Choose the regularisation, the doubt threshold, the topic cues' weight and the latent
concepts' weight by cross-validation on train only.

`python -m routing.classify.tune` prints the grid; DEFAULT_L2, DEFAULT_DOUBT,
DEFAULT_TOPIC_WEIGHT and DEFAULT_CONCEPT_WEIGHT in model.py were set from it. Train is the team's train split and the outside messages' train
marketplaces (`training_examples`); the test split and the outside test marketplaces are
never looked at here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from routing.classify.data import Example, near_duplicate_groups, training_examples
from routing.classify.features import dense_part, featurize
from routing.classify.model import Classifier, fit_features, shipped_embedder

L2_GRID = (0.01, 0.03, 0.1)
DOUBT_GRID = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
TOPIC_WEIGHT_GRID = (1.0, 3.0, 5.0)
CONCEPT_WEIGHT_GRID = (0.0, 0.3, 0.5)  # 0: the model without the latent concepts
# issue 10's level targets, asked of the out-of-fold figures: Level 3 recall at least 97 %,
# at most 5 % of Level 1 questions rated Level 3 (each pages an account manager for nothing)
LEVEL3_RECALL_GOAL = 0.97
LEVEL1_AS_3_LIMIT = 0.05

Setting = tuple[float, float, float, float]  # l2, doubt, topic weight, concept weight


def folds_of(
    examples: Sequence[Example], groups: Sequence[int], k: int = 5, seed: int = 0
) -> list[int]:
    """A fold number per example, stratified by level; a group stays in one fold.

    Without the groups a message's translation would sit in another fold and the
    cross-validated figures would flatter the model, as a leaky test split would.
    """
    rng = np.random.default_rng(seed)
    fold = [0] * len(examples)
    for level in sorted({e.level for e in examples}):
        by_group: dict[int, list[int]] = {}
        for i, e in enumerate(examples):
            if e.level == level:
                by_group.setdefault(groups[i], []).append(i)
        order = list(by_group.values())
        rng.shuffle(order)  # type: ignore[arg-type]
        sizes = [0] * k
        for members in order:
            target = min(range(k), key=lambda f: (sizes[f], f))
            for i in members:
                fold[i] = target
            sizes[target] += len(members)
    return fold


def cross_validate(
    examples: Sequence[Example],
    x: np.ndarray,
    groups: Sequence[int],
    *,
    l2: float,
    doubts: Sequence[float],
    topic_weight: float = 1.0,
    concept_weight: float = 0.0,
    k: int = 5,
) -> dict[float, dict[str, float]]:
    """Out-of-fold accuracy and Level 3 recall for each doubt, with and without rules, and
    the category accuracy (the model's category after the category rules)."""
    truth = np.array([e.level for e in examples])
    finals: dict[float, np.ndarray] = {d: np.zeros(len(examples), dtype=int) for d in doubts}
    alone: dict[float, np.ndarray] = {d: np.zeros(len(examples), dtype=int) for d in doubts}
    categories = np.array([""] * len(examples), dtype=object)
    truth_categories = np.array([e.category for e in examples], dtype=object)
    setting = (l2, doubts[0], topic_weight, concept_weight)
    for model, te in out_of_fold(examples, x, groups, setting, k):
        for d in doubts:
            model.doubt = d
            for i, p in zip(te, model.predict_features(x[te]), strict=True):
                decided = model.decide(examples[int(i)].text, p)
                finals[d][i] = decided.level
                alone[d][i] = p.level
                categories[i] = decided.category
    out = {}
    for d in doubts:
        level3 = truth == 3
        level1 = truth == 1
        out[d] = {
            "accuracy": float((finals[d] == truth).mean()),
            "level3_recall": float((finals[d][level3] == 3).mean()),
            "level1_as_3": float((finals[d][level1] == 3).mean()),
            "model_accuracy": float((alone[d] == truth).mean()),
            "model_level3_recall": float((alone[d][level3] == 3).mean()),
            "category_accuracy": float(np.mean(categories == truth_categories)),
        }
    return out


def out_of_fold(
    examples: Sequence[Example],
    x: np.ndarray,
    groups: Sequence[int],
    setting: Setting,
    k: int = 5,
) -> Iterator[tuple[Classifier, np.ndarray]]:
    """For each of `k` folds (groups kept whole), the model fitted with `setting` on the other
    folds, and the indices of the fold's examples."""
    l2, doubt, topic_weight, concept_weight = setting
    fold = np.array(folds_of(examples, groups, k))
    for f in range(k):
        tr = np.flatnonzero(fold != f)
        model = fit_features(
            x[tr],
            [examples[int(i)] for i in tr],
            [1.0] * len(tr),
            l2=l2,
            doubt=doubt,
            topic_weight=topic_weight,
            concept_weight=concept_weight,
        )
        yield model, np.flatnonzero(fold == f)


def confidence_map(
    examples: Sequence[Example],
    x: np.ndarray,
    groups: Sequence[int],
    setting: Setting,
    k: int = 5,
) -> tuple[float, float]:
    """The slope and bias that map the model's probability of its level to the chance that
    the level is right (model.calibrated), fitted on the out-of-fold predictions of `setting`.
    Levels set by a floor rule or the no-request rule are left out: their confidence is the
    rule's."""
    from routing.classify.model import NO_REQUEST_REASON

    logits: list[float] = []
    right: list[float] = []
    for model, te in out_of_fold(examples, x, groups, setting, k):
        for i, pred in zip(te, model.predict_features(x[te]), strict=True):
            decided = model.decide(examples[int(i)].text, pred)
            if decided.level > pred.level or NO_REQUEST_REASON in decided.reasons:
                continue
            p = min(max(pred.level_probs.get(decided.level, 0.0), 1e-6), 1 - 1e-6)
            logits.append(float(np.log(p / (1 - p))))
            right.append(float(decided.level == examples[int(i)].level))
    return platt(np.array(logits), np.array(right))


def platt(logits: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """Slope and bias of P(right) = sigmoid(slope * logit + bias), by Newton's method (a
    whisper of L2 keeps it finite when every level is right)."""
    xb = np.stack([logits, np.ones_like(logits)], axis=1)
    w = np.array([1.0, 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - right) + 1e-3 * w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + 1e-3 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return round(float(w[0]), 4), round(float(w[1]), 4)


def source_groups(examples: Sequence[Example], vectors: np.ndarray) -> list[int]:
    """A group per outside marketplace (its messages stay in one fold, as in the test split,
    which is by marketplace); the team's own messages group by near-duplicate."""
    groups = near_duplicate_groups(dense_part(vectors))
    sources = sorted({e.source for e in examples if e.source})
    base = len(examples)
    return [
        base + sources.index(e.source) if e.source else g
        for e, g in zip(examples, groups, strict=True)
    ]


def choose(results: dict[Setting, dict[str, float]]) -> Setting:
    """The issue's order of priorities, among the settings that rate at most
    LEVEL1_AS_3_LIMIT of the Level 1 questions Level 3 out of fold (all of them if none
    does): Level 3 recall first (a suspended seller is never queued as a how-to question),
    then accuracy with and without the floor rules (the rules will miss phrasings nobody
    thought of) plus the category accuracy. Among the settings reaching LEVEL3_RECALL_GOAL,
    the best accuracy; if none does, the best recall, to two digits (a message or two),
    then the best accuracy."""

    def accuracy(key: Setting) -> float:
        r = results[key]
        return round(r["accuracy"] + r["model_accuracy"] + r["category_accuracy"], 6)

    def ties(key: Setting) -> tuple[float, ...]:
        # the stronger regularisation, the lower doubt (leaning higher), the lighter cues
        return key[0], -key[1], -key[2], -key[3]

    allowed = [k for k in results if results[k]["level1_as_3"] <= LEVEL1_AS_3_LIMIT] or list(
        results
    )
    reaching = [k for k in allowed if results[k]["level3_recall"] >= LEVEL3_RECALL_GOAL]
    if reaching:
        return max(reaching, key=lambda k: (accuracy(k), *ties(k)))
    return max(
        allowed, key=lambda k: (round(results[k]["level3_recall"], 2), accuracy(k), *ties(k))
    )


def main() -> None:
    train = [e for e in training_examples() if e.split == "train"]
    texts = [e.text for e in train]
    vectors = shipped_embedder()(texts)
    x = featurize(texts, vectors)
    groups = source_groups(train, vectors)
    print(f"5-fold CV on {len(train)} train messages (model + floor rules)")
    print("l2     topic concept " + "  ".join(f"doubt={d:<26}" for d in DOUBT_GRID) + "  category")
    results: dict[Setting, dict[str, float]] = {}
    for concept_weight in CONCEPT_WEIGHT_GRID:
        for topic_weight in TOPIC_WEIGHT_GRID:
            for l2 in L2_GRID:
                res = cross_validate(
                    train,
                    x,
                    groups,
                    l2=l2,
                    doubts=DOUBT_GRID,
                    topic_weight=topic_weight,
                    concept_weight=concept_weight,
                )
                for d in DOUBT_GRID:
                    results[(l2, d, topic_weight, concept_weight)] = res[d]
                cells = "  ".join(
                    f"{res[d]['accuracy']:.3f}/{res[d]['level3_recall']:.2f}/"
                    f"{res[d]['level1_as_3']:.2f}"
                    f" ({res[d]['model_accuracy']:.3f}/{res[d]['model_level3_recall']:.2f})"
                    for d in DOUBT_GRID
                )
                category = res[DOUBT_GRID[0]]["category_accuracy"]
                print(f"{l2:<6} {topic_weight:<5} {concept_weight:<7} {cells}  {category:.3f}")
    print(
        "cells: accuracy / Level 3 recall / Level 1 rated 3, with the floor rules (the model "
        "alone: accuracy / Level 3 recall); category: accuracy of the category after the "
        "category rules"
    )
    l2, doubt, topic_weight, concept_weight = choose(results)
    print(
        f"chosen: l2={l2} doubt={doubt} topic_weight={topic_weight} concept_weight={concept_weight}"
    )
    print(
        " ".join(
            f"{k}={v:.3f}" for k, v in results[(l2, doubt, topic_weight, concept_weight)].items()
        )
    )


if __name__ == "__main__":
    main()
