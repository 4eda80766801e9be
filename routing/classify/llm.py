"""An optional classifier that asks a chat model (langchain structured output).

    from knowledge.providers import make_chat_model
    llm = LLMClassifier(make_chat_model("openai:gpt-4o-mini", base_url=...),
                        fallback=Classifier.load())
    llm.classify("mon compte est suspendu")   # a Classification, like Classifier's

The model's verdict then goes through the SAME floor rules as the offline classifier: they
only raise the level, never lower it, so a model that under-rates "my account is suspended"
is still corrected to Level 3. Any failure of the model (HTTP error, timeout, a reply that is
not the schema, a level or category outside the allowed sets) gives the offline `fallback`
classification and a logged warning: the caller never sees the provider's exception.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

from routing.classify.data import CATEGORIES
from routing.classify.model import RULE_CONFIDENCE, Classification, _check_text
from routing.classify.rules import floor_hits, rule_category

logger = logging.getLogger(__name__)

# The chat model gives no calibrated probability; 0.8 says "a model's word, not a floor rule's"
# (RULE_CONFIDENCE is 0.95). Callers reading confidence should not treat it as a probability.
LLM_CONFIDENCE = 0.8

Category = Literal["orders", "payouts", "catalogue", "account", "technical", "compliance", "other"]
assert set(Category.__args__) == set(CATEGORIES)  # type: ignore[attr-defined]

SYSTEM_PROMPT = """\
You triage messages that marketplace sellers send to a help desk, in French or English.
Classify the message:
- kind: "question" (asks how something works) or "problem" (something is wrong for this seller).
- level:
  1 = a general how-to or policy question the seller guidelines answer;
  2 = a problem specific to this seller that needs a staff member (an order, a payout, a listing);
  3 = critical: account suspended, all listings removed, payouts frozen or a large amount
      withheld, fraud or account takeover, data leak, legal threat, platform outage for the
      seller, a key account threatening to leave.
  When in doubt between two levels, take the higher one. The tone (angry, polite, urgent words)
  does not set the level: the situation does.
- category: what the message is about, one of {categories}:
  orders = an order after the sale, shipping, delivery, returns, refunds, a customer's claim;
  payouts = payouts, reserves and holds, fees, commissions, the platform's invoices;
  account = the account's standing (suspension, at-risk warnings), access and security,
  verification, settings, a seller leaving; catalogue = listings, offers, prices, stock;
  technical = API, connectors, feeds, bugs, outages, data leaks;
  compliance = authorities, lawyers, courts, formal notices, recalls, legal obligations;
  other = thanks, greetings, a file with no request.
  Several issues: the category of the most serious one. An authority or a lawyer is always
  compliance; something done in the account by nobody on the seller's side is account.
- reasons: one or two short sentences saying why, in English.
""".format(categories=", ".join(CATEGORIES))


class LLMVerdict(BaseModel):
    """How a seller's help-desk message is triaged."""

    kind: Literal["question", "problem"]
    level: Literal[1, 2, 3]
    category: Category
    reasons: list[str] = Field(description="Why, in one or two short sentences")


class OfflineClassifier(Protocol):
    def classify_many(self, texts: Sequence[str]) -> list[Classification]: ...


class LLMClassifier:
    def __init__(self, chat_model: BaseChatModel, *, fallback: OfflineClassifier) -> None:
        self.chat_model = chat_model
        self.fallback = fallback
        # json_schema: response_format, which OpenAI and the compatible servers (vLLM, Ollama,
        # llama.cpp) honour; the reply is parsed and validated against LLMVerdict by the client.
        self._structured = chat_model.with_structured_output(LLMVerdict, method="json_schema")

    def classify(self, text: str) -> Classification:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """One model call per message (run concurrently); failed ones fall back together.

        An empty message raises EmptyMessageError, as the offline classifier does: that is
        the caller's mistake, not the model's."""
        checked = [_check_text(t) for t in texts]
        if not checked:
            return []
        inputs = [[("system", SYSTEM_PROMPT), ("human", t)] for t in checked]
        answers = self._structured.batch(inputs, return_exceptions=True)  # type: ignore[arg-type]
        out: list[Classification | None] = []
        for text, answer in zip(checked, answers, strict=True):
            verdict = _as_verdict(answer)
            if verdict is None:
                logger.warning(
                    "LLM classifier failed (%s); using the offline classifier", _describe(answer)
                )
                out.append(None)
            else:
                out.append(apply_floor_rules(text, verdict))
        missing = [i for i, c in enumerate(out) if c is None]
        if missing:
            offline = self.fallback.classify_many([checked[i] for i in missing])
            for i, c in zip(missing, offline, strict=True):
                out[i] = c
        return [c for c in out if c is not None]


def _as_verdict(answer: Any) -> LLMVerdict | None:
    # The client already validated the schema; re-check in case a model or a langchain
    # version hands back something else (a dict, None on a refusal).
    if isinstance(answer, BaseException) or answer is None:
        return None
    try:
        verdict = LLMVerdict.model_validate(
            answer.model_dump() if isinstance(answer, BaseModel) else answer
        )
    except ValueError:
        return None
    return verdict


def _describe(answer: Any) -> str:
    if isinstance(answer, BaseException):
        return f"{type(answer).__name__}: {str(answer)[:200]}"
    return f"unusable structured output {answer!r:.200}"


def apply_floor_rules(text: str, verdict: LLMVerdict) -> Classification:
    """The offline classifier's floor rules on the model's verdict: they only raise it."""
    hits = floor_hits(text)
    rule_level = max((h.level for h in hits), default=0)
    category = rule_category(text) or verdict.category
    reasons = [r.strip() for r in verdict.reasons if r.strip()]
    if not reasons:
        reasons = [f"Level {verdict.level}: the language model's verdict"]
    if rule_level <= verdict.level:
        return Classification(
            kind=verdict.kind,
            level=verdict.level,
            category=category,
            confidence=LLM_CONFIDENCE,
            reasons=reasons,
        )
    rule_reasons = list(dict.fromkeys(h.reason for h in hits if h.level == rule_level))
    return Classification(
        kind="problem",  # every floor rule marks a problem (Level 2 or 3), never a question
        level=rule_level,
        category=category,
        confidence=max(LLM_CONFIDENCE, RULE_CONFIDENCE),
        reasons=rule_reasons + reasons,
    )
