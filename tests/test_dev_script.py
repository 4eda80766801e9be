"""`./dev`: the way in for a person who has just cloned the project. `comptoir` lives in
.venv, so `./dev shell` must put it on PATH and `./dev demo` must say how to reach it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def _dev(*args: str) -> subprocess.CompletedProcess[str]:
    """./dev with a PATH that does not already lead to .venv (as in a fresh shell)."""
    if not (VENV / ".installed").exists() or (
        (ROOT / "pyproject.toml").stat().st_mtime > (VENV / ".installed").stat().st_mtime
    ):
        pytest.skip("./dev would reinstall .venv first (pyproject.toml changed since)")
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(str(VENV))
    )
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PATH": path}
    return subprocess.run(
        [str(ROOT / "dev"), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_dev_shell_runs_commands_with_the_venv_activated() -> None:
    out = _dev("shell", "-c", 'command -v comptoir; echo "$VIRTUAL_ENV"; exit 3')
    assert out.returncode == 3, out.stderr  # the command's own exit code comes back
    assert out.stdout.splitlines() == [str(VENV / "bin" / "comptoir"), str(VENV)]


def test_dev_usage_lists_shell_and_the_demo_ends_with_the_way_to_the_other_commands() -> None:
    usage = _dev()
    assert usage.returncode == 2 and "./dev shell" in usage.stdout
    assert "set -euo" not in usage.stdout  # the usage text only, not the script
    demo = _dev("demo", "--help")  # the hint follows whatever the demo did, without a demo
    assert demo.returncode == 0 and "Usage: comptoir demo" in demo.stdout
    assert "source .venv/bin/activate" in demo.stderr and "./dev shell" in demo.stderr
    bad = _dev("demo", "--no-such-option")
    assert bad.returncode == 2 and "source .venv/bin/activate" in bad.stderr
