"""Settings precedence: defaults ← sync-engine.toml (+ [env.NAME]) ← environment ← flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync_engine.config import load_settings
from sync_engine.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.root == tmp_path.resolve()
    assert settings.resolved_state_dir == tmp_path.resolve() / ".sync-engine"
    assert settings.database_url is None
    assert settings.db_idle_stop_seconds == 600


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "sync-engine.toml").write_text(
        'database_url = "postgresql://file/db"\napi_port = 9000\nsimilarity_threshold = 0.7\n'
        "[env.staging]\napi_port = 9100\n",
        encoding="utf-8",
    )
    assert load_settings(tmp_path, environ={}).api_port == 9000
    staging = load_settings(tmp_path, environ={"SYNC_ENGINE_ENV": "staging"})
    assert staging.api_port == 9100
    assert staging.environment == "staging"
    from_env = load_settings(
        tmp_path, environ={"SYNC_ENGINE_ENV": "staging", "SYNC_ENGINE_API_PORT": "9200"}
    )
    assert from_env.api_port == 9200
    flagged = load_settings(
        tmp_path,
        flags={"api_port": 9300, "database_url": None},
        environ={"SYNC_ENGINE_API_PORT": "9200"},
    )
    assert flagged.api_port == 9300
    assert flagged.database_url == "postgresql://file/db"
    assert flagged.similarity_threshold == 0.7


def test_rules_dir_of_the_root_is_applied_after_the_shipped_rules(tmp_path: Path) -> None:
    (tmp_path / "my-rules").mkdir()
    (tmp_path / "my-rules" / "statuses.yaml").write_text(
        'statuses:\n  "R": review\n', encoding="utf-8"
    )
    (tmp_path / "sync-engine.toml").write_text('rules_dir = "my-rules"\n', encoding="utf-8")
    table = load_settings(tmp_path, environ={}).status_table()
    assert table.status_of("R") == "review"
    assert table.status_of("/") == "in_progress"


def test_bad_values_say_where(tmp_path: Path) -> None:
    (tmp_path / "sync-engine.toml").write_text("api_port = 'many'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sync-engine.toml: bad value for api_port"):
        load_settings(tmp_path, environ={})
    (tmp_path / "sync-engine.toml").write_text("colour = 'blue'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(tmp_path, environ={})
    (tmp_path / "sync-engine.toml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="environment: bad value for mass_delete_ratio"):
        load_settings(tmp_path, environ={"SYNC_ENGINE_MASS_DELETE_RATIO": "half"})


def test_git_commits_are_off_by_default_with_the_engine_as_author(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.git_commit_write_backs is False
    assert settings.git_identity() == ("sync-engine", "sync-engine@localhost")


@pytest.mark.parametrize(
    ("value", "identity"),
    [
        ("Plan Bot <plan-bot@example.org>", ("Plan Bot", "plan-bot@example.org")),
        ("  Équipe Plans   <plans@exemple.fr>  ", ("Équipe Plans", "plans@exemple.fr")),
        ("ci<ci@localhost>", ("ci", "ci@localhost")),
    ],
)
def test_git_author_is_name_and_email(
    tmp_path: Path, value: str, identity: tuple[str, str]
) -> None:
    (tmp_path / "sync-engine.toml").write_text(
        f"git_commit_write_backs = true\ngit_author = {json.dumps(value)}\n", encoding="utf-8"
    )
    settings = load_settings(tmp_path, environ={})
    assert settings.git_commit_write_backs is True
    assert settings.git_identity() == identity


@pytest.mark.parametrize(
    "value",
    [
        "plan-bot@example.org",  # no name, no brackets
        "<plan-bot@example.org>",  # no name
        "Plan Bot",  # no email
        "Plan Bot <>",  # empty email
        "Plan Bot <plan bot@example.org>",  # a space in the email
        "Plan <Bot> <bot@example.org>",  # brackets in the name
        "Plan Bot <bot@example.org> trailing",
        "Plan\nBot <bot@example.org>",
    ],
)
def test_a_malformed_git_author_is_refused_naming_the_setting(tmp_path: Path, value: str) -> None:
    with pytest.raises(
        ConfigError, match=r"^environment: bad value for git_author: .*'Name <email>'"
    ):
        load_settings(tmp_path, environ={"SYNC_ENGINE_GIT_AUTHOR": value})
    # A TOML basic string: the escapes of a JSON string are its own.
    (tmp_path / "sync-engine.toml").write_text(f"git_author = {json.dumps(value)}\n", "utf-8")
    with pytest.raises(ConfigError, match=r"sync-engine.toml: bad value for git_author"):
        load_settings(tmp_path, environ={})


def test_git_commit_flag_and_environment(tmp_path: Path) -> None:
    environ = {"SYNC_ENGINE_GIT_COMMIT_WRITE_BACKS": "yes"}
    assert load_settings(tmp_path, environ=environ).git_commit_write_backs is True
    flagged = load_settings(tmp_path, flags={"git_commit_write_backs": False}, environ=environ)
    assert flagged.git_commit_write_backs is False
    with pytest.raises(ConfigError, match="environment: bad value for git_commit_write_backs"):
        load_settings(tmp_path, environ={"SYNC_ENGINE_GIT_COMMIT_WRITE_BACKS": "sometimes"})
