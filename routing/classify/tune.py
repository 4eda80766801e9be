"""Choose the regularisation, the doubt threshold and the topic cues' weight by
cross-validation on train only.

`python -m routing.classify.tune` prints the grid; DEFAULT_L2, DEFAULT_DOUBT and
DEFAULT_TOPIC_WEIGHT in model.py were set from it. Train is the team's train split and the outside messages' train
marketplaces (`training_examples`); the test split and the outside test marketplaces are
never looked at here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routing.classify.data import Example, near_duplicate_groups, training_examples
from routing.classify.features import featurize
from routing.classify.model import fit_features, shipped_embedder

L2_GRID = (0.001, 0.01, 0.03, 0.1, 0.3)
DOUBT_GRID = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
TOPIC_WEIGHT_GRID = (1.0, 3.0, 5.0, 8.0)
# issue 10's Level 3 recall target, asked of the out-of-fold figures
LEVEL3_RECALL_GOAL = 0.97


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
    k: int = 5,
) -> dict[float, dict[str, float]]:
    """Out-of-fold accuracy and Level 3 recall for each doubt, with and without rules, and
    the category accuracy (the model's category after the category rules)."""
    fold = np.array(folds_of(examples, groups, k))
    truth = np.array([e.level for e in examples])
    finals: dict[float, np.ndarray] = {d: np.zeros(len(examples), dtype=int) for d in doubts}
    alone: dict[float, np.ndarray] = {d: np.zeros(len(examples), dtype=int) for d in doubts}
    categories = np.array([""] * len(examples), dtype=object)
    truth_categories = np.array([e.category for e in examples], dtype=object)
    for f in range(k):
        tr = np.flatnonzero(fold != f)
        te = np.flatnonzero(fold == f)
        model = fit_features(
            x[tr],
            [examples[int(i)] for i in tr],
            [1.0] * len(tr),
            l2=l2,
            topic_weight=topic_weight,
        )
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
        out[d] = {
            "accuracy": float((finals[d] == truth).mean()),
            "level3_recall": float((finals[d][level3] == 3).mean()),
            "model_accuracy": float((alone[d] == truth).mean()),
            "model_level3_recall": float((alone[d][level3] == 3).mean()),
            "category_accuracy": float(np.mean(categories == truth_categories)),
        }
    return out


def source_groups(examples: Sequence[Example], vectors: np.ndarray) -> list[int]:
    """A group per outside marketplace (its messages stay in one fold, as in the test split,
    which is by marketplace); the team's own messages group by near-duplicate."""
    groups = near_duplicate_groups(vectors)
    sources = sorted({e.source for e in examples if e.source})
    base = len(examples)
    return [
        base + sources.index(e.source) if e.source else g
        for e, g in zip(examples, groups, strict=True)
    ]


Setting = tuple[float, float, float]  # l2, doubt, topic weight


def choose(results: dict[Setting, dict[str, float]]) -> Setting:
    """The issue's order of priorities: Level 3 recall first (a suspended seller is never
    queued as a how-to question), then accuracy with and without the floor rules (the rules
    will miss phrasings nobody thought of) plus the category accuracy. Among the settings
    reaching LEVEL3_RECALL_GOAL out of fold, the best accuracy; if none does, the best
    recall."""

    def accuracy(key: Setting) -> float:
        r = results[key]
        return round(r["accuracy"] + r["model_accuracy"] + r["category_accuracy"], 6)

    def ties(key: Setting) -> tuple[float, float, float]:
        # the stronger regularisation, the lower doubt (leaning higher), the lighter topics
        return key[0], -key[1], -key[2]

    reaching = [k for k in results if results[k]["level3_recall"] >= LEVEL3_RECALL_GOAL]
    if reaching:
        return max(reaching, key=lambda k: (accuracy(k), *ties(k)))
    return max(results, key=lambda k: (results[k]["level3_recall"], accuracy(k), *ties(k)))


def main() -> None:
    train = [e for e in training_examples() if e.split == "train"]
    texts = [e.text for e in train]
    vectors = shipped_embedder()(texts)
    x = featurize(texts, vectors)
    groups = source_groups(train, vectors)
    print(f"5-fold CV on {len(train)} train messages (model + floor rules)")
    print("l2     topic  " + "  ".join(f"doubt={d:<20}" for d in DOUBT_GRID) + "  category")
    results: dict[Setting, dict[str, float]] = {}
    for topic_weight in TOPIC_WEIGHT_GRID:
        for l2 in L2_GRID:
            res = cross_validate(
                train, x, groups, l2=l2, doubts=DOUBT_GRID, topic_weight=topic_weight
            )
            for d in DOUBT_GRID:
                results[(l2, d, topic_weight)] = res[d]
            cells = "  ".join(
                f"{res[d]['accuracy']:.3f}/{res[d]['level3_recall']:.2f}"
                f" ({res[d]['model_accuracy']:.3f}/{res[d]['model_level3_recall']:.2f})"
                for d in DOUBT_GRID
            )
            category = res[DOUBT_GRID[0]]["category_accuracy"]
            print(f"{l2:<6} {topic_weight:<6} {cells}  {category:.3f}")
    print(
        "cells: accuracy / Level 3 recall with the floor rules (the model alone); "
        "category: accuracy of the category after the category rules"
    )
    l2, doubt, topic_weight = choose(results)
    print(f"chosen: l2={l2} doubt={doubt} topic_weight={topic_weight}")


if __name__ == "__main__":
    main()
