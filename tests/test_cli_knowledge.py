"""`comptoir kb` and `comptoir ask`, run as the real command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPTOIR = Path(sys.executable).with_name("comptoir")


def run(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env["COMPTOIR_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(COMPTOIR), *args], input=stdin, capture_output=True, text=True, env=env,
        cwd=data_dir, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, sample_kb) -> Path:  # type: ignore[no-untyped-def]
    """A data dir whose index is the session's sample index (ingesting again would cost a minute)."""
    data = tmp_path_factory.mktemp("cli")
    shutil.copytree(sample_kb.index.client.get_settings().persist_directory, data / "chroma")
    out = run(data, "kb", "ingest", str(ROOT / "knowledge/sample/guidelines"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "documents": 0, "chunks": 0, "unchanged": 20, "removed": 0, "skipped": []
    }  # fmt: skip
    return data


def test_ingest_json_reports_skipped_files(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vacances.md").write_text("# Mode vacances\n\nAu plus 21 jours consécutifs.\n")
    (docs / "broken.md").write_text("---\ntitle: [x\n---\nbody\n")
    out = run(tmp_path, "kb", "ingest", str(docs), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["documents"], report["chunks"], report["unchanged"], report["removed"]) == (
        1,
        1,
        0,
        0,
    )
    assert [Path(s["path"]).name for s in report["skipped"]] == ["broken.md"]
    assert "YAML" in report["skipped"][0]["reason"]
    assert out.stderr == ""  # no progress bar when stderr is not a terminal


def test_stats_json(ingested: Path) -> None:
    stats = json.loads(run(ingested, "kb", "stats", "--json").stdout)
    assert stats["documents"] == 20 and stats["languages"] == {"en": 8, "fr": 12}
    assert stats["chunks"] > 20 and stats["last_ingest"]


def test_ask_json(ingested: Path) -> None:
    out = run(ingested, "ask", "Combien de temps pour accepter une commande ?", "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) == {"answered", "language", "text", "confidence", "citations"}
    assert answer["answered"] and answer["language"] == "fr"
    assert answer["citations"][0]["source"] == "commandes-acceptation.md"
    assert set(answer["citations"][0]) == {"title", "source", "section", "score"}


def test_ask_batch_from_stdin(ingested: Path) -> None:
    questions = (
        "Combien de temps pour accepter une commande ?\n\nHow long can vacation mode last?\n"
    )
    out = run(ingested, "ask", "--json", "-", stdin=questions)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [a["language"] for a in lines] == ["fr", "en"]  # the blank line is ignored
    assert lines[1]["citations"][0]["source"] == "vacation-mode.md"


def test_ask_readable_text(ingested: Path) -> None:
    out = run(ingested, "ask", "How long can vacation mode last?")
    assert out.returncode == 0 and "[1] Vacation mode" in out.stdout and "confidence" in out.stdout


def test_ask_on_an_empty_index_is_a_clear_error(tmp_path: Path) -> None:
    out = run(tmp_path, "ask", "anything?", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert "index is empty" in out.stderr and "Traceback" not in out.stderr
