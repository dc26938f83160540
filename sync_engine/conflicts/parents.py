"""Parent links of merged tasks: where a parent leads, and repairs of the targets.

A merged target can name a parent it does not have (deleted there) or, when two sides moved
tasks under each other, hold a parent cycle. Both are repaired the same way on both targets:
a missing parent becomes its nearest ancestor the target has (parents of missing tasks are
looked up in the target's own side, the other side, then the base), else ``None``; a cycle
is cut at its task with the smallest id, on both targets.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from sync_engine.conflicts.model import PlanState, TaskState


def place_among(
    task: TaskState | None, kept: Collection[str], lookups: Sequence[PlanState]
) -> object:
    """A task's place with its parent replaced by its nearest ancestor in ``kept``."""
    if task is None:
        return None
    return (task.phase, ancestor_in(task.parent_id, kept, lookups))


def ancestor_in(
    parent: str | None, kept: Collection[str], lookups: Sequence[PlanState]
) -> str | None:
    """``parent`` or its nearest ancestor in ``kept`` (parents looked up in order), or None."""
    seen: set[str] = set()
    while parent is not None and parent not in kept:
        if parent in seen:
            return None
        seen.add(parent)
        parent = next(
            (side.tasks[parent].parent_id for side in lookups if parent in side.tasks), None
        )
    return parent


def repair_parents(tasks: dict[str, TaskState], lookups: Sequence[PlanState]) -> None:
    """Point each parent the target lacks at its nearest ancestor the target has, or None."""
    for task_id, task in tasks.items():
        if task.parent_id is not None and task.parent_id not in tasks:
            tasks[task_id] = replace(task, parent_id=ancestor_in(task.parent_id, tasks, lookups))


def break_cycles(targets: Sequence[dict[str, TaskState]], aliases: Mapping[str, str]) -> None:
    """Cut every parent cycle of the targets; a cut made on one target is made on both, so
    they do not drift apart on that task. ``aliases``: kept id → the other id of a unified
    task, so the cut does not depend on which side's id it kept."""
    cuts: set[str] = set()
    for tasks in targets:
        cuts |= _cycle_cuts(tasks, aliases)
    for victim in sorted(cuts):
        for tasks in targets:
            if victim in tasks:
                tasks[victim] = replace(tasks[victim], parent_id=None)


def _cycle_cuts(tasks: dict[str, TaskState], aliases: Mapping[str, str]) -> set[str]:
    """The tasks whose parent link is cut (here, in ``tasks``) to break each parent cycle:
    the one with the smallest id, counting a unified task's file id too, so the cut does not
    depend on which side's id the task kept."""
    cuts: set[str] = set()
    done: set[str] = set()
    for start in list(tasks):
        path: list[str] = []
        cursor: str | None = start
        while cursor is not None and cursor in tasks and cursor not in done:
            if cursor in path:
                cycle = path[path.index(cursor) :]
                victim = min(cycle, key=lambda key: min(key, aliases.get(key, key)))
                tasks[victim] = replace(tasks[victim], parent_id=None)
                cuts.add(victim)
                break
            path.append(cursor)
            cursor = tasks[cursor].parent_id
        done.update(path)
    return cuts
