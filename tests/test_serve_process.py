"""`comptoir serve` as an operator runs it: the HTTP process acks, its worker child answers.

A real process tree: serve spawns `comptoir worker` at a lower priority; a seller's problem
delivered to /slack/events comes back as a ticket card in the thread (so the worker took
it from the inbox); when serve is killed, even by SIGKILL, its worker goes with it; when it
is stopped by SIGTERM, it stops its worker first. Every timeout prints what both said.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import slack_payloads
from bot.cli.worker import STOP_GRACE_SECONDS
from bot.slack_standin import SlackStandin
from routing import migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import Seller
from tests.processes import Proc, alive, children, env_for, listening_url, wait_for

SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CHANNEL = "C0SERVE001"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Proc, str, SlackStandin]]:
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
        env = env_for(
            data_dir=tmp_path,
            slack_bot_token=slack.token,
            slack_signing_secret=SECRET,
            slack_api_url=slack.url,
        )
        serve = Proc("serve", ["serve", "--port", "0"], env)  # its worker shares its stderr
        try:
            yield serve, listening_url(serve), slack
        finally:
            serve.stop()


def _worker_of(serve: Proc) -> int:
    """Serve's one child, once it runs the worker: a child just forked, or between fork and
    exec, has no cmdline yet (or serve's), so its command line is read until it is the
    worker's."""

    def the_worker() -> int | None:
        kids = children(serve.pid)
        if len(kids) != 1:
            return None
        try:
            args = Path(f"/proc/{kids[0]}/cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            return None
        return kids[0] if b"worker" in args else None

    worker: int = wait_for(the_worker, timeout=60, what="serve's worker child", procs=[serve])
    return worker


def test_serve_acks_and_its_worker_child_answers_then_dies_with_it(
    served: tuple[Proc, str, SlackStandin],
) -> None:
    serve, base, slack = served
    worker = _worker_of(serve)
    payload = slack_payloads.message_event(
        channel=CHANNEL, text="Bonjour, notre compte vendeur est suspendu depuis ce matin."
    )
    assert slack_payloads.deliver(base, payload, SECRET).status_code == 200
    card = wait_for(
        lambda: slack.posts(channel=CHANNEL, thread_ts=payload["event"]["ts"]),
        timeout=180,
        what="the ticket card",
        procs=[serve],
    )[0]
    assert "niveau 3" in card.get("text", "")  # a Level 3 ticket, in the seller's language
    # nothing was ingested here: the worker said so when it started, in one line
    assert serve.said("the guideline index is empty")

    serve.proc.send_signal(signal.SIGKILL)
    serve.proc.wait(30)
    # The kernel hands the worker SIGTERM when serve dies (PR_SET_PDEATHSIG), and it says so.
    # Nothing but that signal (or its own check of its parent) stops it here. The worker runs
    # at nice 10: on a loaded machine it gets a few percent of a core, so the bounds are
    # generous; a worker that never got the signal would not say this at all.
    wait_for(
        lambda: serve.said("comptoir: worker stopping"),
        timeout=120,
        what="the worker to get serve's death signal",
        procs=[serve],
    )
    # its stop is bounded at STOP_GRACE_SECONDS (bot/cli/worker.py), then os._exit
    wait_for(
        lambda: not alive(worker),
        timeout=STOP_GRACE_SECONDS + 60,
        what="the worker to exit after serve's death",
        procs=[serve],
    )


def test_sigterm_to_serve_stops_its_worker_first(
    served: tuple[Proc, str, SlackStandin],
) -> None:
    serve, _, _ = served
    worker = _worker_of(serve)
    wait_for(lambda: serve.said("worker running"), timeout=180, what="the worker", procs=[serve])
    serve.proc.send_signal(signal.SIGTERM)
    code = wait_for(
        lambda: serve.proc.poll() is not None and (serve.proc.returncode,),
        timeout=STOP_GRACE_SECONDS + 60,
        what="serve to stop",
        procs=[serve],
    )
    assert code == (0,), serve.output()  # a clean stop, not death by the signal
    assert not alive(worker), serve.output()
    assert serve.said("comptoir: worker stopping")
    assert not serve.said("restarting it")  # a stop is not a death to restart from
