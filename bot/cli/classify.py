"""`comptoir classify "TEXT"` and `comptoir classifier train`: the message classifier."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from bot.settings import Settings


def _render(text: str, result: object) -> str:
    from routing.classify import Classification

    assert isinstance(result, Classification)
    reasons = "; ".join(result.reasons)
    return (
        f"Level {result.level} {result.kind} [{result.category}] "
        f"confidence {result.confidence:.2f} — {reasons}"
    )


def register(app: typer.Typer) -> None:
    @app.command("classify")
    def classify(
        ctx: typer.Context,
        message: str = typer.Argument(
            ..., help='The seller message, or "-" to read one message per line on stdin.'
        ),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per message."),
        model: Path | None = typer.Option(
            None,
            "--model",
            help="A model file (default: the one retrained in the data dir, else the shipped one).",
        ),
    ) -> None:
        """Say whether a message is a question or a problem, its level and category."""
        from bot.cli import fail, settings_of

        model = model or settings_of(ctx).classifier_path
        from routing.classify import Classifier, ClassifierError

        if message == "-":
            texts = [line.strip() for line in sys.stdin if line.strip()]
            if not texts:
                raise fail("no message on stdin (one message per line)")
        elif not message.strip():
            raise fail("the message is empty; give some text, or - to read stdin")
        else:
            texts = [message]
        try:
            results = Classifier.load(model).classify_many(texts)
        except ClassifierError as exc:
            raise fail(str(exc)) from exc
        for text, result in zip(texts, results, strict=True):
            if as_json:
                typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
            else:
                typer.echo(_render(text, result))

    classifier = typer.Typer(help="Train and inspect the message classifier.", no_args_is_help=True)
    app.add_typer(classifier, name="classifier")

    @classifier.command("train")
    def train_command(
        ctx: typer.Context,
        out: Path | None = typer.Option(
            None,
            "--out",
            help="Where to write the model (default: classifier.npz in the data dir, "
            "which the bot and `comptoir classify` then use).",
        ),
        from_db: bool = typer.Option(
            True, "--from-db/--no-from-db", help="Add the staff re-levels kept in the database."
        ),
        extra: Path | None = typer.Option(
            None,
            "--extra",
            help="A JSONL file of staff examples ({text, kind, level, category}) to add.",
        ),
    ) -> None:
        """Retrain from the labelled set (plus staff examples) and print held-out accuracy."""
        from bot.cli import fail, settings_of
        from routing.classify import load_examples, train, training_examples
        from routing.classify.data import DatasetError
        from routing.classify.evaluation import evaluate
        from routing.classify.model import (
            DEFAULT_MODEL_PATH,
            EMBEDDING_CACHE_PATH,
            shipped_embedder,
        )

        examples = training_examples()
        embedder = shipped_embedder()
        try:
            extras = load_examples(extra) if extra is not None else []
        except (OSError, DatasetError) as exc:
            raise fail(f"cannot read staff examples: {exc}") from exc
        settings = settings_of(ctx)
        settings.ensure_data_dir()
        relevels = _relevel_examples(settings) if from_db else []
        model = train(examples, extra_examples=[*extras, *relevels], embed=embedder)
        path = out or settings.data_dir / "classifier.npz"
        model.save(path)
        if path.resolve() == DEFAULT_MODEL_PATH.resolve():  # the shipped artefacts move together
            embedder.save(EMBEDDING_CACHE_PATH, [e.text for e in examples])
        typer.echo(f"{len(relevels)} staff re-level(s) from the database, {len(extras)} from files")
        report = evaluate(model, [e for e in examples if e.split == "test"])
        typer.echo(f"trained on {model.n_train} messages, saved to {path}")
        typer.echo(
            f"held-out: {report.n} messages, level accuracy {report.accuracy:.1%}, "
            f"Level 3 recall {report.recall[3]:.1%}, kind accuracy {report.kind_accuracy:.1%}, "
            f"category accuracy {report.category_accuracy:.1%}"
        )


def _relevel_examples(settings: Settings) -> list[tuple[str, str, int, str]]:
    """Every staff re-level kept as a labelled example (routing.tickets.do_relevel)."""
    from bot.cli import database
    from routing.tickets import relevel_examples

    with database(settings, write=False) as session:
        return list(relevel_examples(session))
