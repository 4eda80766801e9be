"""`comptoir demo` is one of the README's two commands: it must work on a fresh machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def _run_demo(cwd: Path) -> subprocess.CompletedProcess[str]:
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
    return proc


def test_demo_plays_the_conversation_from_nothing(tmp_path: Path) -> None:
    first = _run_demo(tmp_path)
    out = first.stdout
    # the first run's embedding is not silent: a line per step and per guideline,
    # on stderr (stdout, parsed below, is the conversation alone)
    steps = first.stderr.splitlines()
    assert "demo: migrating a fresh SQLite database" in steps
    assert "demo: embedding guidelines: 20 files to read" in steps
    embedded = [s for s in steps if re.match(r"demo: embedding guidelines \d+/20 ", s)]
    assert len(embedded) >= 20 and embedded[-1].startswith("demo: embedding guidelines 20/20 ")
    assert re.fullmatch(r"demo: embedding guidelines 1/20 [\w.-]+: \d+/\d+ vectors", embedded[0])
    assert not re.search(r"^demo:", out, flags=re.M)
    # it set itself up in the default data dir of the working directory
    assert (tmp_path / ".comptoir" / "demo" / "comptoir.db").exists()
    assert "12 sellers" in out
    conversation = out.split("\n10. ", 1)[0]  # before the performance part
    replies = re.findall(r"^   comptoir (.*)$", conversation, flags=re.M)
    # three answers, then ticket cards: the hand-off, the Level 2, the Level 3; the retry added nothing
    assert len(replies) == 6, out
    # French question, French answer: the quote, given as the answer or (under the calibrated
    # `sure`) as the closest passage
    assert re.match(r"(D'après|Voici le passage de nos consignes)", replies[0]), replies[0]
    assert "only available in French" in out  # English question, French-only guideline
    assert "Je ne trouve pas" in replies[2]  # honest abstention, in French
    assert "answers in that thread: 1" in out
    assert "feedback on question 2: human" in out
    assert re.search(r"question 3 +fr +abstained", out)
    # the help desk: problems become tickets at the classifier's level, in the seller's language
    assert re.search(r"Ticket \*#\d+\* opened · level 1", replies[3])
    assert re.search(r"Ticket \*#\d+\* ouvert · niveau 2", replies[4])
    assert re.search(r"Ticket \*#\d+\* opened · level 3", replies[5])
    assert re.search(r"^   DM to AM .*Casa Olivera", out, flags=re.M)  # the Level 3 reaches its AM
    assert "pris par @U0AGENT001" in out  # the claim updated the triage card
    assert "sweep fires the warning" in out
    assert "sweep fires the breach" in out and "head_of_marketplace" in out
    for person in ("U0LEAD0001", "U0AM00003", "U0HEAD0001"):  # the breach's escalation chain
        assert re.search(rf"^   DM {person} 🔥", out, flags=re.M), person
    assert re.search(r"ticket #\d+ +level 2 +catalogue +claimed +claimed by U0AGENT001", out)
    assert re.search(r"message \d+ +en +a problem, ticket #\d+", out)
    # performance: a nudge in the seller's channel quoting the guideline, a digest with its chart
    nudge = out.split("11. The Monday nudge", 1)[1].split("12. ", 1)[0]
    assert (
        "Votre performance cette semaine" in nudge and "Source : Standards de performance" in nudge
    )
    assert "(in #C0SELLER01)" in nudge
    assert "Atelier Bérénice" not in nudge.split("Source", 1)[0].replace("#C0SELLER01", "")
    digest = out.split("12. The account manager's digest", 1)[1]
    assert re.search(r"^   DM U0AM00001 Votre portefeuille", digest, flags=re.M)
    chart = re.search(r"saved as (\S+\.png)", digest)
    assert chart and Path(chart.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the bot learns from the help desk: the modal refuses the seller's name and a phone
    # number, the edited reply is saved, and the next seller gets it, cited by its date
    learnt = out.split("13. Hugo answers", 1)[1].split("Stored for the help desk", 1)[0]
    assert "Retirez le numéro de téléphone « 06 12 34 56 78 », le nom du vendeur" in learnt
    assert "Réponse du support n°1 enregistrée" in learnt
    answer = learnt.split("14. Another seller", 1)[1]
    assert "Notre équipe support a déjà répondu" in answer and "Réponse du support du" in answer
    assert "Lin & Lavande" not in answer and "06 12" not in answer
    assert re.search(r"question \d+ +fr +answered .*sources: vetted-1", out)
    # a second run re-embeds nothing: the index is incremental
    again = _run_demo(tmp_path).stdout
    assert re.search(r"0 indexed, 20 unchanged since the last run, 0 chunks embedded", again), again


def test_the_demo_week_is_the_last_one_whose_monday_nudge_time_has_passed() -> None:
    # Run on a Monday night in Paris, the demo queued its nudge for 09:30 that morning and
    # waited 30 s for it in vain (seen on 2026-12-07 at 00:30 Paris).
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from bot.demo_performance import last_monday_morning

    paris = ZoneInfo("Europe/Paris")
    assert last_monday_morning(datetime(2026, 12, 7, 0, 30, tzinfo=paris)) == date(2026, 11, 30)
    assert last_monday_morning(datetime(2026, 12, 6, 23, 30, tzinfo=UTC)) == date(2026, 11, 30)
    assert last_monday_morning(datetime(2026, 12, 7, 9, 29, tzinfo=paris)) == date(2026, 11, 30)
    assert last_monday_morning(datetime(2026, 12, 7, 9, 30, tzinfo=paris)) == date(2026, 12, 7)
    assert last_monday_morning(datetime(2026, 12, 13, 23, 0, tzinfo=paris)) == date(2026, 12, 7)
