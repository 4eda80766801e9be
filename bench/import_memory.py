"""Peak memory of the two imports on big files: 200 MB of sellers, then 200 MB of metrics.

Writes a seller directory and a daily-metrics file of about --mb MB each in a temp dir, then
runs each import in a child process of its own (the import alone, as `comptoir ... import`
runs it) and reports the child's peak resident memory (VmHWM, the same as ru_maxrss on
Linux), what the child held before the import began (interpreter, libraries, migrations
done), and rows/s. The metrics import runs after the directory import, against all its
sellers, as in production. Target: each peak under 300 MB (the whole-file import of
2026-12 took 8.1 GB for the sellers and 2.7 GB for the metrics). Prints a last JSON line;
exits 1 when a target is missed.

    python -m bench.import_memory [--quick] [--mb N] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

TARGET_MB = 300
METRIC_SELLERS = 10_000  # the metrics file covers the first 10,000 sellers, day after day
END = date(2026, 11, 20)
NOW = datetime(2026, 11, 24, 7, tzinfo=UTC)


def _peak_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def write_sellers(path: Path, mb: float) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("seller_id,name,channel_id,account_manager_id,tier,language\n")
        tiers, langs = ("gold", "silver", "bronze"), ("fr", "en")
        while fh.tell() < mb * 1e6:
            for k in range(rows + 1, rows + 10_001):
                fh.write(
                    f"S{k:07d},Boutique numéro {k},C{k:010d},U0AM{k % 97:05d},"
                    f"{tiers[k % 3]},{langs[k % 2]}\n"
                )
            rows += 10_000
    return rows


def write_metrics(path: Path, mb: float) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(
            "seller_id,date,orders,accepted_orders,acceptance_delay_hours,seller_cancellations,"
            "shipments,late_shipments,shipments_with_tracking,customer_messages,response_hours,"
            "incidents,ratings_count,rating_mean\n"
        )
        age = 0
        while fh.tell() < mb * 1e6:
            day = (END - timedelta(days=age)).isoformat()
            for k in range(1, METRIC_SELLERS + 1):
                o = 5 + (k + age) % 20
                fh.write(
                    f"S{k:07d},{day},{o},{o},{4 + k % 7}.25,0,{o},{k % 2},{o},2,3.50,0,1,4.80\n"
                )
            rows += METRIC_SELLERS
            age += 1
    return rows


def child(kind: str, url: str, path: Path) -> dict[str, Any]:
    """One import, alone in this process; what `comptoir sellers|metrics import` does."""
    from routing import migrate
    from routing.db import make_engine, make_sessionmaker, transaction
    from routing.performance.metrics_import import import_metrics_csv
    from routing.sellers import do_import_directory, open_directory_csv

    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    before = _peak_mb()
    t = time.perf_counter()
    with transaction(factory) as s:
        if kind == "sellers":
            with open_directory_csv(path) as source:
                report: Any = do_import_directory(s, source)
            rows = report.created + report.updated + report.unchanged
        else:
            report = import_metrics_csv(s, path=path, now=NOW)
            rows = report.imported
    seconds = time.perf_counter() - t  # commit included
    engine.dispose()
    return {
        "rows": rows,
        "rejected": report.rejected,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "before_import_mb": round(before),
        "peak_mb": round(_peak_mb()),
    }


def run_child(kind: str, url: str, path: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.import_memory", "--child", kind, url, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} import failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_memory")
    parser.add_argument("--quick", action="store_true", help="20 MB files instead of 200 MB")
    parser.add_argument("--mb", type=float, default=None, help="size of each file")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, url, path = args.child
        print(json.dumps(child(kind, url, Path(path))))
        return 0

    from bench.databases import database

    mb = args.mb or (20.0 if args.quick else 200.0)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results: dict[str, Any] = {"mb": mb, "target_mb": TARGET_MB}
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sellers_csv, metrics_csv = tmp / "sellers.csv", tmp / "metrics.csv"
        t = time.perf_counter()
        results["seller_rows"] = write_sellers(sellers_csv, mb)
        results["metric_rows"] = write_metrics(metrics_csv, mb)
        print(
            f"files: sellers {sellers_csv.stat().st_size / 1e6:.0f} MB "
            f"({results['seller_rows']} rows), metrics {metrics_csv.stat().st_size / 1e6:.0f} MB "
            f"({results['metric_rows']} rows), written in {time.perf_counter() - t:.0f} s",
            flush=True,
        )
        for kind in kinds:
            with database(kind, tmp) as url:
                for what, path in (("sellers", sellers_csv), ("metrics", metrics_csv)):
                    r = run_child(what, url, path)
                    r["target_met"] = r["peak_mb"] < TARGET_MB
                    ok &= r["target_met"] and r["rejected"] == 0
                    results[f"{kind}_{what}"] = r
                    print(
                        f"{kind} {what}: {r['rows']} rows in {r['seconds']} s "
                        f"({r['rows_per_s']} rows/s), {r['rejected']} rejected; peak RSS "
                        f"{r['peak_mb']} MB ({r['before_import_mb']} MB before the import; "
                        f"target < {TARGET_MB} MB: {'met' if r['target_met'] else 'MISSED'})",
                        flush=True,
                    )
    print(json.dumps({"bench": "import_memory", **results}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
