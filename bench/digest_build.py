"""One account manager's daily digest over a realistic directory, on SQLite and PostgreSQL.

Setup (timed apart): the sample generator's directory of 3,000 sellers (--quick: 300), then
one manager given every tenth seller (300; --quick: 30) and the rest spread over nine
others, so every digest query has to filter; 90 days of metrics imported; daily
evaluations for the last two days, weekly ones for the last day and the 12 weeks before;
open tickets (one per five sellers, levels 1-3) opened with the real `do_open_ticket` over
the day and a half before `NOW`, then one SLA sweep at `NOW` so clocks warn and breach.
Then times `build_digest` for that manager --repeat times after one cold run (first
queries on a new engine, matplotlib's first figure; reported apart): median and max, split into data queries and chart rendering
(the chart function is wrapped by a timer for the run). PostgreSQL gets a fresh database
on 127.0.0.1:5432, dropped afterwards. Prints the figures and a last JSON line.

    python -m bench.digest_build [--quick] [--db sqlite|postgresql|both] [--sellers N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench import sample_directory_rows
from bench.databases import database
from routing import charts, migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.digests import Digest, build_digest
from routing.models import Seller, SlaClock, Staff
from routing.performance import evaluate
from routing.performance.config import load_perf_config
from routing.performance.metrics_import import import_metrics_csv
from routing.performance.sample import SampleInfo, write_sample
from routing.sellers import do_import_directory
from routing.sla_clocks import sweep
from routing.sla_policy import load_policy
from routing.tickets import do_open_ticket

END = date(2026, 11, 23)  # a Monday: last metrics day, daily and weekly evaluations
NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)  # Tuesday 15:00 in Paris: the sweep and digest
AM = "U0BENCHAM1"
OTHER_AMS = [f"U0BENCHAM{i}" for i in range(2, 11)]
SHARE = 10  # the manager looks after one seller in SHARE
TICKETS_PER_SELLER = 0.2
OPEN_SPAN = timedelta(hours=36)  # tickets opened over this span before NOW


def directory_rows(sample: SampleInfo) -> list[tuple[int, dict[str, str]]]:
    """The sample's directory with managers reassigned: every SHARE-th seller is AM's (so the
    portfolio mixes every profile), the others round-robin over the other managers."""
    rows = sample_directory_rows(sample.sellers_csv)
    for i, (_, row) in enumerate(rows):
        row["account_manager_id"] = AM if i % SHARE == 0 else OTHER_AMS[i % len(OTHER_AMS)]
    return rows


def open_tickets(factory: Any, seller_ids: list[str], n: int) -> int:
    """n tickets through the real opening path (numbering, clocks started at their level's
    targets), opened at random times over OPEN_SPAN before NOW, oldest first."""
    policy = load_policy()
    rng = random.Random(11)
    opened_at = sorted(NOW - OPEN_SPAN * rng.random() for _ in range(n))
    with transaction(factory) as s:
        for i, at in enumerate(opened_at):
            seller = s.get(Seller, seller_ids[rng.randrange(len(seller_ids))])
            assert seller is not None
            do_open_ticket(
                s,
                seller=seller,
                channel_id=seller.channel_id,
                thread_ts=f"{1763900000 + i}.000100",
                text="Mon virement n'est pas arrivé",
                kind="problem",
                level=rng.choice((1, 2, 2, 3)),
                category="payout",
                confidence=0.8,
                reasons=[],
                now=at,
                policy=policy,
            )
    with transaction(factory) as s:
        return len(sweep(s, now=NOW, policy=policy))


@contextmanager
def chart_timer(spent: list[float]) -> Iterator[None]:
    """Wrap the real chart function (build_digest imports it from routing.charts at call
    time) so each run's rendering time is known apart from its queries."""
    real: Callable[..., charts.Chart] = charts.score_trend_chart

    def timed(*args: Any, **kwargs: Any) -> charts.Chart:
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t)

    charts.score_trend_chart = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        charts.score_trend_chart = real  # type: ignore[assignment]


