"""What a question asks for, and whether a sentence holds that kind of fact.

"How long do I have to ship?" is answered only by a sentence stating a duration; "what is
the fee?" by one holding a figure; "when are payouts sent?" by a day, a date, a frequency or
a delay; "where do I download the report?" by a place in the interface. A yes/no, a
procedure or anything else asks for no particular kind of fact.

The kind is read from how the question is built (its interrogative: how long, combien,
when, quand, where, où, which day, quel taux…), in French and English, in the registers
sellers write in ("cmb de temps", "ca prend combien", "c quand"). The quote chooser
(knowledge.quoting) prefers sentences holding the fact asked for, and the answer decision
(knowledge.answer) weighs how close the best such sentence is to the question.
"""

from __future__ import annotations

import re

from knowledge.textnorm import fold

NUMBER = "number"
DURATION = "duration"
WHEN = "when"
PLACE = "place"
PROCEDURE = "procedure"
KINDS = (NUMBER, DURATION, WHEN, PLACE, PROCEDURE, "yesno", "other")
# The kinds a sentence must hold a fact of: a figure, a delay, a moment, a place, a step.
FACT_KINDS = (NUMBER, DURATION, WHEN, PLACE, PROCEDURE)
# Of those, the ones a page on the right topic most often lacks: a precise figure or moment.
FIGURE_KINDS = (NUMBER, DURATION, WHEN)

_COMBIEN = r"(?:combien|cmb|cbn|cb)"
_DURATION_QUESTION = re.compile(
    rf"\b(?:{_COMBIEN} de (?:temps|jours?|heures?|semaines?|mois|j|h)|en {_COMBIEN}|"
    rf"sous {_COMBIEN}|(?:ca|ça) prend {_COMBIEN}|{_COMBIEN} (?:de )?temps|"
    r"(?:quel(?:le)?s?|le|la) (?:est |sont )?(?:le |la )?(?:delai|duree)s?|"
    r"how long|how many (?:(?:business|working|calendar) )?(?:days|hours|weeks|months|years)|"
    r"how soon|how quickly|how fast|within how|how far back|"
    r"deadline|time limit|time frame|timeframe|delai|duree)\b"
)
_WHEN_QUESTION = re.compile(
    # "when"/"quand" as a question, not as a conjunction: a conjunction is followed by its
    # clause's subject ("when I ship", "when the buyer collects", "quand on fait")
    r"\b(?:when|quand)\b(?!\s+(?:i|we|you|he|she|it|they|the|a|an|my|our|your|their|this|that|"
    r"there|on|je|j'|tu|il|elle|nous|vous|ils|elles|le|la|les|l'|un|une|mon|ma|mes|notre|nos|"
    r"votre|vos|c'est|ca|ce)\b)|"
    r"\b(?:c'?est|c) quand\b|\b(?:depuis|jusqu'a) quand\b|"
    r"\b(?:what (?:day|date|time)|which (?:day|date|days|dates)|"
    r"on (?:which|what) days?|quel(?:le)?s? (?:jour|jours|date|dates|heure)|"
    r"a quel(?:le)? (?:moment|date|heure|frequence|rythme)|"
    r"how often|at what (?:time|point|frequency)|quelle frequence|frequence)\b"
)
_NUMBER_QUESTION = re.compile(
    rf"\b(?:{_COMBIEN}|how (?:much|many|big|large|small|heavy|high|low)|"
    r"quel(?:le)?s? (?:est |sont )?(?:le |la |les )?"
    r"(?:taux|montant|nombre|prix|frais|taille|seuil|limite|cout|tarif|commission|pourcentage|"
    r"poids|plafond|minimum|maximum|remise|reduction|abonnement)|"
    r"what (?:is |are )?(?:the |my )?(?:\w+ )?"
    r"(?:rate|fee|fees|commission|percentage|price|cost|size|limit|threshold|minimum|maximum|"
    r"amount|number|discount|charge|charges|cap|weight|subscription))\b"
)
# A figure named without an interrogative ("amazon individual per-item fee??"): a number is
# asked unless the question is a yes/no one ("do eBay fees still apply?").
_FIGURE_WORD = re.compile(
    r"\b(?:taux|pourcentage|percent|percentage|rate|fee|fees|commission|frais|tarif|cout|prix|"
    r"discount|remise|mini(?:mum|male?)?|maxi(?:mum|male?)?|min|max|seuil|threshold|limit|"
    r"plafond)\b"
)
_PLACE_QUESTION = re.compile(
    r"\b(?:where|in which (?:menu|tab|page|section)|which (?:menu|tab|page|section)|"
    r"dans quel(?:le)? (?:menu|onglet|page|rubrique|section)|quel(?:le)? (?:menu|onglet|rubrique))\b"
)
# "où" loses its accent when folded, and "ou" is also "or": read it from the raw text.
_OU = re.compile(r"(?:^|[\s,;:!?(])où\b", re.IGNORECASE)
_PROCEDURE_QUESTION = re.compile(
    r"\b(?:how (?:do|can|should|to|would|does one)|comment|what (?:are )?the steps|"
    r"procedure|etapes|la marche a suivre|steps to)\b"
)
_YESNO_QUESTION = re.compile(
    r"^(?:[\w' ]{0,40}[,:] )?(?:is|are|was|were|do|does|did|can|could|will|would|should|must|"
    r"has|have|may|est-ce|puis-je|peut-on|peux-je|dois-je|doit-on|faut-il|ai-je|suis-je|"
    r"y a-t-il|est-il|sont-ils|a-t-on)\b"
)

