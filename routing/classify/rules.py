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
# what is in a seller account, and a seller saying nobody on their side did it
_ACCOUNT_THING = (
    r"\b(iban|rib|banque|bank\w*|coordonnees bancaires|cles? api|api keys?|mot de passe|"
    r"password|e-?mail|utilisateurs?|users?|admin\w*|staff|collaborateurs?|offres|offers|"
    r"listings|annonces|parametres|settings)\b"
)
_NOT_US = (
    r"\b((nobody|no one)( here| of us| on our (side|team)| in (our|the) team)? (did|has|had|"
    r"changed|touched|created|generated|asked|requested)|none of us (did|has|had|changed|"
    r"touched|created|generated|asked|requested)|neither of (us|our( \w+){1,2}) (did|has|had|"
    r"changed|created)|personne( ici| chez nous| de l'equipe| d'entre nous)? n'(a|y a) (rien |"
    r"jamais )?(touche|change|modifie|cree|demande)|we (didn'?t|did not|never) (change|do|touch|"
    r"create|generate|request|ask)\w*|(not|wasn'?t) (by )?us|pas (par )?nous|isn'?t ours|"
    r"not ours|pas (la|le) notre|(on|nous) n'(a|avons) (rien|pas|jamais) (touche|change|"
    r"modifie|cree|demande)\w*|jamais cree\w*|never created|n'y a touche|never seen|jamais vu\w*)\b"
)

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
            # selling privileges removed or at risk, "may not sell" (issue 10: selling blocked
            # or about to be)
            r"(perdu|perdre|perte|lost|lose|losing|removed|retire\w*|supprime\w*|revoked|"
            r"revoque\w*)[^.!?]{0,20}(privileges de vente|selling privileges)|"
            r"(privileges de vente|selling privileges)[^.!?]{0,20}(removed|revoked|suspended|"
            r"retire\w*|supprime\w*|suspendu\w*)",
            r"\b(may not|can no longer|cannot|can'?t|are not allowed to) sell (on|here|anything)|"
            r"\bne (pouvons|pouvez|peut|peux) plus vendre\b",
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
            # something in the account that nobody on the seller's side did (issue 10)
            rf"{_ACCOUNT_THING}.{{0,150}}{_NOT_US}|{_NOT_US}.{{0,150}}{_ACCOUNT_THING}",
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
            # leaving in other words (issue 10: a key account reviewing its channels)
            r"\b(passer|aller|partir|vendre) (par|sur|chez|vers) d'autres (marketplaces|"
            r"plateformes|sites|canaux)",
            r"\b(reduire|reduce|reducing|cut)\b[^.!?]{0,30}\b(au minimum|to a minimum|to the minimum)",
            r"\b(revoit|revoyons|reviewing|review|rethinking)\b[^.!?]{0,30}\b(nos canaux|canaux de "
            r"vente|our (sales )?channels|channel mix)",
            r"\bwind(ing)? down\b",
            r"\b(move|moving|migre|migrons|migrer) (our|my|the|notre|toute la|tout|everything)\b"
            r"[^.!?]{0,25}\b(business|shop|store|boutique|sales|ventes|activite)\b[^.!?]{0,15}"
            r"\b(off (of )?\w+|ailleurs|elsewhere)\b",
            r"\b(arreter|on arrete|nous arretons|arretons) (la marketplace|\w+ d'ici)\b",
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


@dataclass(frozen=True)
class CategoryRule:
    """What a message is about when it tells of one of the brief's critical situations: the
    tie-breaks at the top of routing/classify/data.py, as patterns."""

    name: str
    category: str
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, folded: str) -> bool:
        return any(p.search(folded) for p in self.patterns)


def _floor(name: str) -> tuple[re.Pattern[str], ...]:
    return next(r.patterns for r in RULES if r.name == name)


# In the order of the tie-breaks: the first rule that matches gives the category. A customer's
# fraud (stolen cards, a fake payment) is no account takeover and stays with the model.
CATEGORY_RULES: tuple[CategoryRule, ...] = (
    # 1. an authority, a lawyer, a court, a formal notice or a recall: compliance
    CategoryRule(
        "authority_or_legal",
        "compliance",
        _floor("legal_threat") + _rx(r"\b(douanes?|customs|recall|rappel de produits?)\b"),
    ),
    # 3. something done in the account that nobody on the seller's side did
    CategoryRule(
        "account_takeover",
        "account",
        _rx(
            r"\b(piratage|pirate\w*|hack\w*|phishing|hameconnage|usurpation|impersonat\w*|"
            r"account takeover)\b",
            r"(iban|rib|coordonnees bancaires|bank details|bank account|payout bank)[^.!?]{0,60}"
            r"(pas nous|not us|pas moi|not me|isn'?t ours|not ours|pas (le|la) notre|"
            r"sans (notre|mon)|without (our|my))",
        )
        + _floor("fraud")[1:],
    ),
    # 4. selling blocked or threatened for the whole account
    CategoryRule("account_suspension", "account", _floor("account_suspension")),
    # 5. a seller leaving
    CategoryRule("leaving", "account", _floor("leaving")),
    CategoryRule("data_leak", "technical", _floor("data_leak")),
    CategoryRule("outage", "technical", _floor("outage")),
    CategoryRule("all_listings_removed", "catalogue", _floor("all_listings_removed")),
    CategoryRule("payouts_frozen", "payouts", _floor("payouts_frozen")),
)


