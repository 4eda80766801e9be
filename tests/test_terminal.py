from __future__ import annotations

import io
import json

from bot.terminal import Progress, message_to_text, mrkdwn_to_text


def test_links_mentions_and_entities_read_as_text() -> None:
    assert (
        mrkdwn_to_text("See <https://x.example/a|the guide> &lt;!channel&gt; <@U123>")
        == "See the guide (https://x.example/a) <!channel> @U123"
    )


def test_blocks_render_sections_context_and_buttons() -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Photos: *1000 px* minimum [1]"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "[1] Photos > Format"}]},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Resolved"}},
                {"type": "button", "text": {"type": "plain_text", "text": "I need a human"}},
            ],
        },
    ]
    text = message_to_text({"blocks": json.dumps(blocks), "text": "fallback"})
    assert text.splitlines() == [
        "Photos: *1000 px* minimum [1]",
        "  [1] Photos > Format",
        "[ Resolved ]  [ I need a human ]",
    ]
    assert message_to_text({"text": "only &amp; text"}) == "only & text"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_is_a_line_per_tenth_and_one_at_the_end() -> None:
    out = io.StringIO()
    with Progress("metrics import", total=2_000_000, unit="bytes", stream=out) as progress:
        for done in range(0, 2_000_001, 50_000):  # 41 updates, one a batch
            progress.update(done, f"{done // 100} rows")
        progress.done("20000 rows")
    lines = out.getvalue().splitlines()
    assert lines[0] == "metrics import: 10% (0.2 MB of 2.0 MB), 2000 rows"
    assert len(lines) == 11 and lines[-2].startswith("metrics import: 100% (2.0 MB of 2.0 MB)")
    assert lines[-1] == "metrics import: done, 20000 rows"


def test_progress_without_a_total_writes_every_so_many_units_and_named_steps() -> None:
    out = io.StringIO()
    with Progress("metrics import", unit="rows", every=100_000, stream=out) as progress:
        progress.step("reading the warehouse")
        for done in range(5_000, 250_001, 5_000):
            progress.update(done)
    assert out.getvalue().splitlines() == [
        "metrics import: reading the warehouse",
        "metrics import: 100,000 rows",
        "metrics import: 200,000 rows",
    ]


def test_progress_on_a_terminal_is_a_bar() -> None:
    out = _Terminal()
    with Progress("sellers import", total=1000, unit="bytes", stream=out) as progress:
        progress.update(500, "12 created")
        progress.done("20 created")
    text = out.getvalue()
    assert "sellers import" in text and "100%" in text and "20 created" in text
    assert "━" in text  # rich's bar, not the plain lines
    assert "sellers import: done" not in text
