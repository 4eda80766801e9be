"""`comptoir kb ingest PATH...` and `comptoir kb stats`: the guideline index."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from bot.settings import Settings


def open_knowledge_base(settings: Settings, *, with_chat_model: bool = False) -> Any:
    """The KnowledgeBase described by Settings (embedded Chroma unless a server URL is set)."""
    from knowledge.embeddings import make_embeddings
    from knowledge.service import KnowledgeBase

    chat_model = None
    if with_chat_model and settings.llm:
        from knowledge.providers import make_chat_model

        chat_model = make_chat_model(
            settings.llm, base_url=settings.llm_base_url, api_key=settings.llm_api_key
        )
    if not settings.chroma_url:
        settings.ensure_data_dir()
    return KnowledgeBase.open(
        persist_dir=None if settings.chroma_url else settings.chroma_path,
        chroma_url=settings.chroma_url,
        collection=settings.collection,
        embeddings=make_embeddings(
            settings.embeddings,
            base_url=settings.embeddings_base_url,
            api_key=settings.llm_api_key,
            query_model=settings.embeddings_query_model,
        ),
        chat_model=chat_model,
        threshold=settings.answer_threshold,
        sure=settings.answer_sure,
    )


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A rich bar on stderr when a person watches; nothing when piped or in CI logs."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("", total=None)

        def update(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=Path(path).name)

        yield update


def register(app: typer.Typer) -> None:
    kb = typer.Typer(help="The guideline index the bot answers from.", no_args_is_help=True)
    app.add_typer(kb, name="kb")

    @kb.command("ingest")
    def ingest_(
        ctx: typer.Context,
        paths: list[Path] = typer.Argument(..., help="Folders (or files) of guidelines."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Index Markdown, HTML, text and PDF guidelines; only what changed is re-embedded."""
        from bot.cli import settings_of

        knowledge_base = open_knowledge_base(settings_of(ctx))
        with _progress_bar() as progress:
            report = knowledge_base.ingest(*paths, progress=progress)
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            typer.echo(
                f"{report.documents} documents ({report.chunks} chunks) indexed, "
                f"{report.unchanged} unchanged, {report.removed} removed, "
                f"{len(report.skipped)} skipped"
            )
        for item in report.skipped:
            if not as_json:
                typer.echo(f"  skipped {item['path']}: {item['reason']}", err=True)

    @kb.command("stats")
    def stats(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        """Documents, chunks, languages and the last ingest time."""
        from bot.cli import settings_of

        figures = open_knowledge_base(settings_of(ctx)).stats()
        if as_json:
            typer.echo(json.dumps(figures, ensure_ascii=False))
            return
        langs = ", ".join(f"{k}: {v}" for k, v in figures["languages"].items()) or "none"
        typer.echo(
            f"{figures['documents']} documents, {figures['chunks']} chunks "
            f"({langs}); last ingest: {figures['last_ingest'] or 'never'}"
        )