# French questions often put the verb first with a hyphen ("facture-t-il", "supporte-t-elle")
# or end in "ou pas ?"
_YESNO_TAIL = re.compile(
    r"\w-t-(?:il|elle|on|ils|elles)\b|\w-(?:je|il|elle|on|ils|elles)\b|\bou (?:pas|non)\b"
)

_COUNT = (
    r"(?:\d+(?:[.,]\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|"
    r"twenty|thirty|forty|fifty|sixty|ninety|une?|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|"
    r"douze|quinze|vingt|trente|quarante|soixante)"
)
_DURATION = re.compile(
    rf"(?<![\w-]){_COUNT}[\s-]*(?:(?:business|working|calendar|full|clear)\s+)?"
    r"(?:h|hours?|hrs?|days?|weeks?|months?|years?|minutes?|mins?|heures?|jours?|semaines?|"
    r"mois|ans?|ann[ée]es?)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|[%€$£]|(?<![\w-])(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|"
    r"twenty|thirty|deux|trois|quatre|cinq|sept|huit|neuf|dix|douze|quinze|vingt|trente|"
    r"half|double|moitié|gratuit|free|dozen|hundreds?|thousands?|millions?|dizaines?|"
    r"douzaines?|quinzaines?|vingtaines?|centaines?|milliers?|mille|millions?)(?![\w-])",
    re.IGNORECASE,
)
_MOMENT = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|"
    r"jeudi|vendredi|samedi|dimanche|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|janvier|février|fevrier|mars|avril|mai|juin|"
    r"juillet|août|aout|septembre|octobre|novembre|décembre|decembre|daily|weekly|monthly|"
    r"yearly|every|each|quotidien\w*|hebdomadaire\w*|mensuel\w*|chaque|tous les|toutes les|"
    r"immediately|immédiatement|as soon as|dès|once|after|before|until|après|avant|"
    r"jusqu'(?:à|au)|at the end|à la fin|en fin de|au plus tard|no later|by the)\b|"
    r"\b\d{1,2}(?:st|nd|rd|th|er|e)?\b",
    re.IGNORECASE,
)
_UI_PLACE = re.compile(
    r"\s>\s|›|→|\b(?:menu|onglet|tab|page|section|rubrique|settings|paramètres|parametres|"
    r"dashboard|tableau de bord|espace vendeur|seller (?:hub|central|portal)|click|cliquez|"
    r"select|sélectionnez|go to|allez dans|rendez-vous)\b",
    re.IGNORECASE,
)
# A step of a procedure: a numbered item, an instruction ("Go to…", "Cliquez sur…"), or a
# place in the interface to go to.
_STEP = re.compile(
    r"^\s*\d+[.)]\s|\s>\s|\b(?:go to|click|open|select|choose|enter|fill in|send|submit|"
    r"contact|sign in|log in|upload|request|allez|cliquez|ouvrez|sélectionnez|selectionnez|"
    r"choisissez|saisissez|renseignez|remplissez|envoyez|contactez|rendez-vous|connectez-vous|"
    r"téléchargez|demandez|suivez|répondez)\b",
    re.IGNORECASE,
)
_HOLDS = {
    NUMBER: (_NUMBER,),
    DURATION: (_DURATION,),
    WHEN: (_MOMENT, _DURATION),
    PLACE: (_UI_PLACE,),
    PROCEDURE: (_STEP,),
}


def asks(question: str) -> str:
    """The kind of fact the question asks for (one of KINDS)."""
    folded = fold(question)
    if _DURATION_QUESTION.search(folded):
        return DURATION
    if _WHEN_QUESTION.search(folded):
        return WHEN
    if _NUMBER_QUESTION.search(folded):
        return NUMBER
    if _PLACE_QUESTION.search(folded) or _OU.search(question):
        return PLACE
    if _PROCEDURE_QUESTION.search(folded):
        return PROCEDURE
    if _YESNO_QUESTION.search(folded) or _YESNO_TAIL.search(folded):
        return "yesno"
    if _FIGURE_WORD.search(folded):
        return NUMBER
    return "other"


def holds(kind: str, text: str) -> bool:
    """Whether the text states a fact of the kind (always true for kinds with no fact)."""
    patterns = _HOLDS.get(kind)
    return patterns is None or any(p.search(text) for p in patterns)
