"""Nothing a seller or a guideline wrote may reach Slack as markup that pings.

Slack mrkdwn turns `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^ID>` and `<@U…>` into
mentions, and it only does so inside angle brackets. Escaping `&`, `<` and `>` (the three
characters Slack itself asks to escape) leaves every such sequence as harmless visible text.
"""

from __future__ import annotations

from urllib.parse import urlsplit

SECTION_LIMIT = 3000  # Slack refuses a section text longer than this


def escape_mrkdwn(text: str) -> str:
    """Escape seller or guideline text for a mrkdwn field; `&` first so nothing is doubled."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int = SECTION_LIMIT) -> str:
    """Cut at `limit` characters, ending with an ellipsis; never splits an escape like `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def safe_link(url: str | None, label: str) -> str:
    """`<url|label>` for an http(s) URL, else the escaped label alone.

    The URL comes from guideline metadata; one holding `|`, `<`, `>` or spaces could close the
    link early and smuggle markup, so such a URL is dropped rather than trusted.
    """
    shown = escape_mrkdwn(label).replace("|", "¦")
    if not url:
        return shown
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return shown
    if any(c in url for c in "<>| \n\t\"'"):
        return shown
    return f"<{url.replace('&', '&amp;')}|{shown}>"


def plain(text: str, limit: int) -> str:
    """Text for a plain_text field (never parsed as markup), cut to Slack's limit."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
