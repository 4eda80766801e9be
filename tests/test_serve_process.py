"""`comptoir serve` as an operator runs it: the HTTP process acks, its worker child answers.

A real process tree: serve spawns `comptoir worker` at a lower priority; a seller's problem
delivered to /slack/events comes back as a ticket card in the thread (so the worker took
it from the inbox); when serve is killed, even by SIGKILL, its worker goes with it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import slack_payloads
from bot.cli.worker import STOP_GRACE_SECONDS
from bot.slack_standin import SlackStandin
from routing import migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import Seller

SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CHANNEL = "C0SERVE001"


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, SlackStandin, list[str]]]:
    if not Path("/proc").exists():
        pytest.skip("needs /proc (Linux) to see the process tree")
    url = f"sqlite:///{tmp_path / 'comptoir.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as s:
        s.add(
            Seller(
                seller_id="S1",
                name="Atelier Roux",
                channel_id=CHANNEL,
                account_manager_id=None,
                tier="gold",
                language="fr",
            )
        )
    engine.dispose()
    with SlackStandin() as slack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
        env.update(
            COMPTOIR_DATA_DIR=str(tmp_path),
            COMPTOIR_SLACK_BOT_TOKEN=slack.token,
            COMPTOIR_SLACK_SIGNING_SECRET=SECRET,
            COMPTOIR_SLACK_API_URL=slack.url,
        )
        comptoir = str(Path(sys.executable).parent / "comptoir")
        proc = subprocess.Popen(
            [comptoir, "serve", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        base = None
        said: list[str] = []  # what serve and its worker (same stderr) print
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            said.append(line)
            if m := re.search(r"listening on (http://[^/\s]+)", line):
                base = m.group(1)
                break
            assert time.monotonic() < deadline, "serve did not start"
        assert base, "serve exited before listening"
        threading.Thread(target=said.extend, args=(proc.stderr,), daemon=True).start()
        try:
            yield proc, base, slack, said
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)


def test_serve_acks_and_its_worker_child_answers_then_dies_with_it(
    served: tuple[subprocess.Popen[str], str, SlackStandin, list[str]],
) -> None:
    proc, base, slack, said = served
    workers = slack.wait_for(lambda: _children(proc.pid), timeout=30)
    assert len(workers) == 1
    assert b"worker" in Path(f"/proc/{workers[0]}/cmdline").read_bytes().split(b"\0")
    payload = slack_payloads.message_event(
        channel=CHANNEL, text="Bonjour, notre compte vendeur est suspendu depuis ce matin."
    )
    assert slack_payloads.deliver(base, payload, SECRET).status_code == 200
    card = slack.wait_for(
        lambda: slack.posts(channel=CHANNEL, thread_ts=payload["event"]["ts"]), timeout=90
    )[0]
    assert "niveau 3" in card.get("text", "")  # a Level 3 ticket, in the seller's language
    # nothing was ingested here: the worker said so when it started, in one line
    assert any("the guideline index is empty" in line for line in said)

    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    # The kernel hands the worker SIGTERM when serve dies (PR_SET_PDEATHSIG), and it says so.
    # Nothing but that signal stops it here. The worker runs at nice 10: on a loaded machine
    # it gets a few percent of a core, so the bounds are generous; a worker that never got
    # the signal would not say this at all.
    deadline = time.monotonic() + 120
    while not any("comptoir: worker stopping" in line for line in said):
        assert time.monotonic() < deadline, f"the worker got no signal; it said: {said[-5:]}"
        time.sleep(0.1)
    # its stop is bounded at STOP_GRACE_SECONDS (bot/cli/worker.py), then os._exit
    deadline = time.monotonic() + STOP_GRACE_SECONDS + 60
    while _alive(workers[0]):
        assert time.monotonic() < deadline, f"the worker outlived serve; it said: {said[-5:]}"
        time.sleep(0.1)
