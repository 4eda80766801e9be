"""`comptoir demo` is one of the README's two commands: it must work on a fresh machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def _run_demo(cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "comptoir"), "demo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_demo_plays_the_conversation_from_nothing(tmp_path: Path) -> None:
    out = _run_demo(tmp_path)
    # it set itself up in the default data dir of the working directory
    assert (tmp_path / ".comptoir" / "demo" / "comptoir.db").exists()
    assert "12 sellers" in out
    answers = re.findall(r"^   comptoir (.*)$", out, flags=re.M)
    assert len(answers) == 4, out  # three answers and the hand-off; the retry added nothing
    assert "D'après" in answers[0]  # French question, French answer
    assert "only available in French" in out  # English question, French-only guideline
    assert "Je ne trouve pas" in answers[2]  # honest abstention, in French
    assert "answers in that thread: 1" in out
    assert "feedback on question 2: human" in out
    assert re.search(r"question 3 +fr +abstained", out)
    # a second run re-embeds nothing: the index is incremental
    again = _run_demo(tmp_path)
    assert re.search(r"0 indexed, 20 unchanged since the last run, 0 chunks embedded", again), again
