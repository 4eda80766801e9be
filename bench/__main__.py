"""Run every benchmark in turn and keep their output under bench/results/ with the date.

Usage: python -m bench [NAME ...] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import subprocess
import sys
from pathlib import Path

BENCHES = (
    "quality",
    "latency_answer",
    "ingest_speed",
    "ack_latency",
    "classification",
    "sla_sweep",
    "perf_evaluate",
    "digest_build",
    "import_memory",
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%MZ")
    failed = 0
    unknown = set(args.names) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    for name in args.names or BENCHES:
        importlib.import_module(f"bench.{name}")  # fail early on a typo
        cmd = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if args.quick else [])
        print(f"== bench.{name}", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr[-4000:] if proc.returncode else "")
        (out_dir / f"{stamp}-{name}.txt").write_text(proc.stdout, encoding="utf-8")
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
