"""Seller performance at scale: generate, import and evaluate, on SQLite and PostgreSQL.

Generates the sample (10,000 sellers × 90 days; --quick: 1,000 × 90), imports the directory
and the metrics (rows/s), evaluates the last day for every seller (daily + weekly rows,
commit included), then back-fills the 12 weekly evaluations before it in one go.
Target: one day's evaluation of 10,000 sellers × 90 days under 10 s. PostgreSQL gets a fresh
database on 127.0.0.1:5432, dropped afterwards. Prints timings and a last JSON line.

    python -m bench.perf_evaluate [--quick] [--sellers N] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.databases import database
from routing import migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.performance import evaluate
from routing.performance.config import load_perf_config
from routing.performance.metrics_import import import_metrics_csv
from routing.performance.sample import SampleInfo, write_sample
from routing.sellers import do_import_directory, read_directory_csv

END = date(2026, 11, 23)  # a Monday: the last day is also a weekly evaluation
NOW = datetime(2026, 11, 24, 7, tzinfo=UTC)
TARGET_S = 10.0


def run_one(kind: str, sample: SampleInfo, tmp: Path) -> dict[str, Any]:
    config = load_perf_config()
    out: dict[str, Any] = {"db": kind}
    with database(kind, tmp) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        t = time.perf_counter()
        with transaction(factory) as s:
            directory = do_import_directory(s, read_directory_csv(sample.sellers_csv))
        out["directory_s"] = round(time.perf_counter() - t, 2)
        assert not directory.errors, directory.errors[:3]

        t = time.perf_counter()
        with transaction(factory) as s:
            report = import_metrics_csv(s, path=sample.metrics_csv, now=NOW)
        seconds = time.perf_counter() - t  # commit included
        assert not report.errors, report.errors[:3]
        out.update(
            import_rows=report.imported,
            import_s=round(seconds, 2),
            import_rows_per_s=round(report.imported / seconds),
        )
        t = time.perf_counter()
        with transaction(factory) as s:
            evaluate.evaluate_all(s, day=END, config=config, now=NOW)  # re-run: replaces
        t = time.perf_counter()
        with transaction(factory) as s:
            run = evaluate.evaluate_all(s, day=END, config=config, now=NOW)
        out["evaluate_day_s"] = round(time.perf_counter() - t, 2)
        out["segments"] = run.segments
        out["decliners"] = len(run.decliners)

        t = time.perf_counter()
        with factory() as s:
            evaluate.compute(s, days=[END], config=config)
        out["compute_only_s"] = round(time.perf_counter() - t, 2)

        weeks = [END - timedelta(weeks=w) for w in range(12, 0, -1)]
        t = time.perf_counter()
        with transaction(factory) as s:
            evaluate.backfill_weekly(s, days=weeks, config=config, now=NOW)
        out["backfill_12_weeks_s"] = round(time.perf_counter() - t, 2)
        engine.dispose()
    out["target_met"] = out["evaluate_day_s"] < TARGET_S
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf_evaluate")
    parser.add_argument("--quick", action="store_true", help="1,000 sellers instead of 10,000")
    parser.add_argument("--sellers", type=int, default=None)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    sellers = args.sellers or (1_000 if args.quick else 10_000)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results: dict[str, Any] = {"sellers": sellers, "days": args.days}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t = time.perf_counter()
        sample = write_sample(tmp / "sample", sellers=sellers, days=args.days, seed=7, end=END)
        results["sample_s"] = round(time.perf_counter() - t, 2)
        results["rows"] = sample.rows
        print(f"sample: {sellers} sellers × {args.days} days, {sample.rows} rows "
              f"in {results['sample_s']} s")  # fmt: skip
        ok = True
        for kind in kinds:
            r = run_one(kind, sample, tmp)
            results[kind] = r
            ok &= r["target_met"]
            print(
                f"{kind}: directory {r['directory_s']} s; import {r['import_rows']} rows in "
                f"{r['import_s']} s ({r['import_rows_per_s']} rows/s); evaluate one day "
                f"{r['evaluate_day_s']} s (compute only {r['compute_only_s']} s, target < "
                f"{TARGET_S:g} s: {'met' if r['target_met'] else 'MISSED'}); back-fill of 12 "
                f"weekly evaluations {r['backfill_12_weeks_s']} s"
            )
            print(f"  segments {r['segments']}, {r['decliners']} declining")
    print(json.dumps({"bench": "perf_evaluate", **results}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
