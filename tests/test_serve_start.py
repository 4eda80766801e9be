"""`comptoir serve` that cannot reach Slack at start says so in one line, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we leave: nothing listens there


def test_serve_without_a_route_to_slack_exits_1_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env |= {
        "COMPTOIR_DATA_DIR": str(tmp_path / "data"),
        "COMPTOIR_SLACK_BOT_TOKEN": "xoxb-1-0123456789",
        "COMPTOIR_SLACK_SIGNING_SECRET": "5e1f0c3a9b7d4e2f8a6c1b3d5e7f9a0b",
        "COMPTOIR_SLACK_API_URL": f"http://127.0.0.1:{_closed_port()}/api/",
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "comptoir"), "serve", "--no-worker", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "comptoir: Slack did not answer auth.test at http://127.0.0.1:" in proc.stderr
