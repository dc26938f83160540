"""The database side of a plan's three-way sync, read as the file will hold it.

Other programs write rows the file cannot show as written: a raw checkbox character for a
named state, spaces around a text, a text without the explicit ID the file gave the task,
a task deleted with its sub-tasks left behind. The merge compares the database side as the
file would read it back, so a change is written once and both sides end equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence

from sync_engine.conflicts.model import PlanState, TaskState
from sync_engine.domain.status import StatusTable
from sync_engine.parsing.patterns import analyse_task_text, explicit_id_marker
from sync_engine.ports.records import StoredTask

__all__ = ["database_order", "database_side"]

PhaseKey = Callable[[tuple[int | None, str] | None], str | None]


def database_side(
    tasks: Sequence[StoredTask],
    base: PlanState,
    file: PlanState,
    phase_key: PhaseKey,
    table: StatusTable,
    meta: Mapping[str, object] | None = None,
    repositioned: Collection[str] = (),
) -> PlanState:
    """The plan in the database now, as the file will hold it: statuses by name, texts
    without spaces around them and with the task's explicit ID, the sub-tasks of deleted
    tasks deleted. ``tasks`` are in document order (:func:`database_order`); ``meta`` is
    the plan's metadata in the database (``None``: the base's); ``repositioned`` the tasks
    another program gave a new position."""
    side = PlanState(
        dict(base.meta if meta is None else meta),
        {
            task.id: TaskState(
                task.id,
                _status_as_read(task.status, table),
                task.text.strip(),
                phase_key(task.phase_key),
                task.parent_id,
                position,
            )
            for position, task in enumerate(tasks)
        },
    )
    return _with_subtasks_deleted(base, file, _with_ids_kept(base, side), repositioned)


def database_order(
    tasks: Sequence[StoredTask], base: PlanState, written: Mapping[str, int] | None = None
) -> tuple[list[StoredTask], set[str]]:
    """The tasks in document order, and those of the base another program gave a new
    position (a move). At one position a task placed there (a new task, or one given that
    position) goes before the task that was there (docs/database.md); the base's positions
    are those the engine last wrote: its index in the base, or ``written`` where the engine
    gave the database another one (a task whose place waits in a conflict keeps the
    database's spot, at the position of the task that follows it there, and goes first)."""
    written = written or {}
    unmoved = {
        task.id
        for task in tasks
        if task.id in base.tasks
        and written.get(task.id, base.tasks[task.id].position) == task.position
    }
    ordered = sorted(
        tasks, key=lambda task: (task.position, task.id in unmoved, task.id not in written)
    )
    return ordered, {task.id for task in tasks if task.id in base.tasks} - unmoved


def written_order(base: PlanState, written: Mapping[str, int] | None) -> list[str] | None:
    """The base's tasks in the order the engine last gave the database, when ``written``
    (the positions it gave elsewhere than the base's) makes it differ; else ``None``."""
    if not written:
        return None
    return sorted(
        base.tasks,
        key=lambda key: (written.get(key, base.tasks[key].position), key not in written),
    )


def _status_as_read(status: str, table: StatusTable) -> str:
    """A raw checkbox character of a named state is that state (``x`` is ``done``)."""
    return table.status_of(status) if len(status) == 1 else status


def _with_ids_kept(base: PlanState, database: PlanState) -> PlanState:
    """The database side with each new text that names no explicit ID given the one the
    task had (``🆔 x``, ``^x``, …): that ID is the task's identity in the file, which the
    user put there, not part of what the task says."""
    kept = dict(database.tasks)
    for task_id, task in database.tasks.items():
        past = base.tasks.get(task_id)
        if past is None or past.text == task.text or not task.text:
            continue
        marker = explicit_id_marker(past.text)
        if marker is not None and analyse_task_text(task.text).explicit_id is None:
            kept[task_id] = dataclasses.replace(task, text=f"{task.text} {marker}")
    return database if kept == database.tasks else PlanState(database.meta, kept)


def _with_subtasks_deleted(
    base: PlanState, file: PlanState, database: PlanState, repositioned: Collection[str]
) -> PlanState:
    """The database side with the sub-tasks of every task it deleted deleted too.

    Deleting a task in the database removes its lines and its sub-tasks' from the file
    (docs/database.md), whatever became of the sub-task rows: a ``DELETE`` leaves them with
    no parent, a tombstone with a deleted one. Sub-tasks are those of the base, and rows the
    database added under a deleted task. A sub-task whose status, text or place the
    database changed is an edit and stays, and so do the sub-tasks of a deletion the file
    contests (it edited the task): a deletion never silently beats an edit. A parent's
    deletion may leave a sub-task top-level where it was in the order (ON DELETE SET NULL):
    that is no move of its own.
    """
    deleted = {
        task_id
        for task_id, past in base.tasks.items()
        if task_id not in database.tasks
        and (task_id not in file.tasks or _same_fields(past, file.tasks[task_id]))
    }
    if not deleted:
        return database
    gone = set(deleted)
    for task_id, task in base.tasks.items():  # document order: parents first
        if task.parent_id in gone:
            gone.add(task_id)
    kept = {}
    for task_id, task in database.tasks.items():
        past = base.tasks.get(task_id)
        if past is None:
            dropped = task.parent_id in gone
        else:
            dropped = (
                task_id in gone
                and (past.status, past.text) == (task.status, task.text)
                and (
                    task.place == past.place
                    or (task.place == (past.phase, None) and task_id not in repositioned)
                )
            )
        if not dropped:
            kept[task_id] = task
    if len(kept) == len(database.tasks):
        return database
    return PlanState(database.meta, kept)


def _same_fields(past: TaskState, now: TaskState) -> bool:
    return (past.status, past.text, past.place) == (now.status, now.text, now.place)
