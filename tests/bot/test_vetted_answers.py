""" "Save as an answer" end to end, on SQLite and PostgreSQL: signed shortcut and modal payloads
through the real endpoint, the modal read back from the Slack stand-in, the real knowledge base
over the sample guidelines, and `comptoir kb answers retire` as a real process beside the bot.

Seller A (Maison Lune) asks; an agent answers in the thread, naming the seller and an order;
the agent saves the reply, edited. Seller B, in other words, gets the edited answer, cited as
the help desk's answer of the day, with nothing of seller A in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot import slack_payloads as sp
from bot import vetted_blocks
from bot.cli.kb import open_knowledge_base
from bot.slack_standin import Call
from knowledge.messages import help_desk_title
from routing.db import make_engine, make_sessionmaker, transaction, utcnow
from routing.models import VettedAnswer
from tests.bot.conftest import (
    AGENT,
    SHOP_EN,
    SHOP_FR,
    SHOP_NO_AM,
    Bot,
    FakeClassifier,
    make_settings,
)

COMPTOIR = Path(sys.executable).with_name("comptoir")
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
SELLER_A, SELLER_B = "U0SELLER1", "U0SELLER2"
QUESTION = "Puis-je vendre des cosmétiques faits maison ?"
RAW_REPLY = (
    "Bonjour Maison Lune ! Oui : pour votre commande 40213377, il faut un dossier d'information "
    "produit et une déclaration au portail CPNP. Écrivez-moi à ines@example-market.fr."
)
EDITED = (
    "Oui : il faut un dossier d'information produit et une déclaration au portail CPNP avant "
    "la mise en vente."
)
PARAPHRASE = "Est-ce que je peux vendre des savons que je fabrique moi-même ?"
LINK = "https://help.example-market.fr/catalogue/cosmetiques"


@pytest.fixture
def kb_bot(
    start_bot: Callable[..., Bot], migrated_url: str, slack: Any, tmp_path: Path, sample_kb: Any
) -> Bot:
    """The bot answering from a knowledge base in its own data dir (a copy of the session's
    sample index), where `comptoir kb answers` finds it too."""
    return _start_kb_bot(start_bot, migrated_url, slack, tmp_path, sample_kb)


def _start_kb_bot(
    start_bot: Callable[..., Bot], migrated_url: str, slack: Any, tmp_path: Path, sample_kb: Any
) -> Bot:
    shutil.copytree(
        sample_kb.index.client.get_settings().persist_directory, tmp_path / "data" / "chroma"
    )
    kb = open_knowledge_base(make_settings(migrated_url, slack, tmp_path))
    return start_bot(answerer=kb, vetted_index=kb, classifier=FakeClassifier())


def _ask(bot: Bot, channel: str, text: str, *, user: str) -> tuple[str, Call]:
    body = sp.message_event(channel=channel, user=user, text=text)
    root = body["event"]["ts"]
    bot.send(body)
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=channel, thread_ts=root))[-1]
    return root, post


def _staff_reply(bot: Bot, root: str) -> dict[str, Any]:
    body = sp.message_event(channel=SHOP_FR, user=AGENT, text=RAW_REPLY, thread_ts=root)
    bot.send(body)
    bot.wait_event(body["event_id"], "staff")
    event = body["event"]
    return {"ts": event["ts"], "thread_ts": root, "user": AGENT, "text": RAW_REPLY}


def _shortcut(bot: Bot, message: dict[str, Any], *, user: str) -> None:
    payload = sp.message_shortcut(
        callback_id=vetted_blocks.SHORTCUT_ID, user=user, channel=SHOP_FR, message=message
    )
    assert bot.send(payload).status_code == 200


def _saved(bot: Bot) -> list[VettedAnswer]:
    with bot.factory() as s:
        return list(s.scalars(select(VettedAnswer).order_by(VettedAnswer.id)))


def _open_modal(bot: Bot) -> dict[str, Any]:
    _, first = _ask(bot, SHOP_FR, QUESTION, user=SELLER_A)
    message = _staff_reply(bot, first.params["thread_ts"])
    _shortcut(bot, message, user=AGENT)
    return bot.slack.wait_for(lambda: bot.slack.views())[-1]


def _input(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"]


def test_the_shortcut_is_staff_only_and_for_staff_replies(kb_bot: Bot) -> None:
    bot = kb_bot
    root, _ = _ask(bot, SHOP_FR, QUESTION, user=SELLER_A)
    message = _staff_reply(bot, root)
    _shortcut(bot, message, user=SELLER_A)  # the seller, who is in the shared channel too
    refusal = bot.slack.wait_for(lambda: bot.slack.ephemerals(user=SELLER_A))
    assert "Seule l'équipe support" in refusal[0].params["text"]
    # staff, but on the seller's own message: not a help-desk reply
    seller_message = {"ts": root, "user": SELLER_A, "text": QUESTION}
    _shortcut(bot, {**seller_message, "thread_ts": root}, user=AGENT)
    not_reply = bot.slack.wait_for(lambda: bot.slack.ephemerals(user=AGENT))
    assert "réponse de l'équipe support" in not_reply[0].params["text"]
    # a submission forged for a modal nobody opened for them is refused beside the field
    view = vetted_blocks.save_modal(
        question=QUESTION,
        answer=EDITED,
        answer_language="fr",
        source=vetted_blocks.Source(1, SHOP_FR, root, message["ts"]),
        staff_language="fr",
    )
    response = bot.send(sp.view_submission(view, user=SELLER_A))
    assert response.json()["response_action"] == "errors"
    assert bot.slack.calls("views.open") == []
    assert _saved(bot) == []


def test_staff_save_an_edited_reply_and_the_next_seller_gets_it(kb_bot: Bot) -> None:
    bot = kb_bot
    view = _open_modal(bot)
    # the modal: the seller's question and the staff reply to edit, under the warning
    assert view["callback_id"] == vetted_blocks.VIEW_ID
    assert "D'autres vendeurs liront cette réponse" in view["blocks"][0]["text"]["text"]
    assert _input(view, vetted_blocks.BLOCK_QUESTION)["initial_value"] == QUESTION
    assert _input(view, vetted_blocks.BLOCK_ANSWER)["initial_value"] == RAW_REPLY
    assert _input(view, vetted_blocks.BLOCK_LANGUAGE)["initial_option"]["value"] == "fr"

    # saved as it came, with the seller's name, an order number and an e-mail: refused, by name
    response = bot.send(sp.view_submission(view, user=AGENT))
    assert response.status_code == 200
    refused = response.json()
    assert refused["response_action"] == "errors"
    assert set(refused["errors"]) == {vetted_blocks.BLOCK_ANSWER}
    assert refused["errors"][vetted_blocks.BLOCK_ANSWER] == (
        "Retirez l'adresse e-mail « ines@example-market.fr », le numéro de commande ou de "
        "référence « 40213377 », le nom du vendeur « Maison Lune » : d'autres vendeurs liront "
        "ce texte."
    )
    assert _saved(bot) == []

    edits = {vetted_blocks.BLOCK_ANSWER: EDITED, vetted_blocks.BLOCK_LINK: LINK}
    response = bot.send(sp.view_submission(view, user=AGENT, edits=edits))
    assert response.status_code == 200 and not response.text  # the modal closes
    confirmation = bot.slack.wait_for(
        lambda: [c for c in bot.slack.ephemerals(user=AGENT) if "enregistrée" in c.params["text"]]
    )
    [row] = _saved(bot)
    assert "Réponse du support n°" in confirmation[0].params["text"]
    assert (row.question, row.answer, row.language, row.author_id) == (
        QUESTION,
        EDITED,
        "fr",
        AGENT,
    )
    assert row.guideline_url == LINK and row.retired_at is None
    assert (row.source_channel_id, row.source_question_id) == (SHOP_FR, bot.questions()[0].id)

    # another seller, other words: the help desk's answer, cited by its date, with its link
    _, post = _ask(bot, SHOP_NO_AM, PARAPHRASE, user=SELLER_B)
    shown = json.dumps(post.params, ensure_ascii=False)
    assert EDITED in post.params["text"]
    assert help_desk_title(row.created_at.date(), "fr") in shown
    assert LINK in shown
    # nothing of seller A: not the raw reply, their name, channel, user, order or e-mail
    for private in ("Maison Lune", SHOP_FR, SELLER_A, "40213377", "ines@", "Bonjour", "S-FR"):
        assert private not in shown, private
    [b_question] = [q for q in bot.questions() if q.channel_id == SHOP_NO_AM]
    assert (b_question.mode, b_question.answered) == ("vetted", True)

    # an English seller is told the answer exists in French only (no machine translation)
    _, english = _ask(bot, SHOP_EN, "Can I sell homemade cosmetics?", user="U0SELLER3")
    assert "This answer is only available in French:" in english.params["text"]
    assert "Help-desk answer of " in json.dumps(english.params)


def _comptoir(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env |= {"COMPTOIR_DATA_DIR": str(tmp_path / "data"), "COMPTOIR_DATABASE_URL": db_url}
    return subprocess.run(
        [str(COMPTOIR), *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )


def test_retire_from_the_command_line_takes_it_out_at_once(
    kb_bot: Bot, tmp_path: Path, migrated_url: str
) -> None:
    bot = kb_bot
    view = _open_modal(bot)
    bot.send(sp.view_submission(view, user=AGENT, edits={vetted_blocks.BLOCK_ANSWER: EDITED}))
    bot.slack.wait_for(
        lambda: [c for c in bot.slack.ephemerals(user=AGENT) if "enregistr" in c.params["text"]]
    )
    [row] = _saved(bot)
    _, before = _ask(bot, SHOP_NO_AM, PARAPHRASE, user=SELLER_B)
    assert EDITED in before.params["text"]

    listed = _comptoir(tmp_path, migrated_url, "kb", "answers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(a["id"], a["answer"], a["retired_at"]) for a in json.loads(listed.stdout)] == [
        (row.id, EDITED, None)
    ]
    unknown = _comptoir(tmp_path, migrated_url, "kb", "answers", "retire", "999")
    assert unknown.returncode == 2
    assert "no help-desk answer with id 999" in unknown.stderr

    retired = _comptoir(tmp_path, migrated_url, "kb", "answers", "retire", str(row.id))
    assert retired.returncode == 0, retired.stderr
    assert f"#{row.id} retired" in retired.stdout
    # the running bot, in another process, no longer gives it: the next seller gets the guidelines
    _, after = _ask(bot, SHOP_NO_AM, PARAPHRASE, user=SELLER_B)
    assert EDITED not in after.params["text"]
    [row] = _saved(bot)
    assert row.retired_at is not None
    text = _comptoir(tmp_path, migrated_url, "kb", "answers", "list")
    assert f"#{row.id}" in text.stdout and "retired" in text.stdout


def test_the_index_is_rebuilt_from_the_database_when_the_bot_starts(
    start_bot: Callable[..., Bot], migrated_url: str, slack: Any, tmp_path: Path, sample_kb: Any
) -> None:
    """Answers saved while the index was elsewhere (a new Chroma, a restored backup) are
    indexed at start; retired ones are not."""
    engine = make_engine(migrated_url)
    with transaction(make_sessionmaker(engine)) as s:
        for text, retired in ((EDITED, None), ("Jamais : c'est interdit.", utcnow())):
            s.add(
                VettedAnswer(
                    question=QUESTION,
                    answer=text,
                    language="fr",
                    author_id=AGENT,
                    created_at=utcnow(),
                    retired_at=retired,
                )
            )
    engine.dispose()
    bot = _start_kb_bot(start_bot, migrated_url, slack, tmp_path, sample_kb)
    _, post = _ask(bot, SHOP_NO_AM, PARAPHRASE, user=SELLER_B)
    assert EDITED in post.params["text"]
    assert "interdit" not in post.params["text"]
    # and by hand: nothing left to do
    done = _comptoir(tmp_path, migrated_url, "kb", "answers", "reindex", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"added": [], "removed": [], "kept": 1}


def test_the_manifest_declares_the_shortcut() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", vetted_blocks.SHORTCUT_ID)
    assert len(shortcut["name"]) <= 25 and "commands" in manifest["oauth_config"]["scopes"]["bot"]


def test_ask_shows_a_vetted_answer_with_its_date_and_link(sample_kb: Any) -> None:
    from bot.cli.ask import _render
    from tests.knowledge.test_vetted import COSMETICS, PARAPHRASE, _kb

    kb = _kb(sample_kb)
    kb.add_vetted([COSMETICS])
    lines = _render(kb.answer(PARAPHRASE)).splitlines()
    assert lines[-3:-1] == [
        "[1] Réponse du support du 7 décembre 2026 (vetted-7)",
        f"[2] La consigne correspondante ({COSMETICS.url}) <{COSMETICS.url}>",
    ]
