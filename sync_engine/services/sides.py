"""The sides of a plan's three-way sync as the merge should see them.

The database's tasks lose the sub-tasks of tasks deleted there (the rows stay behind), and
the conflicts a person settled are applied to the three sides before the merge, so that it
carries the settled values to both targets without overwriting a newer edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync_engine.conflicts.model import (
    EXISTS,
    PlanState,
    TaskState,
    task_value,
    with_task_value,
)
from sync_engine.ports.records import StoredConflict

__all__ = ["from_plain", "settled_sides"]


def from_plain(field_name: str, value: Any) -> object:
    """A conflict value read back from JSON: a place as a pair, a task as a ``TaskState``."""
    if field_name == "place" and isinstance(value, list):
        return (value[0], value[1])
    if field_name == EXISTS and isinstance(value, dict):
        return TaskState(**value)
    return value


def settled_sides(
    base: PlanState, file: PlanState, database: PlanState, settled: Sequence[StoredConflict]
) -> tuple[PlanState, PlanState, PlanState]:
    """The three sides with the values of conflicts a person settled, so the merge carries
    them to both targets. A side that still holds the value the person saw takes the
    settled value; a side edited since keeps that newer edit, which then merges three ways
    against the settled value with the value the person saw on that side as its base (a
    change, not a revert: it is never lost, and may wait for a person again)."""
    if not settled:
        return base, file, database
    states = (base, file, database)
    tasks = [dict(state.tasks) for state in states]
    metas = [dict(state.meta) for state in states]
    for conflict in settled:
        resolution = conflict.resolution or {}
        take = str(resolution.get("take"))
        sides = {"markdown": conflict.markdown, "database": conflict.database}
        raw = sides[take] if take in sides else resolution.get("value")
        name = conflict.field or ""
        value = from_plain(name, raw)
        seen = (value, from_plain(name, conflict.markdown), from_plain(name, conflict.database))
        if conflict.task_id is None:
            edited = [metas[i].get(name) != seen[i] for i in (1, 2)]
            metas[0][name] = _settled_base(seen, edited)
            for index in (1, 2):
                if not edited[index - 1]:
                    metas[index][name] = value
            continue
        task_id = conflict.task_id
        if name == EXISTS:
            for side in tasks[1:]:
                if value is None:
                    side.pop(task_id, None)
                elif isinstance(value, TaskState):
                    side[task_id] = side.get(task_id) or value
            continue
        now = [side.get(task_id) for side in tasks]
        edited = [now[i] is not None and task_value(now[i], name) != seen[i] for i in (1, 2)]
        past = now[0]
        if past is not None:
            tasks[0][task_id] = with_task_value(past, name, _settled_base(seen, edited))
        for index in (1, 2):
            task = now[index]
            if task is not None and not edited[index - 1]:
                tasks[index][task_id] = with_task_value(task, name, value)
    forced = [PlanState(meta, side) for meta, side in zip(metas, tasks, strict=True)]
    return forced[0], forced[1], forced[2]


def _settled_base(seen: Sequence[object], edited: Sequence[bool]) -> object:
    """The base of a settled field: the value the person saw on the side edited since the
    settling (the file's first), else the settled value (``seen[0]``)."""
    if edited[0]:
        return seen[1]
    if edited[1]:
        return seen[2]
    return seen[0]
