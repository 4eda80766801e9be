"""`comptoir sla sweep` while the bot runs: the operator's escalation chain is told, through
the outbox, once (issue 9 item 6). Before, a sweep by hand recorded the alerts, told nobody,
and the running service then found them already fired: nobody was ever told.

The bot is a real runtime on the test database (SQLite and PostgreSQL) with the Slack
stand-in; its outbox is driven by the test (`deliver_due`), so "once" is counted, not
waited for. The operator's policy file escalates a Level 3 breach to the head of marketplace
alone, where the packaged one also names the lead and the account manager.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path

import yaml
from typer.testing import CliRunner

from bot import slack_payloads as sp
from bot.cli import app
from bot.sla_job import run_sla_sweep
from routing.sla_policy import load_policy
from tests.bot.conftest import ACCOUNT_MANAGER, HEAD, LEAD, SHOP_FR, TRIAGE, Bot

SUSPENDED = "Bonjour, mon compte est suspendu depuis ce matin, je ne peux plus vendre"
COMPTOIR = Path(sys.executable).with_name("comptoir")
PEOPLE = (LEAD, ACCOUNT_MANAGER, HEAD)


def operator_policy(tmp_path: Path) -> Path:
    """The packaged policy, but a Level 3 breach escalates to the head of marketplace only."""
    data = yaml.safe_load(resources.files("routing").joinpath("sla_defaults.yaml").read_text())
    data["levels"][3]["escalation"] = ["head_of_marketplace"]
    path = tmp_path / "operator-sla.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli_env(migrated_url: str, tmp_path: Path, policy: Path) -> dict[str, str]:
    """The operator's configuration, as `comptoir` reads it from the environment."""
    return {
        "COMPTOIR_DATABASE_URL": migrated_url,
        "COMPTOIR_DATA_DIR": str(tmp_path / "cli-data"),
        "COMPTOIR_SLA_POLICY_PATH": str(policy),
        "COMPTOIR_TRIAGE_CHANNEL": TRIAGE,
    }


def level3_ticket(bot: Bot) -> tuple[str, str]:
    """A Level 3 problem through the endpoint, its opening messages delivered. Returns the
    ticket's triage card ts and the sweep instant three hours after it opened."""
    bot.send(sp.message_event(channel=SHOP_FR, text=SUSPENDED))
    bot.wait_ticket()
    bot.runtime.outbox.deliver_due()  # the cards and the account manager's opening DM
    ticket = bot.wait_ticket(lambda t: t.triage_ts is not None)
    assert ticket.level == 3
    assert ticket.triage_ts is not None
    return ticket.triage_ts, (ticket.created_at + timedelta(hours=3)).isoformat()


def dms(bot: Bot) -> dict[str, int]:
    return {user: len(bot.slack.posts(channel=user)) for user in PEOPLE}


def test_a_manual_sweep_tells_the_operators_chain_through_the_outbox_once(
    start_bot: Callable[..., Bot], migrated_url: str, tmp_path: Path
) -> None:
    policy = operator_policy(tmp_path)
    bot = start_bot(worker=False, policy=load_policy(policy))
    card_ts, later = level3_ticket(bot)
    before = dms(bot)
    sent_before = len(bot.slack.posts())
    runner = CliRunner()
    env = cli_env(migrated_url, tmp_path, policy)

    result = runner.invoke(app, ["sla", "sweep", "--now", later, "--json"], env=env)

    assert result.exit_code == 0, result.stderr
    [alert] = json.loads(result.stdout)
    assert (alert["kind"], alert["target"]) == ("breach", "first_response")
    assert alert["escalate_to"] == ["head_of_marketplace"]  # the operator's file, not packaged
    assert len(bot.slack.posts()) == sent_before  # queued, not sent by the command itself
    report = bot.runtime.outbox.deliver_due()  # the running service's outbox
    assert report.sent == 2  # the card's thread and the head's DM
    assert dms(bot) == {**before, HEAD: before[HEAD] + 1}  # lead and AM: not on this chain
    [in_thread] = bot.slack.posts(channel=TRIAGE, thread_ts=card_ts)
    assert "#1001" in in_thread.params["text"]

    # fired once: the CLI again, then the worker's own sweep, find nothing to tell
    again = runner.invoke(app, ["sla", "sweep", "--now", later, "--json"], env=env)
    assert again.exit_code == 0 and json.loads(again.stdout) == []
    deps = bot.runtime.deps
    assert deps.policy.escalation(3) == ["head_of_marketplace"]
    assert run_sla_sweep(deps, now=deps.clock() + timedelta(hours=3, minutes=1)) == []
    assert bot.runtime.outbox.deliver_due().sent == 0
    assert dms(bot) == {**before, HEAD: before[HEAD] + 1}
    assert len(bot.slack.posts(channel=TRIAGE, thread_ts=card_ts)) == 1


def test_the_installed_command_sweeps_and_the_running_outbox_delivers_once(
    start_bot: Callable[..., Bot], migrated_url: str, tmp_path: Path
) -> None:
    policy = operator_policy(tmp_path)
    bot = start_bot(worker=False, policy=load_policy(policy))
    card_ts, later = level3_ticket(bot)
    before = dms(bot)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env |= cli_env(migrated_url, tmp_path, policy)

    proc = subprocess.run(
        [str(COMPTOIR), "sla", "sweep", "--now", later],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "breach first_response" in proc.stdout and "→ head_of_marketplace" in proc.stdout
    assert "1 alert(s) fired at" in proc.stdout, proc.stdout
    bot.runtime.outbox.deliver_due()
    bot.runtime.outbox.deliver_due()  # a second pass (or another worker) sends nothing again
    assert dms(bot) == {**before, HEAD: before[HEAD] + 1}
    assert len(bot.slack.posts(channel=TRIAGE, thread_ts=card_ts)) == 1
    [dm] = bot.slack.posts(channel=HEAD)[before[HEAD] :]
    assert "#1001" in dm.params["text"]
