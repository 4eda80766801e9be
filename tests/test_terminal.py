from __future__ import annotations

import json

from bot.terminal import message_to_text, mrkdwn_to_text


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
