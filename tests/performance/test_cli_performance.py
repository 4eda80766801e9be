"""`comptoir metrics import|sample` and `comptoir perf evaluate|show`, through the installed
command, on SQLite (default data dir) and PostgreSQL (COMPTOIR_DATABASE_URL)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

COMPTOIR = Path(sys.executable).with_name("comptoir")


def _runner(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "COMPTOIR_DATA_DIR": str(tmp_path / "data"),
        "COMPTOIR_PERF_CONFIG_PATH": "",
    }
    if not db_url.startswith("sqlite"):
        env["COMPTOIR_DATABASE_URL"] = db_url  # on SQLite: the data dir's own database

    def invoke(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(COMPTOIR), *args], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert result.returncode == code, (result.stdout, result.stderr)
        return result

    return invoke


@pytest.fixture
def run(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The command on SQLite and on PostgreSQL."""
    return _runner(db_url, tmp_path)


@pytest.fixture
def run_sqlite(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The command on the data dir's SQLite only (each call is a process: keep the suite fast)."""
    return _runner("sqlite://", tmp_path)


def test_sample_import_evaluate_show(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "sample"
    sample = json.loads(
        run("metrics", "sample", "--sellers", "40", "--days", "60", "--out", str(out),
            "--seed", "5", "--end", "2026-11-23", "--json").stdout
    )  # fmt: skip
    assert sample["sellers"] == 40 and sample["last_day"] == "2026-11-23"
    run("sellers", "import", str(out / "sellers.csv"))
    imported = run("metrics", "import", str(out / "metrics.csv"), "--json")
    report = json.loads(imported.stdout)  # progress went to stderr: stdout is the JSON alone
    assert report["imported"] == sample["rows"] and report["rejected"] == 0
    assert f"metrics import: done, {sample['rows']} rows imported, 0 rejected" in imported.stderr

    evaluation = json.loads(run("perf", "evaluate", "--json").stdout)  # last day with metrics
    assert evaluation["day"] == "2026-11-23" and evaluation["kinds"] == ["daily", "weekly"]
    assert sum(evaluation["segments"].values()) == 40
    # the weekly points before it come from the 60 imported days on this first evaluation
    assert evaluation["backfilled"] == [f"2026-{d}" for d in (
        "09-28", "10-05", "10-12", "10-19", "10-26", "11-02", "11-09", "11-16")]  # fmt: skip

    # so the account manager's digest draws each flagged seller's weekly scores at once
    # (before, only the demo's own backfill gave the chart anything to draw)
    import csv

    with (out / "sellers.csv").open(encoding="utf-8") as fh:
        managers = sorted({r["account_manager_id"] for r in csv.DictReader(fh)} - {""})
    drawn = []
    for am in managers:
        chart = tmp_path / f"{am}.png"
        preview = json.loads(
            run("digests", "preview", "--am", am, "--date", "2026-11-24", "--json",
                "--chart", str(chart)).stdout
        )  # fmt: skip
        if preview["digest"]["chart"] is not None:
            history = preview["digest"]["chart"]
            assert history["labels"] and chart.stat().st_size > 0
            # a line per flagged seller through its weekly scores (up to nine: a seller scores
            # once it has enough orders), not a lone dot
            assert len(history["points"]) == len(history["labels"])
            assert min(history["points"]) >= 2
            drawn.extend(history["points"])
            if max(drawn) == 9:
                break  # one such digest says it (each preview is a process: keep it short)
    assert drawn and max(drawn) == 9, "no digest drew a seller's nine weekly scores"

    shown = json.loads(run("perf", "show", "S00001", "--json").stdout)
    assert shown["seller_id"] == "S00001" and shown["day"] == "2026-11-23"
    assert {m["metric"] for m in shown["metrics"]} >= {"acceptance_rate", "rating"}
    assert shown["segment"] in ("new", "top", "healthy", "watch", "at_risk", "exit_review")
    assert "segment" in shown["projection"] and "declining" in shown["trend"]
    for crossed in shown["crossed"]:
        assert crossed["value"] is not None and crossed["threshold"] is not None
    text = run("perf", "show", "S00001", "--date", "2026-11-16").stdout
    assert "S00001" in text and "projection" in text


def test_bad_lines_and_unknown_seller(run_sqlite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = run_sqlite
    directory = tmp_path / "sellers.csv"
    directory.write_text(
        "seller_id,name,channel_id,account_manager_id,tier,language\nS1,One,C0AAAAAA1,,gold,fr\n"
    )
    run("sellers", "import", str(directory))
    metrics = tmp_path / "metrics.csv"
    metrics.write_text(
        "seller_id,date,orders,accepted_orders,acceptance_delay_hours,seller_cancellations,"
        "shipments,late_shipments,shipments_with_tracking,customer_messages,response_hours,"
        "incidents,ratings_count,rating_mean\n"
        "S1,2026-11-20,10,10,5,0,10,0,10,1,2,0,2,4.5\n"
        "S1,2026-11-21,10,12,5,0,10,0,10,1,2,0,2,4.5\n"
        "S7,2026-11-21,10,10,5,0,10,0,10,1,2,0,2,4.5\n"
    )
    result = run("metrics", "import", str(metrics), code=1)
    assert "1 rows imported" in result.stdout
    assert "line 3: accepted_orders (12) is more than orders (10)" in result.stderr
    assert "line 4: unknown seller 'S7'" in result.stderr
    assert "unknown seller 'S404'" in run("perf", "show", "S404", code=2).stderr
    assert "--date" in run("perf", "evaluate", "--date", "yesterday", code=2).stderr
    assert "--query" in run("metrics", "import", "--sql", "sqlite://", code=2).stderr


def test_import_from_a_warehouse_query(run_sqlite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    run = run_sqlite
    directory = tmp_path / "sellers.csv"
    directory.write_text(
        "seller_id,name,channel_id,account_manager_id,tier,language\nS1,One,C0AAAAAA1,,gold,fr\n"
    )
    run("sellers", "import", str(directory))
    wh = tmp_path / "warehouse.db"
    with sqlite3.connect(wh) as conn:
        conn.execute("CREATE TABLE daily (sid TEXT, d TEXT, o INT, late INT)")
        conn.executemany(
            "INSERT INTO daily VALUES (?, ?, ?, ?)",
            [("S1", f"2026-11-{day:02d}", 10, day % 2) for day in range(1, 24)],
        )
    query = tmp_path / "q.sql"
    query.write_text(
        "SELECT sid AS seller_id, d AS date, o AS orders, o AS accepted_orders, "
        "6.5 AS acceptance_delay_hours, 0 AS seller_cancellations, o AS shipments, "
        "late AS late_shipments, o AS shipments_with_tracking, 0 AS customer_messages, "
        "NULL AS response_hours, 0 AS incidents, 0 AS ratings_count, NULL AS rating_mean "
        "FROM daily"
    )
    out = run("metrics", "import", "--sql", f"sqlite:///{wh}", "--query", str(query), "--json")
    assert json.loads(out.stdout)["imported"] == 23
    shown = json.loads(run("perf", "show", "S1", "--json").stdout)
    assert shown["stored"] is False and shown["orders"] == 230
    late = next(m for m in shown["metrics"] if m["metric"] == "late_shipment_rate")
    assert late["value"] == pytest.approx(100 * 12 / 230, abs=1e-3)  # 12 odd days, 1 late each
    assert late["status"] == "alert"


METRICS_HEADER = (
    "seller_id,date,orders,accepted_orders,acceptance_delay_hours,seller_cancellations,"
    "shipments,late_shipments,shipments_with_tracking,customer_messages,response_hours,"
    "incidents,ratings_count,rating_mean\n"
)


def test_imports_say_what_happened(run_sqlite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Exit 2 and nothing imported for a file that is wrong as a whole; exit 1 with the line
    for a bad row; progress on stderr (not a terminal here: plain lines), JSON on stdout."""
    run = run_sqlite
    out = tmp_path / "sample"
    sample = json.loads(
        run("metrics", "sample", "--sellers", "40", "--days", "400", "--out", str(out),
            "--seed", "5", "--end", "2026-11-23", "--json").stdout
    )  # fmt: skip
    assert sample["rows"] > 3 * 5000  # several batches, so several progress lines

    missing = run("sellers", "import", str(tmp_path / "nope.csv"), code=2)
    assert "nope.csv: cannot read (No such file or directory)" in missing.stderr
    directory = run("sellers", "import", str(out / "sellers.csv"), "--json")
    assert json.loads(directory.stdout)["created"] == 40
    assert "sellers import: done, 40 created" in directory.stderr

    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text((out / "metrics.csv").read_text().replace(",", ";"))
    refused = run("metrics", "import", str(semicolons), "--json", code=2)
    assert "looks semicolon-separated; export it comma-separated" in refused.stderr
    assert refused.stdout == ""
    with sqlite3.connect(tmp_path / "data" / "comptoir.db") as conn:
        assert conn.execute("SELECT count(*) FROM metrics_daily").fetchone() == (0,)

    imported = run("metrics", "import", str(out / "metrics.csv"), "--json")
    assert json.loads(imported.stdout)["imported"] == sample["rows"]
    steps = [line for line in imported.stderr.splitlines() if "% (" in line]
    assert len(steps) >= 3 and steps[-1].startswith("metrics import: 100% (")

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(
        METRICS_HEADER.encode()
        + b"S00001,2026-11-24,10,10,5,0,10,0,10,1,2,0,2,4.5\n"
        + b"S00001,2026-11-25,10,10,5,0,10,0,10,1,2,0,2,4.5 \xe9toiles\n"  # line 3
        + b"S00002,2026-11-24,10,10,5,0,10,0,10,1,2,0,2,4.5\n"
    )
    partly = json.loads(run("metrics", "import", str(latin1), "--json", code=1).stdout)
    assert (partly["imported"], partly["rejected"]) == (2, 1)
    assert partly["errors"] == [
        {"line": 3, "error": "not UTF-8 (byte 0xE9 at column 49); save the file as UTF-8"}
    ]

    unknown = tmp_path / "unknown.csv"
    unknown.write_text(
        METRICS_HEADER
        + "".join(f"S9{i:04d},2026-11-20,10,10,5,0,10,0,10,1,2,0,2,4.5\n" for i in range(1200))
    )
    capped = run("metrics", "import", str(unknown), code=1)
    assert "0 rows imported" in capped.stdout and "1200 rejected" in capped.stdout
    listed = [line for line in capped.stderr.splitlines() if line.startswith("  line ")]
    assert (
        len(listed) == 50
        and listed[0] == "  line 2: unknown seller 'S90000' (not in the directory)"
    )
    assert "  … and 1150 more (--json lists the first 1000)" in capped.stderr

    evaluated = run("perf", "evaluate", "--json")
    assert json.loads(evaluated.stdout)["day"] == "2026-11-24"
    assert "perf evaluate: evaluating every seller for 2026-11-24" in evaluated.stderr
