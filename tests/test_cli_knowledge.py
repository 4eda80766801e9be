"""`comptoir kb` and `comptoir ask`, run as the real command in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.calibration import CALIBRATION

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


def test_ingest_shows_progress_on_stderr_and_exits_1_when_a_file_is_skipped(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vacances.md").write_text("# Mode vacances\n\nAu plus 21 jours consécutifs.\n")
    (docs / "broken.md").write_text("---\ntitle: [x\n---\nbody\n")
    out = run(tmp_path, "kb", "ingest", str(docs), "--json")
    assert out.returncode == 1, out.stderr  # done, with a rejected file
    report = json.loads(out.stdout)  # stdout is the JSON alone
    assert (report["documents"], report["chunks"], report["unchanged"], report["removed"]) == (
        1,
        1,
        0,
        0,
    )
    assert [Path(s["path"]).name for s in report["skipped"]] == ["broken.md"]
    assert "YAML" in report["skipped"][0]["reason"]
    # not a terminal: a line when the files are counted, one per file embedded, the skipped named
    lines = out.stderr.splitlines()
    assert lines[0] == "ingest: 2 files to read"
    assert re.fullmatch(r"ingest 2/2 docs/vacances\.md: (\d+)/\1 vectors", lines[1]), lines
    assert re.fullmatch(r"  skipped .*broken\.md: malformed YAML.*", lines[2]), lines
    assert len(lines) == 3
    again = run(tmp_path, "kb", "ingest", str(docs / "vacances.md"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 documents (0 chunks) indexed, 1 unchanged")
    assert again.stderr == "ingest: 1 files to read\n"  # unchanged files cost no line


def test_ingest_of_a_wrong_path_ingests_nothing_and_exits_2(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vacances.md").write_text("# Mode vacances\n\nAu plus 21 jours consécutifs.\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "policy.docx").write_bytes(b"PK")
    for wrong, says in (
        ("no/such/folder", "no/such/folder: no such file or folder"),
        ("empty", "no guideline found in empty"),
        ("scans", "no guideline found in scans"),
    ):
        out = run(tmp_path, "kb", "ingest", str(docs), wrong, "--json")
        assert out.returncode == 2, out.stderr
        assert out.stdout == "" and "Traceback" not in out.stderr
        assert out.stderr.startswith(f"comptoir: {says}") and len(out.stderr.splitlines()) == 1
        assert out.stderr.rstrip().endswith("; nothing ingested")
    stats = json.loads(run(tmp_path, "kb", "stats", "--json").stdout)
    assert stats["documents"] == 0 and stats["last_ingest"] is None


def test_ingest_progress_on_a_terminal_is_a_rich_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.kb import ingest_progress
    from knowledge.ingest import IngestProgress

    with ingest_progress(rich=True) as progress:
        progress(IngestProgress(0, 2, "a.md"))
        progress(IngestProgress(0, 2, "a.md", 32, 90))
        progress(IngestProgress(2, 2, ""))
    assert capsys.readouterr().out == ""  # the bar is on stderr, never on stdout


def test_stats_json(ingested: Path) -> None:
    stats = json.loads(run(ingested, "kb", "stats", "--json").stdout)
    assert stats["documents"] == 20 and stats["languages"] == {"en": 8, "fr": 12}
    assert stats["chunks"] > 20 and stats["last_ingest"]


def test_ask_json(ingested: Path) -> None:
    out = run(ingested, "ask", "Combien de temps pour accepter une commande ?", "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) == {"answered", "mode", "language", "text", "confidence", "citations"}
    assert answer["answered"] and answer["language"] == "fr"
    # the quote is the answer at or above the calibrated `sure`, the closest passage below it
    expected = "sure" if answer["confidence"] >= CALIBRATION.sure else "tentative"
    assert answer["mode"] == expected
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
    assert all(a["mode"] in {"sure", "tentative"} for a in lines)
    assert lines[1]["citations"][0]["source"] == "vacation-mode.md"


def test_ask_readable_text(ingested: Path) -> None:
    out = run(ingested, "ask", "How long can vacation mode last?")
    assert out.returncode == 0 and "[1] Vacation mode" in out.stdout and "confidence" in out.stdout


def test_an_empty_question_is_a_wrong_input(tmp_path: Path) -> None:
    for question in ("", "   "):
        out = run(tmp_path, "ask", question)
        assert out.returncode == 2 and out.stdout == ""
        assert "the question is empty" in out.stderr
    # stdin: blank lines between questions are passed over (test_ask_batch_from_stdin),
    # but stdin without one question is the same wrong input
    for stdin in ("", "\n  \n"):
        out = run(tmp_path, "ask", "--json", "-", stdin=stdin)
        assert out.returncode == 2 and out.stdout == ""
        assert "no question on stdin" in out.stderr


def test_ask_on_an_empty_index_is_a_clear_error(tmp_path: Path) -> None:
    out = run(tmp_path, "ask", "anything?", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert "index is empty" in out.stderr and "Traceback" not in out.stderr
