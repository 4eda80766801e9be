"""Every sentence the bot shows a person, French and English side by side.

`text(key, language)` is the only way in; a missing key or language fails loudly in tests
rather than showing a seller an empty message.
"""

from __future__ import annotations

from typing import Literal

from bot.perf_messages import PERF_MESSAGES

Language = Literal["fr", "en"]

MESSAGES: dict[str, dict[Language, str]] = {
    # the two buttons under every answer (seller's directory language)
    "button.resolved": {
        "fr": "C'est résolu",
        "en": "Resolved",
    },
    "button.human": {
        "fr": "J'ai besoin d'un humain",
        "en": "I need a human",
    },
    "answer.sources": {
        "fr": "Sources",
        "en": "Sources",
    },
    "answer.prompt": {
        "fr": "Cette réponse règle-t-elle votre question ?",
        "en": "Does this answer your question?",
    },
    # an abstention says so plainly (question's language)
    "answer.abstain": {
        "fr": "Je ne trouve pas de réponse sûre dans les guides de la marketplace. "
        "Un membre de l'équipe support va prendre le relais ici, dans ce fil.",
        "en": "I can't find a reliable answer in the marketplace guidelines. "
        "A member of the help desk will take it from here, in this thread.",
    },
    # after a click (seller's directory language)
    "feedback.resolved": {
        "fr": "✅ Marqué comme résolu. Merci !",
        "en": "✅ Marked as resolved. Thank you!",
    },
    "feedback.human": {
        "fr": "🙋 Vous avez demandé un humain.",
        "en": "🙋 You asked for a human.",
    },
    "handoff.human": {
        "fr": "Un membre de l'équipe support prend le relais. Vous aurez sa réponse ici, dans ce fil.",
        "en": "A member of the help desk will take it from here. You will get the answer here, in this thread.",
    },
    # when the bot itself fails, the seller still hears something
    "error.answer": {
        "fr": "Désolé, je n'ai pas pu répondre à cause d'une erreur de mon côté. "
        "Un membre de l'équipe support va prendre le relais.",
        "en": "Sorry, I couldn't answer because of an error on my side. "
        "A member of the help desk will take it from here.",
    },
    # a message longer than COMPTOIR_MAX_MESSAGE_CHARS: only its start was read (seller's
    # directory language), posted in the thread just before the answer
    "message.cut": {
        "fr": "✂️ Votre message est long : je n'en ai lu que les {limit} premiers caractères. "
        "Si ma réponse passe à côté, reposez l'essentiel de votre question ici, en plus court.",
        "en": "✂️ Your message is long: I only read its first {limit} characters. "
        "If my answer misses the point, ask the heart of your question again here, in short.",
    },
    # --- tickets, seen by the seller (seller's directory language) ---
    "ticket.card": {
        "fr": "🎫 Ticket *#{number}* ouvert · niveau {level}.\nUn membre de l'équipe vous répond {due}, ici, dans ce fil.",
        "en": "🎫 Ticket *#{number}* opened · level {level}.\nA member of the team will answer {due}, here, in this thread.",
    },
    "ticket.passage": {
        "fr": "En attendant, voici ce que disent les guides de la marketplace :",
        "en": "Meanwhile, here is what the marketplace guidelines say:",
    },
    "ticket.ask_solved": {
        "fr": "L'équipe a marqué le ticket *#{number}* comme résolu. Votre problème est-il réglé ?",
        "en": "The team marked ticket *#{number}* as resolved. Is your problem solved?",
    },
    "button.solved_yes": {"fr": "Oui, c'est réglé", "en": "Yes, it's solved"},
    "button.solved_no": {"fr": "Non, pas encore", "en": "No, not yet"},
    "ticket.solved_yes": {
        "fr": "✅ Merci ! Le ticket *#{number}* est clos.",
        "en": "✅ Thank you! Ticket *#{number}* is closed.",
    },
    "ticket.solved_no": {
        "fr": "🔁 Le ticket *#{number}* est rouvert : un membre de l'équipe revient vers vous ici.",
        "en": "🔁 Ticket *#{number}* is reopened: a member of the team will get back to you here.",
    },
    # --- the help desk's own surfaces (the team's language, settings.staff_language) ---
    "triage.title": {
        "fr": "Ticket #{number} · niveau {level} · {seller}",
        "en": "Ticket #{number} · level {level} · {seller}",
    },
    "triage.status.open": {"fr": "🟡 ouvert, personne dessus", "en": "🟡 open, nobody on it"},
    "triage.status.claimed": {"fr": "🔵 pris par {owner}", "en": "🔵 claimed by {owner}"},
    "triage.status.waiting_on_seller": {
        "fr": "⏸️ en attente du vendeur",
        "en": "⏸️ waiting on the seller",
    },
    "triage.status.resolved": {"fr": "✅ résolu", "en": "✅ resolved"},
    "triage.first_response_due": {
        "fr": "Première réponse due {due}",
        "en": "First response due {due}",
    },
    "triage.first_response_done": {
        "fr": "Première réponse donnée",
        "en": "First response given",
    },
    "triage.thread": {"fr": "Voir le fil du vendeur", "en": "Open the seller's thread"},
    "button.claim": {"fr": "Je prends", "en": "Claim"},
    "button.wait": {"fr": "Attente vendeur", "en": "Waiting on seller"},
    "button.resolve": {"fr": "Résoudre", "en": "Resolve"},
    "select.level": {"fr": "Changer le niveau", "en": "Change level"},
    "select.level_option": {"fr": "Niveau {level}", "en": "Level {level}"},
    "triage.level3": {
        "fr": "🚨 Niveau 3 · ticket #{number} ({seller}) : {leads} à prévenir tout de suite.{am}",
        "en": "🚨 Level 3 · ticket #{number} ({seller}): {leads} please take it now.{am}",
    },
    "triage.level3_am": {
        "fr": " Responsable de compte {am} prévenu en message privé.",
        "en": " Account manager {am} told by direct message.",
    },
    "triage.level3_gap": {
        "fr": " ⚠️ Aucun responsable de compte n'est renseigné pour ce vendeur : le responsable support prend le relais.",
        "en": " ⚠️ No account manager on file for this seller: the help-desk lead takes over.",
    },
    "triage.no_lead": {"fr": "l'équipe support", "en": "the help desk"},
    "dm.level3": {
        "fr": "🚨 Niveau 3 pour {seller} · ticket #{number} ({category}) : « {summary} »",
        "en": "🚨 Level 3 for {seller} · ticket #{number} ({category}): “{summary}”",
    },
    "sla.warning": {
        "fr": "⏳ Ticket #{number} (niveau {level}) : 75 % du délai « {target} » écoulé, échéance {due}.",
        "en": "⏳ Ticket #{number} (level {level}): 75 % of the “{target}” time used, due {due}.",
    },
    "sla.breach": {
        "fr": "🔥 Ticket #{number} (niveau {level}) : délai « {target} » dépassé (échéance {due}).",
        "en": "🔥 Ticket #{number} (level {level}): “{target}” breached (was due {due}).",
    },
    "sla.target.first_response": {"fr": "première réponse", "en": "first response"},
    "sla.target.next_response": {"fr": "réponse suivante", "en": "next response"},
    "sla.target.resolution": {"fr": "résolution", "en": "resolution"},
    "staff.refused": {
        "fr": "Seule l'équipe support peut faire cela.",
        "en": "Only help-desk staff can do that.",
    },
    # "Save as an answer" (bot.vetted_blocks): staff language
    "vetted.modal.title": {"fr": "Enregistrer la réponse", "en": "Save as an answer"},
    "vetted.modal.submit": {"fr": "Enregistrer", "en": "Save"},
    "vetted.modal.close": {"fr": "Annuler", "en": "Cancel"},
    "vetted.modal.warning": {
        "fr": ":warning: *D'autres vendeurs liront cette réponse.* Retirez tout ce qui appartient "
        "à ce vendeur : son nom, ses numéros de commande ou de colis, les montants et les dates "
        "de son cas, les adresses e-mail, les numéros de téléphone, les IBAN. Écrivez la "
        "question et la réponse pour qu'elles valent pour tout vendeur.",
        "en": ":warning: *Other sellers will read this answer.* Remove everything that belongs "
        "to this seller: their name, order or parcel numbers, the amounts and dates of their "
        "case, e-mail addresses, phone numbers, IBANs. Write the question and the answer so "
        "they hold for any seller.",
    },
    "vetted.modal.question": {
        "fr": "La question du vendeur, en termes généraux",
        "en": "The seller's question, in general terms",
    },
    "vetted.modal.answer": {
        "fr": "La réponse, pour tout vendeur",
        "en": "The answer, for any seller",
    },
    "vetted.modal.link": {
        "fr": "Lien vers la consigne (facultatif)",
        "en": "Link to the guideline (optional)",
    },
    "vetted.modal.language": {"fr": "Langue de la réponse", "en": "Language of the answer"},
    "vetted.language.fr": {"fr": "Français", "en": "French"},
    "vetted.language.en": {"fr": "Anglais", "en": "English"},
    "vetted.error.private": {
        "fr": "Retirez {items} : d'autres vendeurs liront ce texte.",
        "en": "Remove {items}: other sellers will read this text.",
    },
    "vetted.what.email": {"fr": "l'adresse e-mail", "en": "the e-mail address"},
    "vetted.what.phone": {"fr": "le numéro de téléphone", "en": "the phone number"},
    "vetted.what.iban": {"fr": "l'IBAN", "en": "the IBAN"},
    "vetted.what.order_number": {
        "fr": "le numéro de commande ou de référence",
        "en": "the order or reference number",
    },
    "vetted.what.slack_mention": {"fr": "la mention Slack", "en": "the Slack mention"},
    "vetted.what.seller": {"fr": "le nom du vendeur", "en": "the seller's name"},
    "vetted.error.empty": {"fr": "Ce champ est vide.", "en": "This field is empty."},
    "vetted.error.too_long": {
        "fr": "{found} caractères au plus.",
        "en": "At most {found} characters.",
    },
    "vetted.error.url": {
        "fr": "Donnez une adresse web qui commence par https://",
        "en": "Give a web address that starts with https://",
    },
    "vetted.refused.not_reply": {
        "fr": "« Enregistrer la réponse » s'utilise sur une réponse de l'équipe support, dans le "
        "fil d'une question d'un vendeur.",
        "en": "Use “Save as an answer” on a help-desk reply in the thread of a seller's question.",
    },
    "vetted.refused.modal": {
        "fr": "Slack n'a pas ouvert la fenêtre ; réessayez.",
        "en": "Slack did not open the form; try again.",
    },
    "vetted.saved": {
        "fr": "Réponse du support n°{id} enregistrée : le bot la donne désormais aux vendeurs "
        "qui posent une question semblable. `comptoir kb answers retire {id}` la retire.",
        "en": "Saved as help-desk answer #{id}: the bot now gives it to sellers who ask a "
        "similar question. `comptoir kb answers retire {id}` withdraws it.",
    },
    "vetted.saved_not_indexed": {
        "fr": "Réponse du support n°{id} enregistrée, mais pas encore dans l'index du bot (voir "
        "le journal) : elle y entre au prochain démarrage, ou avec "
        "`comptoir kb answers reindex`.",
        "en": "Saved as help-desk answer #{id}, but not yet in the bot's index (see the log): "
        "it goes in at the bot's next start, or with `comptoir kb answers reindex`.",
    },
    "staff.claimed_by": {
        "fr": "Ce ticket est déjà pris par {owner}.",
        "en": "This ticket is already claimed by {owner}.",
    },
    "staff.not_now": {
        "fr": "Impossible pour le ticket #{number} : {reason}",
        "en": "Not possible for ticket #{number}: {reason}",
    },
    "home.mine": {"fr": "Ma file", "en": "My queue"},
    "home.team": {"fr": "File de l'équipe", "en": "Team queue"},
    "home.empty": {"fr": "Rien en attente.", "en": "Nothing waiting."},
    "home.not_staff": {
        "fr": "Cet espace est réservé à l'équipe support.",
        "en": "This space is for help-desk staff.",
    },
    "queue.line": {
        "fr": "*#{number}* · N{level} · {seller} · {status} · {due}\n> {summary}",
        "en": "*#{number}* · L{level} · {seller} · {status} · {due}\n> {summary}",
    },
    "queue.no_deadline": {"fr": "pas d'échéance", "en": "no deadline"},
    "command.help": {
        "fr": "Commandes : `/comptoir queue`, `/comptoir ticket 1042`, `/comptoir stats`.",
        "en": "Commands: `/comptoir queue`, `/comptoir ticket 1042`, `/comptoir stats`.",
    },
    "command.no_ticket": {"fr": "Pas de ticket #{number}.", "en": "No ticket #{number}."},
    "command.stats_title": {"fr": "Aujourd'hui", "en": "Today"},
    "stats.tickets": {
        "fr": "Tickets : {opened} ouverts, {resolved} résolus",
        "en": "Tickets: {opened} opened, {resolved} resolved",
    },
    "stats.first_response": {
        "fr": "Première réponse : médiane {median} ({count} tickets)",
        "en": "First response: median {median} ({count} tickets)",
    },
    "stats.deflection": {
        "fr": "Réglées par le bot seul : {rate} ({deflected} sur {questions} questions)",
        "en": "Settled by the bot alone: {rate} ({deflected} of {questions} questions)",
    },
    "stats.relevel": {
        "fr": "Niveaux corrigés par l'équipe : {rate}",
        "en": "Levels corrected by staff: {rate}",
    },
    "stats.sla": {
        "fr": "SLA niveau {level}, {target} : {met}/{total} tenus",
        "en": "SLA level {level}, {target}: {met}/{total} met",
    },
    "stats.open_by_age": {"fr": "Ouverts par âge : {ages}", "en": "Open by age: {ages}"},
}


# nudges and digests (bot/perf_messages.py): one table, one lookup, no key used twice
assert not MESSAGES.keys() & PERF_MESSAGES.keys(), MESSAGES.keys() & PERF_MESSAGES.keys()
MESSAGES.update(PERF_MESSAGES)  # type: ignore[arg-type]


def text(key: str, language: str, **values: object) -> str:
    """The sentence in `language`, with `{name}` slots filled from `values` (already escaped)."""
    lang: Language = "fr" if language == "fr" else "en"
    sentence = MESSAGES[key][lang]
    return sentence.format(**values) if values else sentence
