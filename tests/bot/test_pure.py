"""The pure pieces: thank-you detection, escaping, Block Kit builders, payload signing."""

from __future__ import annotations

import pytest

from bot import blocks, slack_payloads
from bot.safety import escape_mrkdwn, safe_link, truncate
from routing.conversations import is_thank_you


@pytest.mark.parametrize(
    "text",
    [
        "merci !",
        "Merci beaucoup",
        "top merci 👍",
        "thanks",
        "Thank you so much :pray:",
        "thx",
        "ok merci",
        "Parfait, merci !",
        "super",
    ],
)
def test_thank_you(text: str) -> None:
    assert is_thank_you(text)


@pytest.mark.parametrize(
    "text",
    [
        "merci, et pour les retours ?",
        "thanks, what about returns",
        "Quelle est la commission ?",
        "",
        "👍",
        "merci " * 12,
    ],
)
def test_not_a_thank_you(text: str) -> None:
    assert not is_thank_you(text)


def test_escape_neutralises_every_special_mention() -> None:
    for hostile in (
        "<!channel>",
        "<!here|here>",
        "<!everyone>",
        "<!subteam^S012|@team>",
        "<@U012>",
        "<#C012>",
    ):
        assert "<" not in escape_mrkdwn(hostile) and ">" not in escape_mrkdwn(hostile)
    assert escape_mrkdwn("a & b <c>") == "a &amp; b &lt;c&gt;"
    assert (
        escape_mrkdwn("&lt;") == "&amp;lt;"
    )  # already-escaped text is shown as typed, not decoded


def test_truncate_never_cuts_an_escape_in_half() -> None:
    text = "x" * 2995 + "&amp;" + "y" * 10
    cut = truncate(text)
    assert len(cut) <= 3000 and cut.endswith("…") and not cut.rstrip("…").endswith("&am")


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://help.example.com/a?b=1&c=2", True),
        ("javascript:alert(1)", False),
        ("https://x.example/|<!channel>", False),
        ("https://x.example/a b", False),
        (None, False),
    ],
)
def test_safe_link(url: str | None, linked: bool) -> None:
    shown = safe_link(url, "Guide <!here>")
    assert shown.startswith("<http") == linked
    assert "<!" not in shown


def test_answer_card_numbers_sources_and_labels_buttons_in_the_seller_language() -> None:
    card = blocks.AnswerCard(
        question_id=7,
        answered=True,
        text="Réponse",
        language="fr",
        ui_language="en",
        citations=[{"title": f"Guide {i}", "section": "S", "url": None} for i in range(8)],
    )
    message = blocks.answer_message(card)
    sources = message["blocks"][1]["elements"][0]["text"]
    assert sources.splitlines()[0] == "*Sources*"
    assert sources.splitlines()[1:] == [
        f"{i + 1}. Guide {i} · _S_" for i in range(blocks.MAX_SOURCES)
    ]
    buttons = message["blocks"][2]["elements"]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [
        ("answer_resolved", "7", "Resolved"),
        ("answer_human", "7", "I need a human"),
    ]


def test_signature_matches_slacks_documented_example() -> None:
    # the example from Slack's "Verifying requests from Slack" guide
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert (
        slack_payloads.signature(body, "8f742231b10e8888abcd99yyyzzz85a5", 1531420618)
        == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_a_reply_to_save_is_prefilled_as_a_person_would_retype_it() -> None:
    from bot.vetted_blocks import editable

    slack_text = (
        "Voir <https://help.example-market.fr/cpnp|la consigne> et <https://cpnp.eu> &amp; "
        "demandez &lt;2 jours&gt; à <@U0AGENT0001>"
    )
    assert editable(slack_text) == (
        "Voir la consigne (https://help.example-market.fr/cpnp) et https://cpnp.eu & "
        "demandez <2 jours> à <@U0AGENT0001>"
    )


def test_the_modal_names_everything_to_remove_beside_each_field() -> None:
    from bot.vetted_blocks import BLOCK_ANSWER, BLOCK_LINK, BLOCK_QUESTION, errors
    from routing.vetted_answers import Problem

    problems = [
        Problem("question", "empty"),
        Problem("answer", "iban", "FR76 3000 6000 0112 3456 7890 189"),
        Problem("answer", "phone", "06 12 34 56 78"),
        Problem("link", "url", "ftp://x"),
    ]
    assert errors(problems, "en") == {
        BLOCK_QUESTION: "This field is empty.",
        BLOCK_ANSWER: "Remove the IBAN “FR76 3000 6000 0112 3456 7890 189”, the phone number "
        "“06 12 34 56 78”: other sellers will read this text.",
        BLOCK_LINK: "Give a web address that starts with https://",
    }