def rule_category(text: str) -> str | None:
    """The category a critical situation in the message sets, None when none does: the
    model's category then stands. A large amount withheld is about payouts."""
    folded = fold(text)
    for rule in CATEGORY_RULES:
        if rule.matches(folded):
            return rule.category
    if largest_amount(folded) >= LARGE_AMOUNT_EUR and _WITHHELD.search(folded):
        return "payouts"
    return None


# A general or hypothetical question: "si un pirate change le RIB, qui rembourse ?", "what
# happens if my account is suspended?", "le process de rappel produit, au cas où ?". It asks
# about a critical topic, nothing has happened to the seller (the brief's Level 1), and the
# Level 3 floor rules, written for the seller's own situation, leave it to the model.
_HYPOTHETICAL = re.compile(
    # "si" / "if" framing the question (at the start of a sentence or clause); inside a
    # sentence, "suspendue si le taux ne remonte pas" is a warning received, not a question
    r"((^|[.!?;:,]\s*)(si (un|une|on|quelqu'un|le|la|les|mon|ma|mes|notre|nos|je|j')|"
    r"s'(il|ils|on)|if (a|an|my|our|we|i|someone|somebody|the|you))\b|"
    r"\bau cas ou\b|\ben cas de\b|\bque se passe-t-il\b|\bqu'est-ce qui (peut|se passe)|"
    r"\b(peut|peuvent|pourrait)[^.!?]{0,30}\bentrainer\b|\b(just )?in case\b|"
    r"\bwhat (happens|can|could|would|usually|actually|kind of)\b|"
    r"\bhow do (stores|sellers|shops|accounts|people|you)\b|\bever\b|\bun jour\b)"
)
# ...unless it also tells of something that happened to this seller
_TELLS = re.compile(
    r"\b(a ete|ont ete|avons ete|on a recu|j'ai recu|"
    r"nous avons recu|avons eu|has been|have been|was|were|got|received|we have|i have|"
    r"depuis|since|hier|yesterday|ce matin|this morning|cette nuit|overnight|today|"
    r"aujourd'hui|menac\w*|threat\w*|contact\w*|nous a|nous ont|m'a|m'ont|sent us|"
    r"bandeau|banner|indique|says|saying|said|notice|notif\w*|avertissement|warning|e?-?mail|"
    r"(?<!if )(?<!si )(mon|ma|notre|nos|my|our) (compte|boutique|account|shop|store)s? "
    r"(est|sont|is|are))\b"
)


def is_hypothetical_question(text: str) -> bool:
    """A question about what could happen, not a report of what did."""
    folded = fold(text)
    return "?" in text and bool(_HYPOTHETICAL.search(folded)) and not _TELLS.search(folded)


# A message with no request at all: thanks, a greeting, emoji, or a file sent as asked. The
# labelling rules make it Level 1, category "other" (knowledge/outside/README.md).
_COURTESY_WORDS = (
    "merci beaucoup bcp mille fois pour l'aide votre le la retour rapide thanks thank you a "
    "lot so much thx ty top super parfait perfect great ok okay cool nickel bonjour bonsoir "
    "hello hi hey salut coucou bonne journee soiree have nice day all good now c'est bon "
    "pour moi done bien regle resolu sorted solved fixed"
)
_COURTESY = frozenset(_COURTESY_WORDS.split())
_ATTACHMENT = re.compile(r"\[[^\]]*\]|\S+\.(pdf|png|jpe?g|gif|docx?|xlsx?|csv|zip)\b|📎")
_SENDS_A_FILE = re.compile(
    r"^(voici|here'?s|here is|ci-joint|attached|please find|veuillez trouver|en pj|pj)\b"
)
_WORD = re.compile(r"[a-z0-9']+")


_THANKS = re.compile(r"^(merci|thanks?|thank you|thx|ty|top merci|super merci|parfait)\b")
# what turns a thank-you into a complaint ("merci mais toujours rien")
_NOT_SETTLED = re.compile(
    r"\b(pas|plus|toujours|encore|mais|but|not|no|never|still|nothing|rien|aucune?|jamais|"
    r"erreur|error|probleme|problem|issue|bloque\w*|blocked|suspend\w*|manqu\w*|missing)\b"
)


def is_no_request(text: str) -> bool:
    """Thanks, a greeting, emoji only, a thank-you for something settled ("merci, le virement
    est bien arrivé"), or "here is the invoice you asked for" with a file."""
    folded = fold(text)
    has_file = bool(_ATTACHMENT.search(folded))
    words = _WORD.findall(_ATTACHMENT.sub(" ", folded))
    if all(w in _COURTESY for w in words):
        return True
    if _THANKS.match(folded) and "?" not in text and len(words) <= 12:
        return not _NOT_SETTLED.search(folded)
    return (
        has_file
        and "?" not in text
        and len(words) <= 12
        and bool(_SENDS_A_FILE.match(folded.lstrip("📎 ")))
    )


def floor_hits(text: str) -> list[RuleHit]:
    """Every floor rule the message triggers, highest level first. The Level 3 rules leave a
    general or hypothetical question (`is_hypothetical_question`) to the model."""
    folded = fold(text)
    hits = [RuleHit(r.name, r.level, r.reason) for r in RULES if r.matches(folded)]
    if largest_amount(folded) >= LARGE_AMOUNT_EUR and _WITHHELD.search(folded):
        hits.append(RuleHit("large_amount", 3, "Level 3: large amount withheld"))
    if is_hypothetical_question(text):
        hits = [h for h in hits if h.level < 3]
    return sorted(hits, key=lambda h: -h.level)
