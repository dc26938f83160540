"""The composition root: builds the engine's parts from the settings."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sync_engine.adapters.filesystem import LocalPlanFiles
from sync_engine.adapters.git import GitPythonWorkTree
from sync_engine.adapters.parse_cache import LocalParseCache, parser_fingerprint
from sync_engine.adapters.postgres.embedded import EmbeddedPostgres, EmbeddedPostgresError
from sync_engine.adapters.postgres.store import PostgresPlanStore
from sync_engine.config import SCHEMAS_DIR, Settings
from sync_engine.conflicts.policy import ConflictPolicy
from sync_engine.conflicts.strategies import builtin_strategies, load_strategies
from sync_engine.errors import ConfigError, StoreUnavailableError
from sync_engine.ports import GitAuthor, PlanStore
from sync_engine.services.analysis import PlanAnalyser
from sync_engine.services.sync import FilesToDatabaseSync, SyncOptions
from sync_engine.validation import PlanValidator, RuleConfigError, builtin_rules

# The parses kept between syncs, in the state folder.
PARSES_FILE_NAME = "parses.sqlite3"


def load_schema(name: str) -> dict[str, Any]:
    path = SCHEMAS_DIR / name
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot load the schema: {error}") from error
    return loaded


def build_validator(settings: Settings) -> PlanValidator:
    """The plan schema and the rule set configured by ``rules/validation.yaml`` files."""
    rules = builtin_rules()
    for document in settings.load_rule_documents("validation"):
        try:
            rules.apply_config(document)
        except RuleConfigError as error:
            raise ConfigError(f"validation rules: {error}") from error
    return PlanValidator(load_schema("plan.schema.json"), rules, settings.status_table())


def prepare_state_dir(settings: Settings) -> Path:
    """The state folder, made on first use with a ``.gitignore`` so it never shows in git."""
    state = settings.resolved_state_dir
    state.mkdir(parents=True, exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# sync-engine's own state\n*\n", encoding="utf-8")
    return state


def embedded_postgres(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(prepare_state_dir(settings), idle_seconds=settings.db_idle_stop_seconds)


def database_url(settings: Settings) -> str:
    """The configured database, or the embedded server (started if needed)."""
    if settings.database_url:
        return settings.database_url
    try:
        return embedded_postgres(settings).ensure_running()
    except EmbeddedPostgresError as error:
        raise StoreUnavailableError(str(error)) from error


def open_store(settings: Settings) -> PostgresPlanStore:
    """The PostgreSQL store, migrated, ready to use (close it when done)."""
    store = PostgresPlanStore(database_url(settings))
    store.open()
    return store


def plan_files(settings: Settings, git_tree: GitPythonWorkTree | None) -> LocalPlanFiles:
    ignore_filter = (
        git_tree.ignored if (git_tree is not None and settings.respect_gitignore) else None
    )
    return LocalPlanFiles(settings.root, settings.include, settings.exclude, ignore_filter)


def conflict_policy(settings: Settings) -> ConflictPolicy:
    """The strategies and severities of ``rules/conflicts.yaml`` (shipped, then the root's
    own on top), with the strategy plug-ins installed."""
    policy = ConflictPolicy.default()
    documents = settings.load_rule_documents("conflicts")
    if documents:
        available = builtin_strategies()
        if not _names_only(documents, available):
            available = load_strategies()  # reads every installed package's metadata
        for document in documents:
            policy = ConflictPolicy.from_mapping(document, available, defaults=policy)
    return policy


def _names_only(documents: Sequence[Mapping[str, Any]], known: Mapping[str, object]) -> bool:
    """Whether the documents name strategies of ``known`` alone (plug-ins are looked up
    only when one is named)."""
    for document in documents:
        chosen = document.get("strategies") if isinstance(document, Mapping) else None
        if chosen is None:
            continue
        if not isinstance(chosen, Mapping) or not set(chosen.values()) <= set(known):
            return False
    return True


def plan_analyser(settings: Settings) -> PlanAnalyser:
    """Parsing and validation, on every core for long lists (close it when done)."""
    table = settings.status_table()
    return PlanAnalyser(
        functools.partial(build_validator, settings),
        table,
        validator=build_validator(settings),
        cache=LocalParseCache(
            prepare_state_dir(settings) / PARSES_FILE_NAME,
            parser_fingerprint(table),
            background=True,
        ),
    )


def build_files_sync(
    settings: Settings,
    store: PlanStore,
    progress: Callable[[int, int], None] | None = None,
    analyser: PlanAnalyser | None = None,
) -> FilesToDatabaseSync:
    git_tree = GitPythonWorkTree.find(settings.root)
    analyser = analyser or plan_analyser(settings)
    return FilesToDatabaseSync(
        store,
        plan_files(settings, git_tree),
        analyser.validator,
        settings.status_table(),
        str(settings.root),
        git=git_tree,
        progress=progress,
        analyser=analyser,
        policy=conflict_policy(settings),
    )


def sync_options(
    settings: Settings, dry_run: bool, allow_mass_delete: bool, direction: str = "both"
) -> SyncOptions:
    return SyncOptions(
        dry_run=dry_run,
        allow_mass_delete=allow_mass_delete,
        direction=direction,
        similarity_threshold=settings.similarity_threshold,
        mass_delete_ratio=settings.mass_delete_ratio,
        commit_author=(
            GitAuthor(*settings.git_identity()) if settings.git_commit_write_backs else None
        ),
    )
