"""Show a Slack message in a terminal roughly as a person sees it in Slack (demo, previews)."""

from __future__ import annotations

import html
import re
import textwrap
from typing import Any

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^|>]+)>")
_USER = re.compile(r"<@([A-Z0-9]+)>")


def mrkdwn_to_text(text: str) -> str:
    """Slack mrkdwn to plain text: links as `label (url)`, entities decoded."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE_LINK.sub(lambda m: m.group(1), text)
    text = _USER.sub(lambda m: f"@{m.group(1)}", text)
    return html.unescape(text)


def _element_text(element: dict[str, Any]) -> str:
    if element.get("type") in {"mrkdwn", "plain_text"}:
        return mrkdwn_to_text(str(element.get("text", "")))
    if element.get("type") == "button":
        return f"[ {element.get('text', {}).get('text', '')} ]"
    if element.get("type") == "image":
        return f"[image: {element.get('alt_text', '')}]"
    return ""


def blocks_to_lines(blocks: list[dict[str, Any]], *, width: int = 76) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in {"section", "header"}:
            text = _element_text(block.get("text") or {})
            for paragraph in text.splitlines() or [""]:
                lines.extend(textwrap.wrap(paragraph, width) or [""])
            for field in block.get("fields") or []:
                lines.append(_element_text(field))
        elif kind == "context":
            context = "  ".join(_element_text(e) for e in block.get("elements", []))
            lines.extend(textwrap.wrap(context, width, initial_indent="  ", subsequent_indent="  "))
        elif kind == "actions":
            lines.append("  ".join(_element_text(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("-" * min(width, 40))
    return lines


def message_to_text(params: dict[str, Any], *, width: int = 76) -> str:
    """A chat.postMessage / chat.update call as readable text (blocks win over text)."""
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        import json

        blocks = json.loads(blocks)
    if blocks:
        return "\n".join(blocks_to_lines(blocks, width=width))
    return "\n".join(textwrap.wrap(mrkdwn_to_text(str(params.get("text", ""))), width))
