"""The sample generator's shape, the configuration file's checks, the directory's nudges column."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from routing.db import transaction
from routing.models import Seller
from routing.performance import evaluate
from routing.performance.config import PerfConfigError, load_perf_config
from routing.performance.metrics_import import import_metrics_csv
from routing.performance.sample import write_sample
from routing.sellers import do_import_directory, read_directory_csv
from tests.performance.helpers import NOW

END = date(2026, 11, 23)


def test_sample_is_deterministic_per_seed(tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a", sellers=60, days=40, seed=3, end=END)
    b = write_sample(tmp_path / "b", sellers=60, days=40, seed=3, end=END)
    c = write_sample(tmp_path / "c", sellers=60, days=40, seed=4, end=END)
    assert a.metrics_csv.read_bytes() == b.metrics_csv.read_bytes()
    assert a.sellers_csv.read_bytes() == b.sellers_csv.read_bytes()
    assert a.metrics_csv.read_bytes() != c.metrics_csv.read_bytes()


def test_sample_directory_is_importable_with_and_without_managers(tmp_path: Path) -> None:
    info = write_sample(tmp_path, sellers=120, days=10, seed=1, end=END)
    rows = list(csv.DictReader(info.sellers_csv.open()))
    assert len(rows) == 120
    assert all(re.match(r"^[CG][A-Z0-9]{6,}$", r["channel_id"]) for r in rows)
    managers = {r["account_manager_id"] for r in rows}
    assert "" in managers  # some sellers nobody looks after
    assert 2 <= len(managers - {""}) <= 6
    assert all(re.match(r"^[UW][A-Z0-9]{6,}$", m) for m in managers - {""})


def test_sample_history_has_decliners_and_new_sellers(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    info = write_sample(tmp_path, sellers=150, days=90, seed=11, end=END)
    assert set(info.counts()) >= {"declining_slowly", "declining_suddenly", "improving", "new"}
    assert all(n > 0 for n in info.counts().values())
    with transaction(session_factory) as s:
        assert do_import_directory(s, read_directory_csv(info.sellers_csv)).errors == []
        report = import_metrics_csv(s, path=info.metrics_csv, now=NOW)
        assert report.errors == [] and report.imported == info.rows
        run = evaluate.evaluate_all(s, day=END, config=load_perf_config(), now=NOW)
    by_id = {e.seller_id: e for e in run.evaluations}
    new = [sid for sid, p in info.profiles.items() if p == "new"]
    assert all(by_id[sid].segment == "new" for sid in new)
    stable = [by_id[sid] for sid, p in info.profiles.items() if p == "stable"]
    assert sum(e.segment in ("top", "healthy") for e in stable) > 0.6 * len(stable)
    sudden = [by_id[sid] for sid, p in info.profiles.items() if p == "declining_suddenly"]
    assert any(e.trend["declining"] for e in sudden)
    assert run.segments["top"] > 0 and run.segments["at_risk"] + run.segments["exit_review"] > 0


def _defaults() -> dict:  # type: ignore[type-arg]
    path = Path(load_perf_config().source)
    text = (Path(__file__).resolve().parents[2] / path).read_text()
    return yaml.safe_load(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("window_days"), "window_days: expected a whole number"),
        (
            lambda d: d["metrics"]["rating"].update(alert=3.5),
            "metrics.rating: expected good > alert",
        ),
        (lambda d: d["metrics"]["late_shipment_rate"].update(direction="up"), "direction"),
        (lambda d: d["metrics"].update(speed={}), "metrics.speed"),
        (lambda d: d["weekly"].update(weekday="someday"), "weekly.weekday"),
        (lambda d: d["schedules"]["nudges"].update(time="9h30"), "schedules.nudges.time"),
        (lambda d: d["segments"].update(top_min_score="high"), "segments.top_min_score"),
    ],
)
def test_malformed_config_names_the_key(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _defaults()
    edit(data)
    path = tmp_path / "perf.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PerfConfigError, match=re.escape(message)):
        load_perf_config(path)


def test_config_file_overrides_thresholds(tmp_path: Path) -> None:
    data = _defaults()
    data["minimum_orders"] = 50
    data["metrics"]["response_time"].update(alert=10, limit=12, good=4)
    path = tmp_path / "perf.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_perf_config(path)
    assert cfg.minimum_orders == 50 and cfg.metrics["response_time"].alert == 10
    assert cfg.schedules.nudges_weekday == 0 and cfg.schedules.nudges_time.hour == 9
    with pytest.raises(PerfConfigError, match="not valid YAML"):
        path.write_text("metrics: [")
        load_perf_config(path)


def test_directory_nudges_column_is_optional(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with_col = tmp_path / "a.csv"
    with_col.write_text(
        "seller_id,name,channel_id,account_manager_id,tier,language,nudges\n"
        "S1,One,C0AAAAAA1,,gold,fr,off\n"
        "S2,Two,C0AAAAAA2,,gold,fr,on\n"
        "S3,Three,C0AAAAAA3,,gold,fr,maybe\n"
    )
    without = tmp_path / "b.csv"
    without.write_text(
        "seller_id,name,channel_id,account_manager_id,tier,language\nS1,One bis,C0AAAAAA1,,gold,fr\n"
    )
    with transaction(session_factory) as s:
        report = do_import_directory(s, read_directory_csv(with_col))
        assert report.errors == [{"line": 4, "error": "nudges 'maybe' is not on or off"}]
        assert do_import_directory(s, read_directory_csv(without)).errors == []
    with session_factory() as s:
        s1, s2 = s.get(Seller, "S1"), s.get(Seller, "S2")
        assert s1 is not None and s2 is not None
        assert s1.name == "One bis" and s1.nudges_opt_out is True  # kept when the column is absent
        assert s2.nudges_opt_out is False
