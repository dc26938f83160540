"""Conflict strategies: the built-ins and the entry-point registry of plug-ins.

A strategy looks at one :class:`Conflict` and settles it (a :class:`Resolution`) or leaves it
for a person (``None``). Plug-ins are classes registered under the entry-point group
:data:`ENTRY_POINT_GROUP`, instantiated with no arguments; the entry point's name is the name
that ``rules/conflicts.yaml`` uses and must equal the instance's ``name``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

from sync_engine.conflicts.model import Conflict, Resolution
from sync_engine.conflicts.text_merge import merge_words
from sync_engine.errors import ConfigError

__all__ = [
    "BUILTIN_STRATEGIES",
    "ENTRY_POINT_GROUP",
    "AutoMergeStrategy",
    "ConflictStrategy",
    "DatabaseWinsStrategy",
    "ManualStrategy",
    "MarkdownWinsStrategy",
    "builtin_strategies",
    "load_strategies",
    "merge_words",
]

ENTRY_POINT_GROUP = "sync_engine.conflict_strategies"


@runtime_checkable
class ConflictStrategy(Protocol):
    """Settles a conflict, or returns ``None`` to leave it for a person (manual)."""

    name: str

    def resolve(self, conflict: Conflict) -> Resolution | None: ...


class MarkdownWinsStrategy:
    """The file's value wins (for ``exists``: the file decides whether the task lives)."""

    name: str = "markdown-wins"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        return Resolution("markdown")


class DatabaseWinsStrategy:
    """The database's value wins (for ``exists``: the database decides)."""

    name: str = "database-wins"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        return Resolution("database")


class ManualStrategy:
    """Every conflict waits for a person."""

    name: str = "manual"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        return None


class AutoMergeStrategy:
    """A task's text edited on both sides merges word by word when the edits do not
    overlap; everything else (overlapping edits, no base, other fields) waits for a person."""

    name: str = "auto-merge"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        base, ours, theirs = conflict.base, conflict.markdown, conflict.database
        if conflict.field != "text" or not (
            isinstance(base, str) and isinstance(ours, str) and isinstance(theirs, str)
        ):
            return None
        merged = merge_words(base, ours, theirs)
        return None if merged is None else Resolution("custom", merged)


BUILTIN_STRATEGIES: tuple[type[ConflictStrategy], ...] = (
    MarkdownWinsStrategy,
    DatabaseWinsStrategy,
    ManualStrategy,
    AutoMergeStrategy,
)


def builtin_strategies() -> dict[str, ConflictStrategy]:
    """A fresh instance of each built-in strategy, by name."""
    instances = [kind() for kind in BUILTIN_STRATEGIES]
    return {strategy.name: strategy for strategy in instances}


def _is_builtin(entry: EntryPoint) -> bool:
    # An entry point of this package under a built-in name is ours, possibly from stale
    # metadata (an older install): the built-in itself is used, nothing is imported.
    return entry.value.split(":", 1)[0].startswith("sync_engine.conflicts")


def _load(entry: EntryPoint) -> ConflictStrategy:
    label = f"conflict strategy plug-in {entry.name!r} ({entry.value})"
    try:
        strategy = entry.load()()
    except Exception as error:
        raise ConfigError(f"{label} cannot be loaded: {type(error).__name__}: {error}") from error
    if not isinstance(strategy, ConflictStrategy):
        raise ConfigError(f"{label} has no 'name' and 'resolve(conflict)'")
    if strategy.name != entry.name:
        raise ConfigError(f"{label} calls itself {strategy.name!r}; the names must match")
    return strategy


def load_strategies() -> dict[str, ConflictStrategy]:
    """Every strategy: the built-ins, then the plug-ins of :data:`ENTRY_POINT_GROUP`.

    Raises:
        ConfigError: a plug-in cannot be imported or instantiated, is not a strategy, takes
            a built-in's name, or shares its name with another plug-in.
    """
    strategies = builtin_strategies()
    plugins: dict[str, EntryPoint] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        if entry.name in strategies:
            if _is_builtin(entry):
                continue
            raise ConfigError(
                f"conflict strategy plug-in {entry.name!r} ({entry.value}) takes the name "
                "of a built-in strategy"
            )
        known = plugins.setdefault(entry.name, entry)
        if known.value != entry.value:
            raise ConfigError(
                f"two conflict strategy plug-ins are named {entry.name!r}: "
                f"{known.value} and {entry.value}"
            )
    for name, entry in plugins.items():
        strategies[name] = _load(entry)
    return strategies
