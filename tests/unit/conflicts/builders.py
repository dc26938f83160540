"""Small builders of plan states and policies for the conflict tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sync_engine.conflicts import (
    META_FIELDS,
    ConflictPolicy,
    ConflictType,
    PlanState,
    TaskState,
)
from sync_engine.conflicts.strategies import builtin_strategies

STRATEGY_NAMES = ("markdown-wins", "database-wins", "auto-merge", "manual")

PLAN_META: Mapping[str, object] = {
    "title": "Plan de migration",
    "version": "1.0",
    "date": "2025-06-13",
    "declared_progress": 50.0,
}


def task(
    task_id: str,
    *,
    status: str = "todo",
    text: str = "Tâche",
    phase: str | None = "p1",
    parent: str | None = None,
    position: int = 0,
) -> TaskState:
    return TaskState(task_id, status, text, phase, parent, position)


def plan(*tasks: TaskState, meta: Mapping[str, object] | None = None) -> PlanState:
    """A plan whose tasks are in the order given, positions 0, 1, 2, …"""
    numbered = [replace(each, position=index) for index, each in enumerate(tasks)]
    return PlanState(dict(PLAN_META if meta is None else meta), {t.id: t for t in numbered})


def policy(strategy: str) -> ConflictPolicy:
    """A policy that hands every type of conflict to one built-in strategy."""
    chosen = builtin_strategies()[strategy]
    default = ConflictPolicy.default()
    return ConflictPolicy(dict.fromkeys(ConflictType, chosen), default.severities)


def order(state: PlanState) -> list[str]:
    return list(state.tasks)


def fields(state: PlanState) -> dict[str, tuple[str, str, str | None, str | None]]:
    """Each task's compared fields, without its position."""
    return {key: (t.status, t.text, t.phase, t.parent_id) for key, t in state.tasks.items()}


def full_meta(**values: object) -> dict[str, object]:
    meta: dict[str, object] = dict.fromkeys(META_FIELDS)
    meta.update(values)
    return meta
