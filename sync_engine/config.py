"""Settings: defaults ← ``sync-engine.toml`` in the plans root (with ``[env.<name>]`` tables
applied when ``SYNC_ENGINE_ENV=<name>``) ← ``SYNC_ENGINE_*`` environment ← command-line flags.

This is the one module that reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from sync_engine.domain.status import StatusTable
from sync_engine.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHIPPED_RULES_DIR = PROJECT_DIR / "rules"
SCHEMAS_DIR = PROJECT_DIR / "schemas"
CONFIG_FILE = "sync-engine.toml"
ENV_PREFIX = "SYNC_ENGINE_"
STATE_DIR_NAME = ".sync-engine"
DEFAULT_GIT_AUTHOR = "sync-engine <sync-engine@localhost>"
# git's own rule: no angle brackets or line breaks in a name or an address.
_GIT_IDENT = re.compile(r"\s*(?P<name>[^<>\n]*?)\s*<(?P<email>[^<>\s]+)>\s*")
# libyaml's loader when PyYAML was built with it: every command reads the rule files, and the
# pure-Python loader costs a few tens of milliseconds per file.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _default_exclude() -> tuple[str, ...]:
    return (".sync-engine/**", ".git/**", "**/node_modules/**", ".venv/**")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the engine, with its default."""

    root: Path = field(default_factory=Path.cwd)
    state_dir: Path | None = None
    database_url: str | None = None
    qdrant_url: str | None = None
    embedding_model: str = "all-MiniLM-L6-v2"
    rules_dir: Path | None = None
    include: tuple[str, ...] = ("**/*.md",)
    exclude: tuple[str, ...] = field(default_factory=_default_exclude)
    respect_gitignore: bool = True
    similarity_threshold: float = 0.6
    mass_delete_ratio: float = 0.5
    db_idle_stop_seconds: int = 600
    keep_progress_in_step: bool = False
    git_commit_write_backs: bool = False
    git_author: str = DEFAULT_GIT_AUTHOR
    api_host: str = "127.0.0.1"
    api_port: int = 8765
    log_level: str = "info"
    environment: str | None = None

    @property
    def resolved_state_dir(self) -> Path:
        return self.state_dir if self.state_dir is not None else self.root / STATE_DIR_NAME

    def git_identity(self) -> tuple[str, str]:
        """``(name, email)`` of the author (and committer) of the commits of write-backs."""
        try:
            return parse_git_author(self.git_author)
        except ValueError as error:
            raise ConfigError(f"bad value for git_author: {error}") from error

    def rule_files(self) -> list[Path]:
        """The shipped rule files, then the plans root's own (which win)."""
        files = sorted(SHIPPED_RULES_DIR.glob("*.yaml"))
        if self.rules_dir is not None and self.rules_dir.is_dir():
            files += sorted(self.rules_dir.glob("*.yaml"))
        return files

    def load_rule_documents(self, name: str) -> list[Mapping[str, Any]]:
        """Every ``<name>.yaml`` document: shipped first, then the root's."""
        documents = []
        for path in self.rule_files():
            if path.stem != name:
                continue
            try:
                loaded = yaml.load(path.read_text(encoding="utf-8"), _YAML_LOADER) or {}
            except (OSError, yaml.YAMLError) as error:
                raise ConfigError(f"{path}: cannot be read as YAML: {error}") from error
            if not isinstance(loaded, Mapping):
                raise ConfigError(f"{path}: must hold a mapping")
            documents.append(loaded)
        return documents

    def status_table(self) -> StatusTable:
        states: dict[str, str] = {}
        for document in self.load_rule_documents("statuses"):
            for char, name in (document.get("statuses") or {}).items():
                if not isinstance(char, str) or len(char) != 1:
                    raise ConfigError(f"statuses: {char!r} is not a single character")
                states[char] = str(name)
        return StatusTable.from_mapping(states)


def parse_git_author(value: str) -> tuple[str, str]:
    """``(name, email)`` of ``Name <email>``, as git writes an identity.

    Raises:
        ValueError: the value is not of that form (or the name is empty).
    """
    found = _GIT_IDENT.fullmatch(value)
    if found is None or not found["name"]:
        raise ValueError(f"{value!r} is not of the form 'Name <email>'")
    return found["name"], found["email"]


# Settings whose value must also be of a given form: the check raises ValueError.
_CHECKS: dict[str, Callable[[str], object]] = {"git_author": parse_git_author}

_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = get_type_hints(Settings)


def _coerce(name: str, value: Any, origin: str) -> Any:
    coerced = _coerce_type(name, value, origin)
    check = _CHECKS.get(name)
    if check is not None and coerced is not None:
        try:
            check(coerced)
        except ValueError as error:
            raise ConfigError(f"{origin}: bad value for {name}: {error}") from error
    return coerced


def _coerce_type(name: str, value: Any, origin: str) -> Any:
    kind = _TYPES[name]
    text = str(kind)
    try:
        if "Path" in text:
            return None if value in (None, "") else Path(str(value)).expanduser()
        if "tuple" in text:
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(item) for item in value)
        if kind is bool:
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        return None if value is None else str(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{origin}: bad value for {name}: {error}") from error


def _apply(values: dict[str, Any], source: Mapping[str, Any], origin: str) -> None:
    for key, value in source.items():
        name = key.replace("-", "_")
        if name == "env" or name == "root":
            continue
        if name not in _FIELDS:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
        values[name] = _coerce(name, value, origin)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error


def load_settings(
    root: Path | str | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings for a plans root, in order of precedence (last wins)."""
    environ = os.environ if environ is None else environ
    flags = {key: value for key, value in (flags or {}).items() if value is not None}
    root_path = Path(root or flags.get("root") or environ.get(f"{ENV_PREFIX}ROOT") or Path.cwd())
    root_path = root_path.expanduser().resolve()
    values: dict[str, Any] = {"root": root_path}
    config_path = root_path / CONFIG_FILE
    environment = flags.get("environment") or environ.get(f"{ENV_PREFIX}ENV")
    if config_path.is_file():
        document = _read_toml(config_path)
        _apply(
            values, {k: v for k, v in document.items() if not isinstance(v, dict)}, str(config_path)
        )
        tables = document.get("env", {})
        if environment and isinstance(tables, dict) and isinstance(tables.get(environment), dict):
            _apply(values, tables[environment], f"{config_path} [env.{environment}]")
        if isinstance(values.get("rules_dir"), Path) and not values["rules_dir"].is_absolute():
            values["rules_dir"] = root_path / values["rules_dir"]
    env_values = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key not in (f"{ENV_PREFIX}ENV", f"{ENV_PREFIX}ROOT")
    }
    _apply(values, env_values, "environment")
    _apply(values, {k: v for k, v in flags.items() if k != "root"}, "command line")
    values["environment"] = environment
    return Settings(**values)