def run_one(
    kind: str, sample: SampleInfo, tmp: Path, *, tickets: int, repeat: int
) -> dict[str, Any]:
    config = load_perf_config()
    out: dict[str, Any] = {"db": kind}
    with database(kind, tmp) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        t0 = time.perf_counter()
        with transaction(factory) as s:
            report = do_import_directory(s, directory_rows(sample))
            assert not report.errors, report.errors[:3]
            s.add(Staff(slack_user_id=AM, role="account_manager", display_name="Camille Bench"))
        with transaction(factory) as s:
            metrics = import_metrics_csv(s, path=sample.metrics_csv, now=NOW)
            assert not metrics.errors, metrics.errors[:3]
        for day in (END - timedelta(days=1), END):
            with transaction(factory) as s:
                evaluate.evaluate_all(s, day=day, config=config, now=NOW)
        with transaction(factory) as s:
            weeks = [END - timedelta(weeks=w) for w in range(12, 0, -1)]
            evaluate.backfill_weekly(s, days=weeks, config=config, now=NOW)
        out["fired"] = open_tickets(factory, sorted(sample.profiles), tickets)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum would have done by now
        out["setup_s"] = round(time.perf_counter() - t0, 2)
        with factory() as s:
            out["sellers_total"] = s.scalar(select(func.count()).select_from(Seller))
            out["tickets_total"] = tickets
            out["clocks_flagged"] = s.scalar(
                select(func.count())
                .select_from(SlaClock)
                .where(SlaClock.warned_at.is_not(None) | SlaClock.breached_at.is_not(None))
            )

        totals: list[float] = []
        chart_s: list[float] = []
        digest: Digest | None = None
        with chart_timer(chart_s):
            for _ in range(repeat + 1):  # the first run is cold: reported apart
                before = len(chart_s)
                with factory() as s:  # a fresh session each time, as the daily job does
                    t = time.perf_counter()
                    digest = build_digest(
                        s, account_manager_id=AM, day=NOW.date(), now=NOW, config=config
                    )
                    totals.append(time.perf_counter() - t)
                if len(chart_s) == before:
                    chart_s.append(0.0)  # nobody needed attention: no chart drawn
        engine.dispose()
    assert digest is not None
    warm, warm_chart = totals[1:], chart_s[1:]
    queries = [t - c for t, c in zip(warm, warm_chart, strict=True)]
    out.update(
        am_sellers=len(digest.seller_ids),
        digest_tickets=len(digest.tickets),
        digest_clocks=len(digest.clocks),
        digest_breached=sum(c.state == "breached" for c in digest.clocks),
        digest_entering=len(digest.entering),
        digest_attention=len(digest.attention),
        chart_series=len(digest.chart.labels) if digest.chart else 0,
        chart_png_bytes=len(digest.chart.png) if digest.chart else 0,
        cold_s=round(totals[0], 4),
        total_median_s=round(statistics.median(warm), 4),
        total_max_s=round(max(warm), 4),
        queries_median_s=round(statistics.median(queries), 4),
        queries_max_s=round(max(queries), 4),
        chart_median_s=round(statistics.median(warm_chart), 4),
        chart_max_s=round(max(warm_chart), 4),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.digest_build")
    parser.add_argument(
        "--quick", action="store_true", help="30 sellers for the manager, 300 in all"
    )
    parser.add_argument("--sellers", type=int, default=None, help="the manager's sellers (300)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    am_sellers = args.sellers or (30 if args.quick else 300)
    if am_sellers < 1 or args.repeat < 1 or args.days < 15:
        parser.error("--sellers and --repeat must be at least 1, --days at least 15")
    total = am_sellers * SHARE
    tickets = max(10, int(total * TICKETS_PER_SELLER))
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results: dict[str, Any] = {"am_sellers": am_sellers, "sellers": total, "days": args.days}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t = time.perf_counter()
        sample = write_sample(tmp / "sample", sellers=total, days=args.days, seed=7, end=END)
        results["sample_s"] = round(time.perf_counter() - t, 2)
        print(f"sample: {total} sellers × {args.days} days ({sample.rows} rows) "
              f"in {results['sample_s']} s")  # fmt: skip
        ok = True
        for kind in kinds:
            r = run_one(kind, sample, tmp, tickets=tickets, repeat=args.repeat)
            results[kind] = r
            ok &= r["am_sellers"] == am_sellers and r["digest_clocks"] > 0
            print(
                f"{kind}: setup {r['setup_s']} s ({r['sellers_total']} sellers, {tickets} "
                f"tickets, sweep fired {r['fired']}); digest of {r['am_sellers']} sellers: "
                f"{r['digest_tickets']} L2/L3 tickets, {r['digest_clocks']} clocks "
                f"({r['digest_breached']} breached), {r['digest_entering']} entering, "
                f"{r['digest_attention']} need attention, chart of {r['chart_series']} lines"
            )
            print(
                f"  build_digest over {args.repeat} runs: median {r['total_median_s'] * 1000:.0f} ms"
                f", max {r['total_max_s'] * 1000:.0f} ms (queries median "
                f"{r['queries_median_s'] * 1000:.0f} ms / max {r['queries_max_s'] * 1000:.0f} ms; "
                f"chart median {r['chart_median_s'] * 1000:.0f} ms / max "
                f"{r['chart_max_s'] * 1000:.0f} ms); cold first run {r['cold_s'] * 1000:.0f} ms",
                flush=True,
            )
    print(json.dumps({"bench": "digest_build", **results}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
