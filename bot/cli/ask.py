"""`comptoir ask "QUESTION"`: ask the guidelines from the command line."""

from __future__ import annotations

import json
import sys

import typer


def _render(answer: object) -> str:
    from knowledge.types import Answer

    assert isinstance(answer, Answer)
    lines = [answer.text, ""]
    for n, c in enumerate(answer.citations, start=1):
        link = f" <{c.url}>" if c.url else ""
        section = f" — {c.section}" if c.section else ""  # a help-desk answer has none
        lines.append(f"[{n}] {c.title}{section} ({c.source}){link}")
    lines.append(f"confidence {answer.confidence:.2f}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("ask")
    def ask(
        ctx: typer.Context,
        question: str = typer.Argument(
            ..., help='The question, or "-" to read one per line on stdin.'
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Answer from the guidelines, with sources, or say it cannot.

        With "-", blank lines are not questions and are passed over; stdin without a single
        question, like an empty QUESTION, is an error (exit 2).
        """
        from bot.cli import fail, settings_of
        from bot.cli.kb import open_knowledge_base
        from knowledge.types import EmptyIndexError

        if question != "-" and not question.strip():
            raise fail('the question is empty; give one, or "-" to read them from stdin')
        knowledge_base = open_knowledge_base(settings_of(ctx), with_chat_model=True)
        # stdin is read a line at a time, so each answer is out before the next is asked
        lines = (line.strip() for line in sys.stdin) if question == "-" else iter([question])
        asked = 0
        for q in lines:
            if not q:
                continue
            asked += 1
            try:
                answer = knowledge_base.answer(q)
            except EmptyIndexError as exc:
                raise fail(f"{exc} (run `comptoir kb ingest FOLDER`)") from exc
            if as_json:
                typer.echo(json.dumps(answer.to_json(), ensure_ascii=False))
            else:
                typer.echo(_render(answer))
            sys.stdout.flush()
        if not asked:
            raise fail("no question on stdin (one question per line)")
