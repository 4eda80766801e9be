"""A small French <-> English glossary of marketplace words, as stems.

Sellers ask in either language while most guidelines exist in only one. Dense
retrieval crosses languages on its own; this glossary lets the lexical signals
(which sentence to quote, which words the guidelines never use) cross too. It
lists generic seller-help-desk vocabulary, not words from any test question.
"""

from __future__ import annotations

from functools import lru_cache

from knowledge.textnorm import terms

# (French words, English words): each side may hold several spellings or synonyms.
_PAIRS: tuple[tuple[str, str], ...] = (
    ("commande commandes", "order orders"),
    ("commission commissions", "commission commissions fee fees"),
    ("frais", "fee fees cost costs charge charges"),
    ("taux", "rate rates percentage"),
    ("versement versements virement virements", "payout payouts transfer payment"),
    ("remboursement rembourser rembourse", "refund refunds refunded"),
    ("retour retours", "return returns"),
    ("livraison livrer", "delivery deliver delivered"),
    ("expedition expedier expedie", "shipping ship shipment shipped dispatch"),
    ("transporteur transporteurs", "carrier carriers"),
    ("suivi", "tracking"),
    ("annulation annuler annulee", "cancellation cancel cancelled canceled"),
    ("accepter acceptation acceptee", "accept acceptance accepted"),
    ("refuser refus", "refuse refusal reject"),
    ("delai delais", "deadline delay time"),
    ("heure heures", "hour hours"),
    ("jour jours", "day days"),
    ("semaine semaines", "week weeks"),
    ("mois", "month months"),
    ("client clients", "customer customers buyer buyers"),
    ("vendeur vendeurs", "seller sellers merchant"),
    ("boutique", "shop store"),
    ("produit produits article articles", "product products item items"),
    ("fiche fiches annonce", "listing listings"),
    ("prix", "price prices"),
    ("photo photos image images", "photo photos picture pictures image images"),
    ("taille dimension", "size dimension"),
    ("pixels", "pixels"),
    ("fond blanc", "white background"),
    ("vacances absence conges", "vacation holiday absence"),
    ("suspension suspendu", "suspension suspended"),
    ("compte", "account"),
    ("facture factures", "invoice invoices"),
    ("reclamation reclamations", "claim claims complaint"),
    ("litige litiges", "dispute disputes"),
    ("mediation", "mediation"),
    ("preuve preuves justificatif", "evidence proof"),
    ("avis", "review reviews"),
    ("note notes", "rating ratings"),
    ("donnees personnelles", "personal data"),
    ("interdit interdits", "prohibited forbidden banned"),
    ("soldes", "sales"),
    ("promotion promotions remise", "promotion promotions discount"),
    ("message messages messagerie", "message messages messaging"),
    ("repondre reponse", "reply answer respond response"),
    ("mode textile vetements", "fashion textile clothing apparel"),
    ("linge", "linen"),
    ("mobilier meuble meubles", "furniture"),
    ("bijoux", "jewellery jewelry"),
    ("chaussures", "shoes footwear"),
    ("jouets", "toys"),
    ("beaute", "beauty"),
    ("electronique", "electronics"),
    ("stock stocks", "stock inventory"),
    ("minimum", "minimum"),
    ("maximum", "maximum"),
    ("indicateur indicateurs", "metric metrics indicator"),
    ("seuil seuils", "threshold thresholds limit"),
    ("exclusion", "exclusion"),
    ("inscription ouverture", "registration signup opening"),
    ("document documents", "document documents"),
    ("pays", "country countries"),
    ("garantie", "warranty guarantee"),
    ("combien", "many much"),
)


@lru_cache(maxsize=1)
def _table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for fr, en in _PAIRS:
        fr_terms, en_terms = set(terms(fr)), set(terms(en))
        for t in fr_terms:
            table.setdefault(t, set()).update(en_terms)
        for t in en_terms:
            table.setdefault(t, set()).update(fr_terms)
    return {k: frozenset(v) for k, v in table.items()}


def translations(term: str) -> frozenset[str]:
    """Stems in the other language for one stem from `textnorm.terms` (empty if unknown)."""
    return _table().get(term, frozenset())


def expand(query_terms: set[str] | list[str]) -> set[str]:
    """The terms and their translations."""
    out = set(query_terms)
    for t in query_terms:
        out |= translations(t)
    return out
