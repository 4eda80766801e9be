"""The last part of `comptoir demo`: the bot learns from the help desk ("Save as an answer").

Hugo answers the Shopify question the guidelines could not (scene 3) in the seller's thread,
saves his reply with the message shortcut (the modal refuses it while it names the seller and
holds a phone number), and the next seller who asks, in other words, gets it from the bot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from bot import slack_payloads, vetted_blocks
from bot.listeners.deps import Deps
from bot.slack_standin import SlackStandin
from routing.models import Question

if TYPE_CHECKING:
    from bot.demo import Demo

AGENT = "U0AGENT001"
CHANNEL = "C0SELLER02"  # Lin & Lavande, who asked about Shopify in scene 3
REPLY = (
    "Bonjour Lin & Lavande ! Pas de connecteur Shopify direct pour l'instant : exportez votre "
    "catalogue Shopify en CSV, puis importez-le depuis Catalogue > Import. Je reste joignable "
    "au 06 12 34 56 78."
)
QUESTION = "Peut-on connecter une boutique Shopify directement par API ?"
ANSWER = (
    "Pas de connecteur Shopify direct pour l'instant : exportez votre catalogue Shopify en CSV, "
    "puis importez-le depuis Catalogue > Import."
)
NEXT = (
    "C0SELLER01",
    "U0SELLERFR1",
    "Mon Shopify peut-il se synchroniser automatiquement avec vous ?",
)


def play_vetted(demo: Demo, slack: SlackStandin, url: str, secret: str, deps: Deps) -> None:
    def send(payload: dict[str, object]) -> object:
        return slack_payloads.deliver(url, payload, secret)

    with deps.session_factory() as session:
        root = session.scalar(
            select(Question.thread_ts).where(Question.channel_id == CHANNEL).order_by(Question.id)
        )
    assert root is not None, "scene 3's question is not stored"
    demo.say(f"\n13. Hugo answers the Shopify question in the seller's thread  [#{CHANNEL}]")
    reply = slack_payloads.message_event(channel=CHANNEL, user=AGENT, text=REPLY, thread_ts=root)
    send(reply)
    demo.say(f"   Hugo     {REPLY}")
    demo.say('   He chooses "Save as an answer" on his reply (a message shortcut, staff only)')
    message = {"ts": reply["event"]["ts"], "thread_ts": root, "user": AGENT, "text": REPLY}
    send(
        slack_payloads.message_shortcut(
            callback_id=vetted_blocks.SHORTCUT_ID, user=AGENT, channel=CHANNEL, message=message
        )
    )
    view = slack.wait_for(lambda: slack.views(), timeout=30)[-1]
    demo.say(f"   modal    {view['blocks'][0]['text']['text']}")
    response = slack_payloads.deliver(url, slack_payloads.view_submission(view, user=AGENT), secret)
    for line in response.json().get("errors", {}).values():
        demo.say(f"   modal    (saved as it is) {line}")
    edits = {vetted_blocks.BLOCK_QUESTION: QUESTION, vetted_blocks.BLOCK_ANSWER: ANSWER}
    slack_payloads.deliver(
        url, slack_payloads.view_submission(view, user=AGENT, edits=edits), secret
    )
    demo.say(f"   Hugo     (edited) {QUESTION} / {ANSWER}")
    saved = slack.wait_for(
        lambda: [c for c in slack.ephemerals(user=AGENT) if "enregistr" in c.params["text"]],
        timeout=30,
    )
    demo.show("to Hugo", saved[-1])

    channel, user, text = NEXT
    demo.say(f"\n14. Another seller asks the same thing in other words  [#{channel}]")
    demo.say(f"   seller   {text}")
    payload = slack_payloads.message_event(channel=channel, user=user, text=text)
    send(payload)
    demo.show("comptoir", demo.wait(slack, channel, payload["event"]["ts"]))
