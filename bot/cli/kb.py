"""`comptoir kb ingest PATH...` and `comptoir kb stats`: the guideline index."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.settings import Settings

if TYPE_CHECKING:
    from knowledge.ingest import Progress


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
def ingest_progress(label: str = "ingest", *, rich: bool | None = None) -> Iterator[Progress]:
    """A progress display for KnowledgeBase.ingest, on stderr so stdout (--json) stays clean:
    a rich bar when a person watches, otherwise a line when the files are counted, then one
    per file that needed vectors and per batch of a long one (pipes and CI logs see it move;
    unchanged files cost nothing and print nothing)."""
    from knowledge.ingest import EMBED_BATCH, IngestProgress

    if rich if rich is not None else sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            console=Console(stderr=True), transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("", total=None)

            def update(step: IngestProgress) -> None:
                vectors = f" {step.embedded}/{step.to_embed} vectors" if step.to_embed else ""
                bar.update(
                    task, completed=step.done, total=step.total,
                    description=f"{_short(step.path)}{vectors}",
                )  # fmt: skip

            yield update
        return

    def line(step: IngestProgress) -> None:
        if step.done == 0 and not step.to_embed and step.path:
            text = f"{label}: {step.total} files to read"
        elif step.to_embed and (step.embedded == step.to_embed or step.to_embed > EMBED_BATCH):
            text = (
                f"{label} {step.done + 1}/{step.total} {_short(step.path)}: "
                f"{step.embedded}/{step.to_embed} vectors"
            )
        else:
            return
        print(text, file=sys.stderr, flush=True)

    yield line


def _short(path: str) -> str:
    """A file's path relative to the working directory when it is under it, else its name."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return Path(path).name


def register(app: typer.Typer) -> None:
    kb = typer.Typer(help="The guideline index the bot answers from.", no_args_is_help=True)
    app.add_typer(kb, name="kb")

    @kb.command("ingest")
    def ingest_(
        ctx: typer.Context,
        paths: list[Path] = typer.Argument(..., help="Folders (or files) of guidelines."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Index Markdown, HTML, text and PDF guidelines; only what changed is re-embedded.

        Exit 0 when every file went in (or was unchanged), 1 when some were skipped (each
        named on stderr), 2 when nothing was done: a path does not exist or holds no guideline.
        """
        from bot.cli import fail, settings_of
        from knowledge.ingest import IngestInputError

        knowledge_base = open_knowledge_base(settings_of(ctx))
        try:
            with ingest_progress() as progress:
                report = knowledge_base.ingest(*paths, progress=progress)
        except IngestInputError as exc:
            raise fail(f"{exc}; nothing ingested") from exc
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            typer.echo(
                f"{report.documents} documents ({report.chunks} chunks) indexed, "
                f"{report.unchanged} unchanged, {report.removed} removed, "
                f"{len(report.skipped)} skipped"
            )
        for item in report.skipped:
            typer.echo(f"  skipped {item['path']}: {item['reason']}", err=True)
        if report.skipped:
            raise typer.Exit(1)

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
