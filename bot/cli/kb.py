"""`comptoir kb ingest PATH...`, `comptoir kb stats`: the guideline index; `comptoir kb answers
list|retire|reindex`: the help-desk answers staff saved beside it ("Save as an answer")."""

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

    _register_answers(kb)

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
            f"({langs}); last ingest: {figures['last_ingest'] or 'never'}; "
            f"{figures['vetted_answers']} help-desk answers"
        )


def _register_answers(kb: typer.Typer) -> None:
    answers = typer.Typer(
        help='Help-desk answers staff saved with "Save as an answer".', no_args_is_help=True
    )
    kb.add_typer(answers, name="answers")

    @answers.command("list")
    def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        """Every saved answer, oldest first, retired ones marked (kept for audit)."""
        from bot.cli import database, settings_of
        from routing import vetted_answers

        with database(settings_of(ctx), write=False) as session:
            rows = vetted_answers.list_vetted_answers(session)
            if as_json:
                typer.echo(
                    json.dumps([vetted_answers.to_json(r) for r in rows], ensure_ascii=False)
                )
                return
            if not rows:
                typer.echo("no help-desk answer saved yet")
            for r in rows:
                state = f"retired {r.retired_at:%Y-%m-%d}" if r.retired_at else "active"
                link = f" {r.guideline_url}" if r.guideline_url else ""
                typer.echo(
                    f"#{r.id}\t{r.created_at:%Y-%m-%d}\t{r.language}\t{state}\tby {r.author_id}"
                    f"\t{_one_line(r.question)} -> {_one_line(r.answer)}{link}"
                )

    @answers.command("retire")
    def retire(ctx: typer.Context, answer_id: int = typer.Argument(..., metavar="ID")) -> None:
        """Stop giving an answer: out of the index at once, kept in the database as retired.
        Exit 2 for an id that does not exist."""
        from bot.cli import database, fail, settings_of
        from routing import vetted_answers
        from routing.db import utcnow

        settings = settings_of(ctx)
        try:
            with database(settings) as session:
                row = vetted_answers.do_retire_vetted_answer(
                    session, answer_id=answer_id, now=utcnow()
                )
                # before the commit: if the index cannot be reached, nothing is retired
                open_knowledge_base(settings).remove_vetted([answer_id])
                when = row.retired_at
        except vetted_answers.VettedAnswerError as exc:
            raise fail(str(exc)) from None
        typer.echo(f"help-desk answer #{answer_id} retired ({when:%Y-%m-%d %H:%M} UTC)")

    @answers.command("reindex")
    def reindex(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        """Rebuild the answers' index from the database (the bot also does it when it starts)."""
        from bot.cli import sessions, settings_of
        from bot.vetted_sync import do_sync_index

        settings = settings_of(ctx)
        with sessions(settings) as factory:
            report = do_sync_index(factory, open_knowledge_base(settings))
        if as_json:
            typer.echo(json.dumps(report.to_json()))
            return
        typer.echo(
            f"{len(report.added)} indexed, {len(report.removed)} removed, {report.kept} unchanged"
        )


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
