"""The body of ``PostgresPlanStore.apply_plan_change``: one plan's sync written in the
caller's transaction with a handful of statements, whatever the number of tasks.

Phases and sections keep their ids by position, so unchanged tasks keep their ``phase_id``
and ``section_id``, resolved here from the positions the phases were just written at. New
tasks arrive by COPY; changed and moved tasks by one ``UPDATE … FROM unnest(…)`` each,
which rewrites only rows that really differ.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sync_engine.adapters.postgres.queries import queries
from sync_engine.errors import NotFoundError
from sync_engine.ports.records import PhaseRow, PlanChange, SectionRow, TaskRow

__all__ = ["apply_plan_change", "json_text", "jsonb"]

Connection = psycopg.Connection[Any]

# Front matter and task fields may hold dates or other YAML scalars: store them as text.
json_text = functools.partial(json.dumps, ensure_ascii=False, default=str)


def jsonb(value: object) -> Jsonb:
    return Jsonb(value, dumps=json_text)


def apply_plan_change(connection: Connection, root_id: str, change: PlanChange) -> str:
    """Write ``change`` in the open transaction of ``connection``; return the plan id.

    Statements that do not wait for each other's results go out pipelined: a plan costs
    a few round trips to the server whatever its size.

    Raises:
        NotFoundError: ``change.plan_id`` names no plan of the root.
    """
    sql = queries()
    live = {task.id for task in change.tasks}
    created = set(change.created) & live
    with connection.pipeline():
        plan_id = _write_plan(connection, root_id, change)
        phases = _replace_parts(connection, "replace_phases", plan_id, change.phases)
        sections = _replace_parts(connection, "replace_sections", plan_id, change.sections)
        # A "new" id already stored (a tombstone, or a task of another plan) is rewritten.
        found = connection.execute(sql["existing_task_ids"], {"ids": list(created)})
        existing = {str(task_id) for (task_id,) in found.fetchall()}
        phase_ids = _ids_by_position(phases)
        section_ids = _ids_by_position(sections)

    inserted = created - existing
    new_tasks = [task for task in change.tasks if task.id in inserted]
    if new_tasks:  # COPY cannot run in a pipeline
        with connection.cursor().copy(sql["copy_tasks"]) as copy:
            for task in new_tasks:
                copy.write_row(_copy_row(task, plan_id, phase_ids, section_ids))

    rewritten = (set(change.updated) & live) | (created & existing)
    with connection.pipeline():
        tombstoned = [task_id for task_id in change.deleted if task_id not in live]
        if tombstoned:
            connection.execute(sql["tombstone_tasks"], {"plan_id": plan_id, "ids": tombstoned})
        changed = [task for task in change.tasks if task.id in rewritten]
        if changed:
            params = _task_columns(changed, phase_ids, section_ids, _REWRITTEN)
            params["fields"] = [json_text(dict(task.fields)) for task in changed]
            connection.execute(sql["update_tasks"], {"plan_id": plan_id, **params})
        written = created | rewritten
        placed = [task for task in change.tasks if task.id not in written]
        if placed:
            params = _task_columns(placed, phase_ids, section_ids, _PLACED)
            connection.execute(sql["move_tasks"], {"plan_id": plan_id, **params})
        base = {
            "plan_id": plan_id,
            "content": change.base_content,
            "model": jsonb(dict(change.base_model)),
            "content_hash": change.plan.content_hash,
        }
        connection.execute(sql["upsert_plan_base"], base)
    return plan_id


def _write_plan(connection: Connection, root_id: str, change: PlanChange) -> str:
    plan = change.plan
    params: dict[str, Any] = {
        "root_id": root_id,
        "plan_id": change.plan_id,
        "path": plan.path,
        "title": plan.title,
        "version": plan.version,
        "date": plan.date,
        "declared_progress": plan.declared_progress,
        "computed_progress": plan.computed_progress,
        "front_matter": jsonb(dict(plan.front_matter)),
        "metadata": jsonb(dict(plan.metadata)),
        "content_hash": plan.content_hash,
        "git_blob": plan.git_blob,
        "size": plan.size,
        "mtime_ns": plan.mtime_ns,
        "inode": plan.inode,
        "task_count": len(change.tasks),
        "score": plan.score,
        "findings": jsonb(plan.findings),
    }
    row = connection.execute(queries()["write_plan"], params).fetchone()
    if row is None:
        raise NotFoundError(f"plan {change.plan_id} is not a plan of root {root_id}")
    return str(row[0])


def _replace_parts(
    connection: Connection,
    query: str,
    plan_id: str,
    parts: Sequence[PhaseRow] | Sequence[SectionRow],
) -> psycopg.Cursor[Any]:
    """Upsert phases or sections by position; the cursor yields ``(id, position)``."""
    columns = _PHASE_COLUMNS if query == "replace_phases" else _SECTION_COLUMNS
    params: dict[str, Any] = {"plan_id": plan_id, **_columns(parts, columns)}
    return connection.execute(queries()[query], params)


def _ids_by_position(cursor: psycopg.Cursor[Any]) -> dict[int, str]:
    return {int(position): str(part_id) for part_id, position in cursor.fetchall()}


_PHASE_COLUMNS = tuple(column.name for column in dataclasses.fields(PhaseRow))
_SECTION_COLUMNS = tuple(column.name for column in dataclasses.fields(SectionRow))


def _columns(rows: Iterable[object], names: Iterable[str]) -> dict[str, list[Any]]:
    """Column-wise lists of ``rows``' attributes, for ``unnest``."""
    rows = list(rows)
    return {name: [getattr(row, name) for row in rows] for name in names}


_PLACED = ("id", "parent_id", "position", "line", "end_line", "label", "depth")
_REWRITTEN = (*_PLACED, "status", "char", "text", "title", "explicit_id")


def _task_columns(
    tasks: Sequence[TaskRow],
    phase_ids: Mapping[int, str],
    section_ids: Mapping[int, str],
    names: Iterable[str],
) -> dict[str, list[Any]]:
    params = _columns(tasks, names)
    params["phase_id"] = [_resolve(phase_ids, task.phase_position) for task in tasks]
    params["section_id"] = [_resolve(section_ids, task.section_position) for task in tasks]
    return params


def _resolve(ids: Mapping[int, str], position: int | None) -> str | None:
    return ids.get(position) if position is not None else None


def _copy_row(
    task: TaskRow, plan_id: str, phase_ids: Mapping[int, str], section_ids: Mapping[int, str]
) -> tuple[object, ...]:
    # The column order of the copy_tasks query.
    return (
        task.id,
        plan_id,
        _resolve(phase_ids, task.phase_position),
        _resolve(section_ids, task.section_position),
        task.parent_id,
        task.position,
        task.line,
        task.end_line,
        task.status,
        task.char,
        task.text,
        task.title,
        task.label,
        task.explicit_id,
        task.depth,
        json_text(dict(task.fields)),
    )
