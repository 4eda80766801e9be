"""The score, thresholds and segments on hand-computed cases (pure arithmetic, no database)."""

from __future__ import annotations

import numpy as np
import pytest

from routing.performance import scoring
from routing.performance.config import METRICS, load_perf_config

CFG = load_perf_config()
# every metric at its "good" anchor
GOOD = {m: CFG.metrics[m].good for m in METRICS}
TOTAL_WEIGHT = sum(CFG.metrics[m].weight for m in METRICS)  # 10 with the defaults


def _stand(values: dict[str, float], orders: float = 300) -> scoring.Standing:
    v = np.array([[[values.get(m, np.nan) for m in METRICS]]], dtype=float)
    return scoring._stand_values(np.array([[orders]]), v, CFG)


def test_all_good_is_a_top_seller_with_100() -> None:
    st = _stand(GOOD)
    assert st.scores[0, 0] == pytest.approx(100.0)
    assert scoring.SEGMENTS[st.segments[0, 0]] == "top"


def test_sub_score_anchors_are_linear_between() -> None:
    rule = CFG.metrics["acceptance_delay"]  # good 12, alert 20, limit 24, bad 48
    values = np.array([[6.0, 12.0, 16.0, 20.0, 22.0, 24.0, 36.0, 48.0, 90.0]]).T
    full = np.full((len(values), len(METRICS)), np.nan)
    full[:, 0] = values[:, 0]
    subs = scoring.sub_scores(full, CFG)[:, 0]
    assert rule.alert == 20 and rule.limit == 24
    assert subs.tolist() == pytest.approx([100, 100, 75, 50, 37.5, 25, 12.5, 0, 0])


@pytest.mark.parametrize("metric", METRICS)
def test_each_threshold_in_its_direction(metric: str) -> None:
    """Just past the alert: watch, that metric named; just past the limit: at risk; the same
    distance on the good side crosses nothing."""
    rule = CFG.metrics[metric]
    step = 0.01 if rule.higher_is_worse else -0.01
    at_alert = _stand({**GOOD, metric: rule.alert})  # "> 20 h" is strict: 20 h is no alert
    past_alert = _stand({**GOOD, metric: rule.alert + step})
    past_limit = _stand({**GOOD, metric: rule.limit + step})
    good_side = _stand({**GOOD, metric: rule.good - step})
    j = METRICS.index(metric)
    assert not at_alert.alerts[0, 0].any()
    assert past_alert.alerts[0, 0].tolist() == [i == j for i in range(len(METRICS))]
    assert scoring.SEGMENTS[past_alert.segments[0, 0]] == "watch"
    assert past_limit.limits[0, 0, j] and past_limit.alerts[0, 0, j]
    assert scoring.SEGMENTS[past_limit.segments[0, 0]] == "at_risk"
    assert scoring.SEGMENTS[good_side.segments[0, 0]] == "top"


def test_score_is_the_weighted_mean_and_an_alert_stops_top() -> None:
    # acceptance delay 22 h: sub-score 37.5, weight 1; all others 100
    st = _stand({**GOOD, "acceptance_delay": 22.0})
    expected = (37.5 * 1 + 100 * (TOTAL_WEIGHT - 1)) / TOTAL_WEIGHT
    assert st.scores[0, 0] == pytest.approx(expected)  # 93.75: above 85 …
    assert scoring.SEGMENTS[st.segments[0, 0]] == "watch"  # … but an alert is never top


def test_below_85_without_alert_is_healthy_not_top() -> None:
    # four metrics just inside their alert: no alert, score well under 85
    values = {
        **GOOD,
        "acceptance_delay": 19.0,
        "response_time": 19.0,
        "late_shipment_rate": 3.9,
        "incident_rate": 2.9,
    }
    st = _stand(values)
    assert not st.alerts.any()
    assert st.scores[0, 0] < CFG.top_min_score
    assert scoring.SEGMENTS[st.segments[0, 0]] == "healthy"


def test_missing_metric_is_left_out_of_the_score() -> None:
    values = {**GOOD, "acceptance_delay": 22.0}
    del values["response_time"]  # no customer message in the window
    st = _stand(values)
    expected = (37.5 + 100 * (TOTAL_WEIGHT - 2)) / (TOTAL_WEIGHT - 1)
    assert st.scores[0, 0] == pytest.approx(expected)


def test_minimum_order_count() -> None:
    bad = {**GOOD, "late_shipment_rate": 30.0}
    under = _stand(bad, orders=CFG.minimum_orders - 1)
    at = _stand(bad, orders=CFG.minimum_orders)
    assert scoring.SEGMENTS[under.segments[0, 0]] == "new"
    assert np.isnan(under.scores[0, 0]) and not under.limits.any()
    assert scoring.SEGMENTS[at.segments[0, 0]] == "at_risk"


def test_exit_review_needs_three_at_risk_weeks() -> None:
    r, w = scoring.AT_RISK, scoring.WATCH
    segs = np.array([[r, r, r, w], [r, r, w, r], [w, r, r, r]], dtype=np.int8)
    out = scoring.with_exit_review(segs, CFG.exit_review_weeks)
    assert [scoring.SEGMENTS[s] for s in out] == ["exit_review", "at_risk", "watch"]


def test_decline_by_ten_points_or_three_small_drops() -> None:
    scores = np.array(
        [
            [80.0, 91.0, 90.0, 90.0],  # -11 in a week
            [90.0, 92.0, 94.0, 96.0],  # three drops of 2 points
            [90.0, 92.0, 94.0, 93.0],  # two drops only
            [90.0, 90.5, 91.0, 91.5],  # drops under the noise floor (1 point)
            [np.nan, 95.0, 96.0, 97.0],  # not scored now
        ]
    )
    tr = scoring.trend(scores, CFG)
    assert tr.declining.tolist() == [True, True, False, False, False]
    assert tr.weekly_drop.tolist() == [True, False, False, False, False]
    assert tr.drops_in_a_row.tolist() == [1, 3, 2, 0, 0]
