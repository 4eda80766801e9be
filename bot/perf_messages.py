"""What nudges and digests say, French and English side by side: part of `bot.messages`
(read them through `bot.messages.text`), kept in a file of their own for size.

Slots are filled with values already escaped by the caller (bot/perf_blocks.py).
"""

from __future__ import annotations

PERF_MESSAGES: dict[str, dict[str, str]] = {
    # ---- nudges to sellers ----
    "nudge.title.act": {
        "fr": "Votre performance cette semaine",
        "en": "Your performance this week",
    },
    "nudge.title.thanks": {"fr": "Merci !", "en": "Thank you!"},
    "nudge.limit": {
        "fr": "*{metric}* : {value}, au-delà de la limite de {threshold} (seuil d'alerte : {alert}).",
        "en": "*{metric}*: {value}, past the limit of {threshold} (alert threshold: {alert}).",
    },
    "nudge.alert": {
        "fr": "*{metric}* : {value}, au-delà du seuil d'alerte de {threshold} (limite : {limit}).",
        "en": "*{metric}*: {value}, past the alert threshold of {threshold} (limit: {limit}).",
    },
    "nudge.projected": {
        "fr": "*{metric}* : {value} aujourd'hui ; au rythme actuel, {projected} à la prochaine "
        "évaluation, au-delà du seuil d'alerte de {threshold}.",
        "en": "*{metric}*: {value} today; at this pace, {projected} at the next evaluation, "
        "past the alert threshold of {threshold}.",
    },
    "nudge.declining": {
        "fr": "Votre score baisse. L'indicateur le plus proche de son seuil : *{metric}* : {value} "
        "(seuil d'alerte : {threshold}).",
        "en": "Your score is going down. The metric closest to its threshold: *{metric}*: {value} "
        "(alert threshold: {threshold}).",
    },
    "nudge.score": {
        "fr": "Score : {score}/100{delta}, statut : {segment}.",
        "en": "Score: {score}/100{delta}, status: {segment}.",
    },
    "nudge.delta": {"fr": " ({delta} pts en une semaine)", "en": " ({delta} pts in a week)"},
    "nudge.drops": {
        "fr": "{count} baisses hebdomadaires d'affilée.",
        "en": "{count} weekly drops in a row.",
    },
    "nudge.projection": {
        "fr": "Si rien ne change, à la prochaine évaluation : {segment}{score}.",
        "en": "If nothing changes, at the next evaluation: {segment}{score}.",
    },
    "nudge.projection_score": {"fr": " (score {score})", "en": " (score {score})"},
    "nudge.action": {"fr": "À faire : {action}", "en": "What to do: {action}"},
    "nudge.also": {
        "fr": "À surveiller aussi : {metrics}.",
        "en": "Also over a threshold: {metrics}.",
    },
    "nudge.source": {"fr": "Source : {source}", "en": "Source: {source}"},
    "nudge.thanks": {
        "fr": "Votre boutique est dans le top : score {score}/100, aucun seuil d'alerte franchi. "
        "Merci pour la qualité de votre service, continuez ainsi !",
        "en": "Your shop is a top seller: score {score}/100, no alert threshold crossed. "
        "Thank you for the quality of your service, keep it up!",
    },
    # one concrete action per metric
    "action.acceptance_delay": {
        "fr": "traitez les commandes au moins deux fois par jour, week-end compris, et activez le "
        "mode vacances quand personne ne peut s'en occuper.",
        "en": "process orders at least twice a day, weekends included, and switch on vacation "
        "mode when nobody can handle them.",
    },
    "action.acceptance_rate": {
        "fr": "synchronisez vos stocks avec votre inventaire réel au moins une fois par jour : un "
        "refus pour rupture de stock compte comme un refus.",
        "en": "sync your stock levels with your real inventory at least once a day: an "
        "out-of-stock refusal counts as a refusal.",
    },
    "action.cancellation_rate": {
        "fr": "vérifiez le stock avant d'accepter une commande ; en cas de doute, refusez plutôt "
        "que d'annuler après acceptation.",
        "en": "check stock before accepting an order; when in doubt, refuse rather than cancel "
        "after accepting.",
    },
    "action.late_shipment_rate": {
        "fr": "remettez chaque colis au transporteur dans les 2 jours ouvrés après l'acceptation, "
        "et ne confirmez l'expédition qu'une fois le colis déposé.",
        "en": "hand each parcel to the carrier within 2 business days of acceptance, and confirm "
        "shipment only once the parcel has been handed over.",
    },
    "action.valid_tracking_rate": {
        "fr": "vérifiez le champ transporteur de vos numéros de suivi, surtout dans les imports "
        "en masse : un numéro saisi sous le mauvais transporteur est invalide.",
        "en": "check the carrier field of your tracking numbers, especially in bulk uploads: a "
        "number entered under the wrong carrier is invalid.",
    },
    "action.response_time": {
        "fr": "répondez aux messages clients chaque jour ouvré en commençant par les plus anciens : "
        "un message oublié pèse sur la moyenne jusqu'à votre réponse.",
        "en": "answer customer messages every business day, oldest first: a forgotten message "
        "weighs on the mean until you reply.",
    },
    "action.incident_rate": {
        "fr": "passez en revue les réclamations des 30 derniers jours, trouvez leur cause la plus "
        "fréquente (emballage, description, transporteur) et corrigez-la.",
        "en": "go through the claims of the last 30 days, find their most frequent cause "
        "(packaging, description, carrier) and fix it.",
    },
    "action.rating": {
        "fr": "lisez vos derniers avis négatifs et traitez leur cause commune ; ne sollicitez "
        "jamais un avis en échange d'un avantage.",
        "en": "read your latest negative reviews and fix their common cause; never ask for a "
        "review in exchange for a benefit.",
    },
    "segment.new": {"fr": "nouveau", "en": "new"},
    "segment.top": {"fr": "top", "en": "top"},
    "segment.healthy": {"fr": "sain", "en": "healthy"},
    "segment.watch": {"fr": "sous surveillance", "en": "watch"},
    "segment.at_risk": {"fr": "à risque", "en": "at risk"},
    "segment.exit_review": {"fr": "revue d'exclusion", "en": "exit review"},
    # ---- digests to account managers ----
    "digest.title": {"fr": "Votre portefeuille — {day}", "en": "Your portfolio — {day}"},
    "digest.tickets": {
        "fr": "*Tickets niveau 2 et 3 ouverts ({count})*",
        "en": "*Open Level 2 and 3 tickets ({count})*",
    },
    "digest.ticket": {
        "fr": "#{number} · N{level} · {seller} · {category} · {due}",
        "en": "#{number} · L{level} · {seller} · {category} · {due}",
    },
    "digest.no_deadline": {"fr": "pas d'échéance en cours", "en": "no running deadline"},
    "digest.clocks": {
        "fr": "*Délais en danger ou dépassés ({count})*",
        "en": "*Clocks at risk or breached ({count})*",
    },
    "digest.clock": {
        "fr": "#{number} · {target} · {state} · échéance {due}",
        "en": "#{number} · {target} · {state} · due {due}",
    },
    "clock.at_risk": {"fr": "en danger", "en": "at risk"},
    "clock.breached": {"fr": "dépassé", "en": "breached"},
    "digest.entering": {
        "fr": "*Vendeurs qui changent de statut ({count})*",
        "en": "*Sellers entering a new status ({count})*",
    },
    "digest.entered": {
        "fr": "{seller} : {before} → *{after}* (score {score})",
        "en": "{seller}: {before} → *{after}* (score {score})",
    },
    "digest.movers_down": {"fr": "*Plus fortes baisses*", "en": "*Biggest drops*"},
    "digest.movers_up": {"fr": "*Plus fortes hausses*", "en": "*Biggest rises*"},
    "digest.mover": {
        "fr": "{seller} : {delta} pts en une semaine (score {score})",
        "en": "{seller}: {delta} pts in a week (score {score})",
    },
    "digest.nothing": {"fr": "Rien à signaler aujourd'hui.", "en": "Nothing to report today."},
    "digest.chart_title": {"fr": "Scores — {am} — {day}", "en": "Scores — {am} — {day}"},
    "digest.chart_comment": {
        "fr": "Évolution hebdomadaire du score des vendeurs à suivre",
        "en": "Weekly score trend of the sellers to watch",
    },
}
