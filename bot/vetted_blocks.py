"""The "Save as an answer" modal: plain values in, a view out; and its submission read back.

Staff read it in the help desk's language. The warning comes first: what is saved is shown to
other sellers, so the question and the answer are edited here into general terms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import messages
from bot.safety import plain
from routing.vetted_answers import MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, MAX_URL_CHARS, Problem

SHORTCUT_ID = "save_vetted_answer"  # the message shortcut (manifest.yml)
VIEW_ID = "vetted_answer_save"  # the modal's callback_id
BLOCK_QUESTION = "vetted_question"
BLOCK_ANSWER = "vetted_answer"
BLOCK_LINK = "vetted_link"
BLOCK_LANGUAGE = "vetted_language"
FIELD_BLOCKS = {"question": BLOCK_QUESTION, "answer": BLOCK_ANSWER, "link": BLOCK_LINK}


@dataclass(frozen=True)
class Source:
    """Where the answer comes from, carried in the modal's private_metadata (audit only)."""

    question_id: int
    channel_id: str
    thread_ts: str
    message_ts: str

    def dump(self) -> str:
        return json.dumps(
            {"q": self.question_id, "c": self.channel_id, "t": self.thread_ts, "m": self.message_ts}
        )

    @classmethod
    def load(cls, text: str) -> Source | None:
        try:
            data = json.loads(text or "")
            return cls(int(data["q"]), str(data["c"]), str(data["t"]), str(data["m"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Submission:
    user_id: str
    source: Source
    question: str
    answer: str
    link: str | None
    language: str


_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]+))?>")


def editable(slack_text: str) -> str:
    """A message's text as a person would retype it: Slack's links as "label (url)", its three
    escaped characters back. Mentions stay as they are, for the check to refuse them."""
    text = _LINK.sub(
        lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), slack_text
    )
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(key: str, language: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": plain(messages.text(key, language), 150), "emoji": True}


def _input(
    block_id: str, label: str, element: dict[str, Any], language: str, *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _text(label, language),
        "element": {"action_id": block_id, **element},
        "optional": optional,
    }


def _option(code: str, language: str) -> dict[str, Any]:
    return {"text": _text(f"vetted.language.{code}", language), "value": code}


def save_modal(
    *, question: str, answer: str, answer_language: str, source: Source, staff_language: str
) -> dict[str, Any]:
    """The modal, with the seller's question and the staff reply prefilled for editing."""
    lang = staff_language
    return {
        "type": "modal",
        "callback_id": VIEW_ID,
        "private_metadata": source.dump(),
        "title": _text("vetted.modal.title", lang),
        "submit": _text("vetted.modal.submit", lang),
        "close": _text("vetted.modal.close", lang),
        "blocks": [
            {
                "type": "section",
                "block_id": "vetted_warning",
                "text": {"type": "mrkdwn", "text": messages.text("vetted.modal.warning", lang)},
            },
            _input(
                BLOCK_QUESTION,
                "vetted.modal.question",
                {
                    "type": "plain_text_input",
                    "multiline": True,
                    "max_length": MAX_QUESTION_CHARS,
                    "initial_value": question[:MAX_QUESTION_CHARS],
                },
                lang,
            ),
            _input(
                BLOCK_ANSWER,
                "vetted.modal.answer",
                {
                    "type": "plain_text_input",
                    "multiline": True,
                    "max_length": MAX_ANSWER_CHARS,
                    "initial_value": editable(answer)[:MAX_ANSWER_CHARS],
                },
                lang,
            ),
            _input(
                BLOCK_LANGUAGE,
                "vetted.modal.language",
                {
                    "type": "static_select",
                    "options": [_option("fr", lang), _option("en", lang)],
                    "initial_option": _option("en" if answer_language == "en" else "fr", lang),
                },
                lang,
            ),
            _input(
                BLOCK_LINK,
                "vetted.modal.link",
                {"type": "plain_text_input", "max_length": MAX_URL_CHARS},
                lang,
                optional=True,
            ),
        ],
    }


def parse_submission(body: dict[str, Any]) -> Submission | None:
    """The modal's values as submitted; None when the payload is not ours or is broken."""
    view = body.get("view") or {}
    source = Source.load(str(view.get("private_metadata") or ""))
    user = (body.get("user") or {}).get("id")
    values = (view.get("state") or {}).get("values") or {}
    if source is None or not user or not isinstance(values, dict):
        return None

    def value(block_id: str) -> str:
        state = (values.get(block_id) or {}).get(block_id) or {}
        if state.get("type") == "static_select":
            return str((state.get("selected_option") or {}).get("value") or "")
        return str(state.get("value") or "")

    return Submission(
        user_id=str(user),
        source=source,
        question=value(BLOCK_QUESTION),
        answer=value(BLOCK_ANSWER),
        link=value(BLOCK_LINK).strip() or None,
        language=value(BLOCK_LANGUAGE) or "fr",
    )


def errors(problems: Sequence[Problem], staff_language: str) -> dict[str, str]:
    """Slack's `response_action: errors`: one line beside each field, naming everything found
    in it at once, so one correction is enough."""
    lang = staff_language
    found: dict[str, list[str]] = {}
    other: dict[str, str] = {}
    for p in problems:
        block = FIELD_BLOCKS[p.field]
        if p.kind in ("empty", "too_long", "url"):
            other.setdefault(block, messages.text(f"vetted.error.{p.kind}", lang, found=p.found))
        else:
            what = messages.text(f"vetted.what.{p.kind}", lang)
            quoted = f"« {p.found[:60]} »" if lang == "fr" else f"“{p.found[:60]}”"
            found.setdefault(block, []).append(f"{what} {quoted}")
    out = dict(other)
    for block, items in found.items():
        line = messages.text("vetted.error.private", lang, items=", ".join(items))
        out[block] = f"{out[block]} {line}" if block in out else line
    return {block: text[:500] for block, text in out.items()}
