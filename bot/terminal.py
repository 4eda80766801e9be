"""Show a Slack message in a terminal roughly as a person sees it in Slack (demo, previews)."""

from __future__ import annotations

import html
import re
import sys
import textwrap
from types import TracebackType
from typing import Any, TextIO

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


def _amount(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 1e6:.1f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB"
    return f"{value:,.0f} {unit}".rstrip()


class Progress:
    """How far a long command has got, on stderr so that stdout stays clean for --json.

    On a terminal: a rich bar (a spinner when the total is unknown). Elsewhere (a pipe, a CI
    log, a test): a plain line at each tenth of the total, or each `every` units when there is
    no total, at each named step, and one at the end; never a line per row."""

    def __init__(
        self,
        label: str,
        *,
        total: float | None = None,
        unit: str = "",
        every: float = 0,
        stream: TextIO | None = None,
    ) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.stream = stream if stream is not None else sys.stderr
        self._mark = 0  # the last tenth (or `every` multiple) a line was written for
        self._bar: Any = None
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
            self._bar = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                amount,
                TimeRemainingColumn(),
                TextColumn("{task.fields[detail]}"),
                console=Console(file=self.stream, force_terminal=True),
            )
            self._task = self._bar.add_task(label, total=total, detail="")
            self._bar.start()

    def update(self, done: float, detail: str = "") -> None:
        """`done` units of the total so far; `detail` says what they amount to."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, detail=detail)
            return
        if self.total:
            mark = int(10 * done / self.total)
            where = f"{100 * done / self.total:.0f}% ({_amount(done, self.unit)} of "
            where += f"{_amount(self.total, self.unit)})"
        elif self.every:
            mark, where = int(done // self.every), _amount(done, self.unit)
        else:
            return
        if mark > self._mark:
            self._mark = mark
            self._line(where + (f", {detail}" if detail else ""))

    def step(self, message: str) -> None:
        """A named stage of the work (for work that is steps rather than an amount)."""
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self.label}: {message}")
        else:
            self._line(message)

    def done(self, detail: str = "") -> None:
        if self._bar is not None:
            if self.total is not None:
                self._bar.update(self._task, completed=self.total)
            self._bar.update(self._task, detail=detail)
            self._stop()
        else:
            self._line("done" + (f", {detail}" if detail else ""))

    def _line(self, text: str) -> None:
        print(f"{self.label}: {text}", file=self.stream, flush=True)

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()
