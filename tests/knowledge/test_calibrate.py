"""The threshold rules of bench.calibrate: each dev part meets the targets on its own."""

from __future__ import annotations

import numpy as np

from bench.calibrate import best_threshold, fit_features, sure_threshold


def test_sure_lets_at_most_a_tenth_of_the_unanswerable_questions_through() -> None:
    # twenty unanswerable questions: two may reach `sure`, the third may not
    conf = np.array([0.05 * i for i in range(20)] + [0.99])
    y = np.array([0.0] * 20 + [1.0])
    sure = sure_threshold(conf, y)
    assert (conf[y == 0] >= sure).sum() == 2
    assert 0.85 < sure <= 0.90  # midway between the third highest (0.85) and the next (0.90)


def test_the_threshold_still_answers_nine_answerable_questions_in_ten() -> None:
    conf = np.array([0.04 * i for i in range(1, 21)] + [0.05])
    y = np.array([1.0] * 20 + [0.0])
    threshold = best_threshold(conf, y)
    assert (conf[y == 1] >= threshold).sum() >= 18
    assert threshold > 0.05  # the lowest answerable one and the unanswerable one abstain


def test_each_part_meets_the_targets_on_its_own() -> None:
    # part "b" is small and harder: pooled with "a", its unanswerable questions would pass
    # `sure` far more often than one in ten; fitted per part, they do not
    rng = np.random.default_rng(7)
    found: list[dict[str, float]] = []
    y: list[float] = []
    parts: list[str] = []
    for part, n, gap in (("a", 200, 3.0), ("b", 40, 0.8)):
        for i in range(n):
            answerable = i % 4 != 0
            x = rng.normal(gap if answerable else 0.0, 1.0)
            found.append({"signal": x})
            y.append(1.0 if answerable else 0.0)
            parts.append(part)
    fitted = fit_features(found, np.array(y), parts, names=("signal",))
    z = np.array([f["signal"] for f in found])
    conf = 1 / (
        1 + np.exp(-((z - fitted.means[0]) / fitted.scales[0] * fitted.weights[0] + fitted.bias))
    )
    labels = np.array(y)
    for part in ("a", "b"):
        mask = np.array(parts) == part
        unanswerable = conf[mask & (labels == 0)]
        answerable = conf[mask & (labels == 1)]
        assert (unanswerable >= fitted.sure).mean() <= 0.10
        assert (answerable >= fitted.threshold).mean() >= 0.90
