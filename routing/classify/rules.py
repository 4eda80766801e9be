"""Floor rules: hand-written patterns that can only raise a level, never lower it.

The brief promises that classification "never under-rates what a floor rule marks
critical": whatever the model says, a message about a suspended account, frozen
payouts, fraud, a data leak, a legal threat, an outage or a key account leaving is
Level 3. Patterns run on folded text (no accents, lowercase), French and English
side by side. They aim at the seller's own situation ("mon compte a été suspendu"),
not at policy questions ("qu'est-ce qui peut entraîner la suspension d'un compte ?"),
which stay with the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from routing.classify.textnorm import fold


@dataclass(frozen=True)
class FloorRule:
    name: str
    level: int
    reason: str
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, folded: str) -> bool:
        return any(p.search(folded) for p in self.patterns)


@dataclass(frozen=True)
class RuleHit:
    name: str
    level: int
    reason: str


def _rx(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


_OWN = r"\b(mon|ma|notre|nos|my|our)\b"
_ACCOUNT = r"(compte|account|boutique|shop|store|espace vendeur)s?\b"
_SUSPENDED = (
    r"(suspendu|desactive|ferme|bloque|verrouille|banni|clotur|suspended|deactivated|"
    r"disabled|closed|banned|locked|terminated|shut down)"
)
_ALL_LISTINGS = (
    r"(produits|offres|annonces|articles|fiches|references|listings|products|offers|items|skus)"
)
_GONE = (
    r"(disparu|supprime|retire|desactive|hors ligne|invisible|plus visible|plus en ligne|masque|"
    r"refuse|removed|gone|disappeared|deleted|delisted|hidden|offline|deactivated|suspended)"
)
_PERIOD = r"(ce mois|this month|depuis|since|for (two|three|\d+)|semaines|weeks|mois|months)"

RULES: tuple[FloorRule, ...] = (
    FloorRule(
        "account_suspension",
        3,
        "Level 3: account suspension",
        _rx(
            _OWN + r" (seller |vendeur |merchant )?" + _ACCOUNT + r"[^.!?]{0,40}" + _SUSPENDED,
            r"(^|[\"'(:]\s?)(compte|account)( vendeur| seller)? (suspendu|suspended|desactive|"
            r"deactivated|verrouille|locked)",
            r"\b(sera|va etre|vont etre|risque d'etre|will be|going to be|about to be)\s+"
            r"(suspendu|desactive|ferme|suspended|deactivated|closed|terminated)",
            r"(menace|risque|avertissement|warning|threat\w*)[^.!?]{0,30}"
            r"(suspension|desactivation|deactivation|fermeture)",
            r"\b(avant|before) (la )?(suspension|desactivation|deactivation|closure)",
            r"desactivation de (votre|mon|notre) compte",
        ),
    ),
    FloorRule(
        "all_listings_removed",
        3,
        "Level 3: all listings removed",
        _rx(
            r"\b(tous|toutes) (mes|nos|les) " + _ALL_LISTINGS + r"[^.!?]{0,40}" + _GONE,
            r"\ball (of )?(my|our) " + _ALL_LISTINGS + r"[^.!?]{0,40}" + _GONE,
            r"(none of|plus aucun(e)? de) (my|our|mes|nos) " + _ALL_LISTINGS,
            r"((catalogue|catalog) (entier|complet)|(whole|entire|full) (catalogue|catalog))"
            r"[^.!?]{0,60}" + _GONE,
        ),
    ),
    FloorRule(
        "payouts_frozen",
        3,
        "Level 3: payouts frozen",
        _rx(
            r"\b(virements|paiements|versements|payouts|payments|fonds|funds)\b[^.!?]{0,25}"
            r"(bloques|geles|suspendus|retenus|frozen|on hold|blocked|withheld|suspended)",
            r"(pas ete paye|haven'?t been paid|have not been paid|not been paid|no payouts?\b|"
            r"aucun (virement|paiement|versement)|pas (recu )?un seul (paiement|virement|versement)|"
            r"not (received )?a single (payout|payment))[^.!?]{0,40}" + _PERIOD,
        ),
    ),
    FloorRule(
        "fraud",
        3,
        "Level 3: suspected fraud or account takeover",
        _rx(
            r"\b(fraude|fraudes|frauduleu\w*|fraud\w*|piratage|pirate\w*|hack\w*|phishing|"
            r"hameconnage|usurpation|impersonat\w*|account takeover|stolen cards?|cartes? volees?|"
            r"activite suspecte|suspicious activity)\b",
            r"\b(quelqu'un|un inconnu|someone|somebody|a stranger)\b[^.!?]{0,40}"
            r"(connecte|acces|logged|access|modifie|change)",
            r"(iban|rib|coordonnees bancaires|bank details)[^.!?]{0,30}(modifi|chang)\w*"
            r"[^.!?]{0,30}(pas nous|not us|pas moi|not me|sans (notre|mon)|without (our|my))",
        ),
    ),
    FloorRule(
        "data_leak",
        3,
        "Level 3: data leak or exposed credentials",
        _rx(
            r"(fuite de donnees|fuite des donnees|data leak|data breach|violation de donnees)",
            r"(commandes|adresses|donnees|clients|emails|orders|addresses|data|customers?)"
            r"[^.!?]{0,30}(d'un autre vendeur|d'autres vendeurs|another seller|other sellers|"
            r"autres boutiques|other shops)",
            r"\b(vois|voit|see|seeing)\b[^.!?]{0,30}(d'un autre vendeur|another seller)",
            r"(facture|invoice|adresse|address)[^.!?]{0,15}(d'un autre client|another customer)",
            r"\b(en clair|in plain text|in clear text)\b",
            r"(cle api|api key|identifiants|credentials|mot de passe|password)[^.!?]{0,40}"
            r"(github|publie|public|leaked|expose)",
        ),
    ),
    FloorRule(
        "legal_threat",
        3,
        "Level 3: legal or regulatory threat",
        _rx(
            r"\b(avocats?|lawyers?|attorneys?|mise en demeure|formal notice|poursuites|"
            r"poursuivre|tribunal|tribunaux|in court|to court|sue|suing|proces|porter plainte|"
            r"plainte contre|dgccrf|cnil|trading standards|data protection authority|regulator|"
            r"service juridique|legal (action|department|team|proceedings)|action en justice|"
            r"procedure judiciaire|entamer une procedure|rappel produit|product recall|huissier|"
            r"bailiff)\b",
        ),
    ),
    FloorRule(
        "outage",
        3,
        "Level 3: platform outage for this seller",
        _rx(
            r"\b(back.?office|portail|portal|espace vendeur|seller (center|centre|central)|api|"
            r"plateforme|platform|dashboard|interface)\b[^.!?]{0,30}\b(down|en panne|inaccessible|"
            r"hors service|unreachable|unavailable|ne (marche|fonctionne|repond) plus)\b",
            r"\b(sur|on) (tout|toute|the whole|the entire|all of) (l'|le |la |the )?"
            r"(espace vendeur|back.?office|portail|seller portal|site|plateforme|platform)",
            r"(plus aucune commande|no (new )?orders? (are )?coming|"
            r"(haven'?t|have not|not) received a (single )?order|zero orders since)",
            r"(toute l'equipe|everyone on our team|whole team|entire team)[^.!?]{0,40}"
            r"(connecter|locked|bloque|verrouille|log in)",
        ),
    ),
    FloorRule(
        "leaving",
        3,
        "Level 3: seller threatening to leave",
        _rx(
            r"\b(quitte|quitter|quittons|quitterons) (la plateforme|votre plateforme|le site|"
            r"vos services|votre site)",
            r"\b(leave|leaving|quit|quitting) (the|your) (platform|marketplace|site)",
            r"\bpartir chez\b",
            r"\b(move|moving|switch|switching)\b[^.!?]{0,25}\b(to amazon|to another marketplace|"
            r"elsewhere|to a competitor)",
            r"\bresilier (notre|mon|le) contrat|\b(terminate|cancel|end) (our|my|the) contract",
            r"\b(arrete|arreter|arretons|arreterons|stop|stopping)\b (de vendre|selling)\b"
            r"[^.!?]{0,30}(chez vous|ici|here|on (the|your) (platform|site|marketplace)|with you|"
            r"sur (la|votre) plateforme)",
            r"\bfermer (notre|ma|nos) boutique|\b(close|closing) (our|my) (shop|store) (here|with you)",
        ),
    ),
    FloorRule(
        "sales_blocked",
        3,
        "Level 3: sales blocked",
        _rx(
            r"toutes (les|nos|mes) ventes (sont )?(bloquees|a l'arret|arretees)",
            r"\ball (our )?sales (have )?(stopped|blocked|are blocked)",
            r"\b(on|nous) (ne )?(peut|pouvons|vend|vendons) plus rien",
            r"\b(can'?t|cannot) sell anything",
            r"toutes (nos|mes) commandes sont annulees",
            r"\ball (our|my) orders are (being )?(auto-?)?cancell?ed",
            r"stocks sont tous passes a (zero|0)",
        ),
    ),
    FloorRule(
        "error_reported",
        2,
        "Level 2: an error code reported",
        _rx(r"\b(erreur|error)\s?(http )?[45]\d\d\b"),
    ),
)

# A euro amount at or above this, withheld or missing, is "a large amount withheld" (Level 3).
LARGE_AMOUNT_EUR = 1000

_AMOUNT = re.compile(
    r"(?:€|\beur\b)\s?(\d[\d ,.]*\d|\d)(k\b)?|(\d[\d ,.]*\d|\d)\s?(k€|k\b|€|eur\b|euros?\b)"
)
_WITHHELD = re.compile(
    r"(retenu|retenez|retient|bloque|reserve|manque|manquant|pas arrive|pas recu|withh(e|o)ld|"
    r"\bheld\b|blocked|missing|didn'?t arrive|not arrived|not received|frozen|geles?)"
)


def _amount_value(digits: str, suffix: str) -> float:
    digits = digits.replace(" ", "")
    # "12,000" and "12.000" are thousands; "6,90" and "6.90" are cents.
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", digits):
        digits = re.sub(r"[.,]", "", digits)
    else:
        digits = digits.replace(",", ".")
        if digits.count(".") > 1:
            return 0.0
    try:
        value = float(digits)
    except ValueError:
        return 0.0
    return value * 1000 if suffix.startswith("k") else value


def largest_amount(folded: str) -> float:
    """The largest euro amount mentioned, 0 when none ("12 000 €", "€12,000", "30k")."""
    best = 0.0
    for m in _AMOUNT.finditer(folded):
        if m.group(1):
            value = _amount_value(m.group(1), m.group(2) or "")
        else:
            value = _amount_value(m.group(3), m.group(4))
        best = max(best, value)
    return best


def floor_hits(text: str) -> list[RuleHit]:
    """Every floor rule the message triggers, highest level first."""
    folded = fold(text)
    hits = [RuleHit(r.name, r.level, r.reason) for r in RULES if r.matches(folded)]
    if largest_amount(folded) >= LARGE_AMOUNT_EUR and _WITHHELD.search(folded):
        hits.append(RuleHit("large_amount", 3, "Level 3: large amount withheld"))
    return sorted(hits, key=lambda h: -h.level)
