"""The performance half of `comptoir demo`: a nudge as the seller sees it, a digest as the
account manager sees it, its chart saved as a file.

Three months of daily metrics come from the sample generator (`comptoir metrics sample`),
given to the demo's sellers; they are imported and evaluated as `comptoir metrics import`
and `comptoir perf evaluate` would. The Monday 09:30 nudge run and the 08:30 digest run are
played for the most recent Monday, through the same functions the scheduler calls.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.listeners.deps import Deps
from bot.perf_posting import post_digests, post_nudges
from bot.slack_standin import SlackStandin
from knowledge.service import KnowledgeBase
from routing.db import transaction
from routing.performance import evaluate
from routing.performance.config import PerfConfig
from routing.performance.metrics_import import import_metrics_csv
from routing.performance.sample import write_sample

if TYPE_CHECKING:
    from bot.demo import Demo

# Which trajectory each demo seller follows; the first two are looked after by U0AM00001.
TRAJECTORIES = {
    "S0001": "declining_suddenly",
    "S0002": "declining_slowly",
    "S0007": "improving",
    "S0011": "stable",
}
ACCOUNT_MANAGER = "U0AM00001"
PARIS = ZoneInfo("Europe/Paris")


def last_monday_morning(now: datetime) -> date:
    """The latest Monday whose 09:30 (the nudges' time; the digests' 08:30 is earlier) has
    passed at `now`: on a Monday night in Paris the nudge would otherwise be queued for
    later that morning and the demo would wait for it in vain."""
    start = (now.astimezone(PARIS) - timedelta(hours=9, minutes=30)).date()
    return start - timedelta(days=start.weekday())


def play_performance(
    demo: Demo, slack: SlackStandin, deps: Deps, data_dir: Path, *, config: PerfConfig
) -> None:
    """`config`: the runtime's performance configuration (the demo's settings name no file,
    so the packaged defaults, resolved once by bot.wiring like any operator's file)."""
    monday = last_monday_morning(datetime.now(PARIS))
    last_day = monday - timedelta(days=1)  # the metrics run to Sunday, evaluated that night
    demo.step("generating three months of seller metrics, importing and evaluating them")
    with tempfile.TemporaryDirectory() as tmp:
        metrics = _metrics_for_demo_sellers(Path(tmp), end=last_day)
        with transaction(deps.session_factory) as session:
            imported = import_metrics_csv(session, path=metrics, now=datetime.now(UTC))
    with transaction(deps.session_factory) as session:
        # as `comptoir perf evaluate` does for an operator: the past weekly points come from
        # the stored metrics on this first evaluation (evaluate.missing_weekly_days)
        run = evaluate.evaluate_all(session, day=last_day, config=config, weekly=True)
    demo.say(
        f"\n10. Seller performance: {imported.imported} daily rows imported; "
        f"evaluation of {last_day}: {_segments(run.to_json())}"
    )

    kb = deps.answerer  # the knowledge base the bot answers from quotes the thresholds too
    assert isinstance(kb, KnowledgeBase)
    monday_0930 = datetime.combine(monday, time(9, 30), PARIS)
    demo.say(f"\n11. The Monday nudge ({monday_0930:%A %d %B %H:%M}), in the seller's channel")
    before = len(slack.posts())
    post_nudges(
        deps.session_factory,
        deps.outbox,
        kb=kb,
        config=config,
        day=last_day,
        now=monday_0930.astimezone(UTC),
        seller_id="S0001",
    )
    deps.outbox.wake()
    nudge = slack.wait_for(lambda: slack.posts()[before:], timeout=30)[0]
    demo.show("comptoir", nudge, f"(in #{nudge.get('channel')})")

    monday_0830 = datetime.combine(monday, time(8, 30), PARIS)
    demo.say(f"\n12. The account manager's digest ({monday_0830:%H:%M}), by DM")
    chart_dir = data_dir / "charts"
    before = len(slack.posts())
    post_digests(
        deps.session_factory,
        deps.outbox,
        config=config,
        day=last_day,
        now=monday_0830.astimezone(UTC),
        chart_dir=chart_dir,
        account_manager_ids=[ACCOUNT_MANAGER],
    )
    deps.outbox.wake()
    digest = slack.wait_for(lambda: slack.posts()[before:], timeout=30)[0]
    demo.show(f"DM {ACCOUNT_MANAGER}", digest)
    slack.wait_for(lambda: slack.calls("files.completeUploadExternal"), timeout=30)
    for chart in sorted(chart_dir.glob("*.png")):
        demo.say(f"            chart uploaded with the digest, saved as {chart.resolve()}")


def _segments(run: dict[str, object]) -> str:
    segments = run.get("segments")
    if isinstance(segments, dict):
        return ", ".join(f"{n} {name}" for name, n in segments.items() if n)
    return "done"


def _metrics_for_demo_sellers(tmp: Path, *, end: date) -> Path:
    """The generator's history for sellers of the wanted trajectories, renamed to ours."""
    info = write_sample(tmp / "sample", sellers=60, days=90, seed=11, end=end)
    by_profile: dict[str, list[str]] = {}
    for sample_id, profile in sorted(info.profiles.items()):
        by_profile.setdefault(profile, []).append(sample_id)
    rename = {by_profile[profile].pop(0): ours for ours, profile in TRAJECTORIES.items()}
    out = tmp / "metrics.csv"
    with info.metrics_csv.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            if row["seller_id"] in rename:
                writer.writerow({**row, "seller_id": rename[row["seller_id"]]})
    return out
