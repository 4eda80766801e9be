"""The labelled seller messages, and how they are split.

Labelling rules (applied to every message in data/messages.jsonl; staff re-levels
should follow them too):

- Level 1, kind "question": a general how-to or policy question that the guidelines
  answer without looking into the seller's account ("quel délai pour accepter une
  commande ?"). Tone does not matter: an all-caps, insulting question is still Level 1.
  A question *about* a critical topic in general ("what can get an account
  suspended?", "if someone changes our IBAN, who refunds?") is Level 1: nothing has
  happened to this seller. A message with no request (thanks only, an emoji, a greeting,
  a file sent as asked) is Level 1, category "other".
- Level 2, kind "problem": something has gone wrong for this seller and staff must look
  into the back office, but it is contained: one order, one listing (even suspended or
  removed), one payout or invoice under 1 000 €, one customer dispute, one label or
  tracking bug, an API error on one feature, a performance alert they contest.
- Level 3, kind "problem": sales blocked or the seller at risk: the account (not one
  listing) suspended, deactivated, locked, or threatened with it; all or most listings
  gone; payouts frozen, meaning no payout at all for a pay period ("I haven't been paid
  this month", "no payout since the 1st"), or any amount of 1 000 € or more withheld
  or missing; suspected fraud or account takeover; a data leak or exposed credentials;
  a legal or regulatory threat (lawyer, formal notice, regulator, product recall); an
  outage of the seller portal, API or order flow for this seller; a seller announcing
  they will leave the platform. Calm wording does not lower it.
- When two levels fit, the higher one wins (the brief's rule of judgement).
- kind follows the level in this set: Level 1 is a question, Levels 2 and 3 are
  problems. The format keeps kind separate so that a staff example may say otherwise.
- category: see "Categories" below.

Categories (revised in issue 10 on the outside train part; see data/README.md):

- orders: an order's life after the sale and the seller's customers: accepting,
  cancelling, shipping (settings, carriers, labels, tracking, delivery times), delivery,
  returns and refunds to a customer, a customer's claim, dispute or chargeback, customer
  messages and reviews, and the metrics that measure how orders are handled (acceptance,
  cancellation, late shipment, valid tracking, claims, response time).
- payouts: money between the marketplace and the seller: payouts, balance, reserves and
  holds, fees, commissions, subscriptions, the platform's invoices and penalties, the bank
  details and payment account payouts go to.
- account: the seller account itself: its standing (suspension, deactivation, at-risk
  warnings, appeals, plan of action, overall score, segment, penalties), access and
  security (login, 2FA, users, takeover), verification (KYC, identity and company
  documents), registration, settings, holiday mode; and the seller's relationship with
  the marketplace (a seller closing its shop, ending its contract, leaving or reviewing
  its channels).
- catalogue: listings and offers: creating, content, images, prices, stock, variations,
  product categories, brand approval and restricted products, one listing removed or
  blocked, promotions and sales campaigns on offers.
- technical: the tools: API and keys, connectors and integrations, feeds, webhooks,
  exports, notification emails, back-office bugs and outages, data leaks.
- compliance: law and authorities: an authority (customs, tax, consumer protection, data
  protection, trading standards), a lawyer, formal notice or court, a rights owner's
  legal claim, product safety and recalls, legal obligations (VAT, EPR, invoicing
  duties, product conformity).
- other: none of the above: thanks, greetings, emoji, a file with no request, support
  hours and contacts, guides, general chat.

Tie-breaks, in this order:

1. An authority, a lawyer, a court, a formal notice or a product recall is involved:
   compliance, whatever else the message is about.
2. Several issues in one message: the category of the one that sets the level (the most
   severe); at equal level, the first one mentioned.
3. Something done in the account that nobody on the seller's side did (takeover, bank
   details, users, API keys, listings nobody created): account.
4. Selling blocked or threatened for the whole account (suspended, deactivated, selling
   privileges removed, at risk), even when money is held because of it: account. Money
   held, reserved or paused while the seller can still sell: payouts, whatever the reason
   (a verification, a review).
5. A seller leaving, ending its contract or reviewing its channels: account, whatever the
   reason (fees, payout timing).
6. A customer's claim, dispute, chargeback or refund on an order: orders, even when money
   is held for it. The platform's fees, invoices and penalties: payouts.
7. A tool that fails (API or connector error, upload that fails, bug, outage): technical,
   even when it concerns one order or one listing. Content that a working tool refuses
   (an import report's rejected rows, a listing refused for its content): catalogue.
8. A policy question goes to its topic ("what gets an account suspended?" is account).
   No request at all (thanks, an emoji, a file): other.

Many English messages are close translations of French ones. The multilingual
embedding puts a message and its translation side by side, so the split keeps such
near-duplicates together (see `grouped_split`); otherwise the test set would leak.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"
MESSAGES_PATH = DATA_DIR / "messages.jsonl"
# Seller messages modelled on real forum posts (knowledge/outside/README.md), split by
# marketplace: the "train" part is learnt from, the "test" part is only ever measured.
OUTSIDE_PATH = DATA_DIR / "outside.jsonl"

KINDS = ("question", "problem")
LEVELS = (1, 2, 3)
CATEGORIES = (
    "orders",
    "payouts",
    "catalogue",
    "account",
    "technical",
    "compliance",
    "other",
)
# Names that earlier versions used, and the category they became in issue 10's revision.
# Tickets and staff re-levels stored under them are renamed by migration 0009; a staff
# example file still written with them is read under the new name.
CATEGORY_ALIASES = {"shipping": "orders", "returns": "orders"}


def canonical_category(category: str) -> str:
    """The current name of a category, old names included ("shipping" is "orders")."""
    return CATEGORY_ALIASES.get(category, category)


class DatasetError(ValueError):
    """A labelled example is malformed."""


@dataclass(frozen=True)
class Example:
    text: str
    kind: str
    level: int
    category: str
    id: str = ""
    language: str = ""
    split: str = "train"
    # where an outside message was modelled from (its marketplace); "" for the team's own
    source: str = ""

    def __post_init__(self) -> None:
        check_label(self.text, self.kind, self.level, self.category)
        if self.split not in ("train", "test"):
            raise DatasetError(f"{self.id or self.text!r}: split must be train or test")


def check_label(text: str, kind: str, level: int, category: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise DatasetError("an example needs a non-empty text")
    if kind not in KINDS:
        raise DatasetError(f"{text!r}: kind {kind!r} is not one of {KINDS}")
    if level not in LEVELS or isinstance(level, bool):
        raise DatasetError(f"{text!r}: level {level!r} is not one of {LEVELS}")
    if category not in CATEGORIES:
        raise DatasetError(f"{text!r}: category {category!r} is not one of {CATEGORIES}")


def as_example(item: Example | tuple[str, str, int, str]) -> Example:
    """Staff examples arrive as (text, kind, level, category); they always train."""
    if isinstance(item, Example):
        return item
    text, kind, level, category = item
    return Example(text=text, kind=kind, level=int(level), category=canonical_category(category))


def load_examples(path: Path = MESSAGES_PATH) -> list[Example]:
    examples: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                examples.append(
                    Example(
                        id=str(row.get("id", f"line{n}")),
                        text=row["text"],
                        language=row.get("language", ""),
                        kind=row["kind"],
                        level=row["level"],
                        category=canonical_category(row["category"]),
                        split=row.get("split", "train"),
                        source=row.get("marketplace", ""),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DatasetError(f"{path}:{n}: {exc.__class__.__name__}: {exc}") from exc
    return examples


def training_examples() -> list[Example]:
    """What the shipped model learns from: the team's labelled set (its test split is held
    out by `train`) and the train part of the outside messages. The outside test part is
    never returned here, so no training or tuning path can see it."""
    outside = [e for e in load_examples(OUTSIDE_PATH) if e.split == "train"]
    return load_examples() + outside


def save_examples(examples: Iterable[Example], path: Path = MESSAGES_PATH) -> None:
    keys = ("id", "text", "language", "kind", "level", "category", "split")
    with path.open("w", encoding="utf-8") as fh:
        for ex in examples:
            row = asdict(ex)
            fh.write(json.dumps({k: row[k] for k in keys}, ensure_ascii=False) + "\n")


def near_duplicate_groups(embeddings: np.ndarray, *, same_group_cosine: float = 0.88) -> list[int]:
    """A group number per message: a message and its translation or retyping share one.

    Two messages pair up when each is the other's nearest neighbour and their cosine
    reaches `same_group_cosine`. Mutual nearest neighbours only: E5 scores most
    pairs above 0.8, and a plain threshold would chain everything into one group.
    """
    n = len(embeddings)
    sims = embeddings @ embeddings.T
    np.fill_diagonal(sims, -1.0)
    nearest = sims.argmax(axis=1)
    group = list(range(n))
    for i in range(n):
        j = int(nearest[i])
        if j > i and nearest[j] == i and sims[i, j] >= same_group_cosine:
            group[j] = group[i]
    return group


def grouped_split(
    levels: Sequence[int],
    embeddings: np.ndarray,
    *,
    test_fraction: float = 0.25,
    seed: int = 7,
) -> list[str]:
    """ "train"/"test" for each message, stratified by level, near-duplicates kept together.

    Whole groups (see `near_duplicate_groups`) go to one side, so the test set
    measures new phrasings rather than recall of a twin seen in training.
    """
    n = len(levels)
    group_of = near_duplicate_groups(embeddings)
    rng = np.random.default_rng(seed)
    split = ["train"] * n
    for level in sorted(set(levels)):
        members = [i for i in range(n) if levels[i] == level]
        groups: dict[int, list[int]] = {}
        for i in members:
            groups.setdefault(group_of[i], []).append(i)
        order = list(groups.values())
        rng.shuffle(order)  # type: ignore[arg-type]
        target = round(test_fraction * len(members))
        taken = 0
        for group in order:
            if taken >= target:
                break
            if taken + len(group) > target + 1:
                continue
            for i in group:
                split[i] = "test"
            taken += len(group)
    return split
