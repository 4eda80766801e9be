"""Choose the regularisation and the doubt threshold by cross-validation on train only.

`python -m routing.classify.tune` prints the grid; DEFAULT_L2 and DEFAULT_DOUBT in
model.py were set from it. The test split is never looked at here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routing.classify.data import Example, load_examples, near_duplicate_groups
from routing.classify.features import featurize
from routing.classify.model import fit_features, shipped_embedder

L2_GRID = (0.001, 0.01, 0.03, 0.1, 0.3)
DOUBT_GRID = (0.3, 0.35, 0.4, 0.45, 0.5)


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
    k: int = 5,
) -> dict[float, dict[str, float]]:
    """Out-of-fold accuracy and Level 3 recall for each doubt, with and without rules."""
    fold = np.array(folds_of(examples, groups, k))
    truth = np.array([e.level for e in examples])
    finals: dict[float, np.ndarray] = {d: np.zeros(len(examples), dtype=int) for d in doubts}
    alone: dict[float, np.ndarray] = {d: np.zeros(len(examples), dtype=int) for d in doubts}
    categories = np.array([""] * len(examples), dtype=object)
    truth_categories = np.array([e.category for e in examples], dtype=object)
    for f in range(k):
        tr = np.flatnonzero(fold != f)
        te = np.flatnonzero(fold == f)
        model = fit_features(x[tr], [examples[int(i)] for i in tr], [1.0] * len(tr), l2=l2)
        for d in doubts:
            model.doubt = d
            for i, p in zip(te, model.predict_features(x[te]), strict=True):
                finals[d][i] = model.decide(examples[int(i)].text, p).level
                alone[d][i] = p.level
                categories[i] = p.category
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


def main() -> None:
    train = [e for e in load_examples() if e.split == "train"]
    texts = [e.text for e in train]
    vectors = shipped_embedder()(texts)
    x = featurize(texts, vectors)
    groups = near_duplicate_groups(vectors)
    print(f"5-fold CV on {len(train)} train messages (model + floor rules)")
    print("l2      " + "  ".join(f"doubt={d:<20}" for d in DOUBT_GRID))
    scores: dict[tuple[float, float], float] = {}
    for l2 in L2_GRID:
        res = cross_validate(train, x, groups, l2=l2, doubts=DOUBT_GRID)
        for d in DOUBT_GRID:
            scores[(l2, d)] = res[d]["accuracy"] + res[d]["model_accuracy"]
        cells = "  ".join(
            f"{res[d]['accuracy']:.3f}/{res[d]['level3_recall']:.2f}"
            f" ({res[d]['model_accuracy']:.3f}/{res[d]['model_level3_recall']:.2f})"
            for d in DOUBT_GRID
        )
        print(f"{l2:<7} {cells}")
    print("cells: accuracy / Level 3 recall with the floor rules (the model alone)")
    # Both accuracies count: the rules will miss phrasings nobody thought of. Ties go
    # to the stronger regularisation, then to the lower doubt (leaning higher).
    l2, doubt = max(scores, key=lambda key: (round(scores[key], 6), key[0], -key[1]))
    print(f"chosen: l2={l2} doubt={doubt}")


if __name__ == "__main__":
    main()
