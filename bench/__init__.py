"""Benchmarks: `./dev bench` runs them all; each is also `python -m bench.<name>`."""

from __future__ import annotations

from pathlib import Path

from routing.csv_stream import LineError, Row
from routing.sellers import read_directory_csv


def sample_directory_rows(path: Path) -> list[tuple[int, Row]]:
    """A directory CSV the benchmark relies on, every line read: a bad line stops the run
    (a benchmark over fewer sellers than it says would mislead)."""
    rows = read_directory_csv(path)
    bad = [line for line, row in rows if isinstance(row, LineError)]
    if bad:
        raise SystemExit(f"{path}: line(s) {bad} cannot be read")
    return [(line, row) for line, row in rows if not isinstance(row, LineError)]
