"""The body of ``PostgresPlanStore.apply_plan_change``: one plan's sync written in one
transaction with a handful of statements, whatever the number of tasks.

Phases and sections keep their ids by position, so unchanged tasks keep their ``phase_id``
and ``section_id``, resolved here from the positions the phases were just written at. New
tasks arrive by COPY; changed and moved tasks by one ``UPDATE … FROM jsonb_to_recordset(…)``
each, which rewrites only rows that really differ.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sync_engine.adapters.postgres.queries import queries
from sync_engine.domain.ids import random_ids
from sync_engine.errors import NotFoundError, PlanChangedDuringSyncError, StoreError
from sync_engine.ports.records import PhaseRow, PlanChange, SectionRow, TaskRow

__all__ = ["apply_plan_change", "apply_plan_changes", "json_text", "jsonb"]

Connection = psycopg.Connection[Any]

# Front matter and task fields may hold dates or other YAML scalars: store them as text.
json_text = json.JSONEncoder(ensure_ascii=False, default=str).encode


def jsonb(value: object) -> Jsonb:
    return Jsonb(value, dumps=json_text)


def apply_plan_change(
    connection: Connection, root_id: str, change: PlanChange, *, asynchronous_commit: bool
) -> str:
    """Write ``change`` in one transaction on ``connection`` (idle); return the plan id.

    Statements that do not wait for each other's results go out pipelined: a plan costs
    a few round trips to the server whatever its size. ``asynchronous_commit`` lets the
    commit return before its WAL reaches the disk (see ``set_asynchronous_commit``).

    Raises:
        NotFoundError: ``change.plan_id`` names no plan of the root.
    """
    with connection.transaction():
        return _apply(connection, root_id, change, asynchronous_commit)


def apply_plan_changes(
    connection: Connection,
    root_id: str,
    changes: Sequence[PlanChange],
    *,
    asynchronous_commit: bool,
) -> list[str | None]:
    """Write several plan changes in one transaction on ``connection`` (idle); return their
    plan ids in order.

    Plans that are new in every way (no row at their path, every task new) are written with
    one COPY per table for the whole batch, ids made here; the others one by one as
    ``apply_plan_change`` does. A plan edited in the database while it was being synced is
    left out (``None`` in its place): it keeps its base and is merged at the next sync.
    """
    sql = queries()
    with connection.transaction():
        connection.execute(sql["set_engine_origin"])
        if asynchronous_commit:
            connection.execute(sql["set_asynchronous_commit"])
        fresh = _fresh(connection, root_id, changes)
        ids = _copy_new_plans(connection, root_id, [changes[i] for i in fresh])
        plan_ids: dict[int, str | None] = dict(zip(fresh, ids, strict=True))
        for index, change in enumerate(changes):
            if index in plan_ids:
                continue
            try:
                with connection.transaction():  # a savepoint: this plan alone rolls back
                    plan_ids[index] = _apply(connection, root_id, change, asynchronous_commit)
            except PlanChangedDuringSyncError:
                plan_ids[index] = None
    return [plan_ids[index] for index in range(len(changes))]


def _fresh(connection: Connection, root_id: str, changes: Sequence[PlanChange]) -> list[int]:
    """Indexes of the changes that create a plan at a path with no row at all."""
    candidates = [
        index
        for index, change in enumerate(changes)
        if change.plan_id is None
        and not change.deleted
        and len(change.created) == len(change.tasks)
    ]
    if not candidates:
        return []
    paths = [changes[index].plan.path for index in candidates]
    found = connection.execute(
        queries()["paths_with_plans"], {"root_id": root_id, "paths": paths}
    ).fetchall()
    taken = {path for (path,) in found}
    seen: set[str] = set()
    fresh = []
    for index in candidates:
        path = changes[index].plan.path
        if path not in taken and path not in seen:
            seen.add(path)
            fresh.append(index)
    return fresh


def _copy_new_plans(
    connection: Connection, root_id: str, changes: Sequence[PlanChange]
) -> list[str]:
    if not changes:
        return []
    sql = queries()
    count = len(changes) + sum(len(c.phases) + len(c.sections) for c in changes)
    fresh = random_ids(count)
    plan_ids = [next(fresh) for _ in changes]
    phase_ids = [{phase.position: next(fresh) for phase in c.phases} for c in changes]
    section_ids = [{part.position: next(fresh) for part in c.sections} for c in changes]
    # A cold sync's rows reference only rows made here (checked next, as the foreign keys
    # would): their checks by the server, half of its work, can be skipped.
    for change in changes:
        _check_parents(change)
    skip_triggers = bool(_one_value(connection, sql["triggers_skippable"]))
    if skip_triggers:
        connection.execute(sql["skip_triggers"])
    cursor = connection.cursor()
    with cursor.copy(sql["copy_plans"]) as copy:
        for plan_id, change in zip(plan_ids, changes, strict=True):
            copy.write_row(_plan_copy_row(plan_id, root_id, change))
    with cursor.copy(sql["copy_phases"]) as copy:
        for plan_id, ids, change in zip(plan_ids, phase_ids, changes, strict=True):
            for phase in change.phases:
                copy.write_row((ids[phase.position], plan_id, *_values(phase, _PHASES)))
    with cursor.copy(sql["copy_sections"]) as copy:
        for plan_id, ids, change in zip(plan_ids, section_ids, changes, strict=True):
            for part in change.sections:
                copy.write_row((ids[part.position], plan_id, *_values(part, _SECTIONS)))
    with cursor.copy(sql["copy_tasks"]) as copy:
        for plan_id, phases, sections, change in zip(
            plan_ids, phase_ids, section_ids, changes, strict=True
        ):
            # COPY's text format written directly: a row per task, with no per-value
            # adaptation (most of the cost of ``write_row`` for ~100k small rows).
            copy.write(
                "".join(_copy_line(task, plan_id, phases, sections) for task in change.tasks)
            )
    with cursor.copy(sql["copy_plan_base"]) as copy:
        for plan_id, change in zip(plan_ids, changes, strict=True):
            model = json_text(dict(change.base_model))
            copy.write_row((plan_id, change.base_content, model, change.plan.content_hash))
    if skip_triggers:
        connection.execute(sql["fire_triggers"])
    return plan_ids


def _check_parents(change: PlanChange) -> None:
    """Every parent of a new plan's task is a task of that plan."""
    ids = {task.id for task in change.tasks}
    for task in change.tasks:
        if task.parent_id is not None and task.parent_id not in ids:
            raise StoreError(
                f"{change.plan.path}: task {task.id} has a parent ({task.parent_id}) "
                "that is not a task of the plan"
            )


def _one_value(connection: Connection, query: str) -> object:
    row = connection.execute(query).fetchone()
    return row[0] if row is not None else None


def _plan_copy_row(plan_id: str, root_id: str, change: PlanChange) -> tuple[object, ...]:
    plan = change.plan
    # The column order of the copy_plans query.
    return (
        plan_id,
        root_id,
        plan.path,
        plan.title,
        plan.version,
        plan.date,
        plan.declared_progress,
        plan.computed_progress,
        json_text(dict(plan.front_matter)),
        json_text(dict(plan.metadata)),
        plan.content_hash,
        plan.git_blob,
        plan.size,
        plan.mtime_ns,
        plan.inode,
        len(change.tasks),
        plan.score,
        json_text(plan.findings),
    )


def _values(row: object, names: Iterable[str]) -> tuple[object, ...]:
    """The row's fields, in the order of the dataclass (that of the COPY column lists)."""
    return tuple(getattr(row, name) for name in names)


def _apply(
    connection: Connection, root_id: str, change: PlanChange, asynchronous_commit: bool
) -> str:
    sql = queries()
    live = {task.id for task in change.tasks}
    created = set(change.created) & live
    with connection.pipeline():
        connection.execute(sql["set_engine_origin"])
        if asynchronous_commit:
            connection.execute(sql["set_asynchronous_commit"])
        plan_id = _write_plan(connection, root_id, change)
        phases = _replace_parts(connection, "replace_phases", plan_id, change.phases, _PHASES)
        sections = _replace_parts(
            connection, "replace_sections", plan_id, change.sections, _SECTIONS
        )
        # A "new" id already stored (a tombstone, or a task of another plan) is rewritten.
        dead = {task.id for task in change.tombstones}
        found = connection.execute(sql["existing_task_ids"], {"ids": _uuid_array(created | dead)})
        existing = {str(task_id) for (task_id,) in found.fetchall()}
        phase_ids = _ids_by_position(phases)
        section_ids = _ids_by_position(sections)

    inserted = created - existing
    new_tasks = [task for task in change.tasks if task.id in inserted]
    # Tasks gone from the database that an open conflict names come back as tombstones.
    new_tasks += [task for task in change.tombstones if task.id not in existing]
    if new_tasks:  # COPY cannot run in a pipeline
        with connection.cursor().copy(sql["copy_tasks"]) as copy:
            copy.write(
                "".join(_copy_line(task, plan_id, phase_ids, section_ids) for task in new_tasks)
            )

    rewritten = (set(change.updated) & live) | (created & existing)
    with connection.pipeline():
        tombstoned = [task_id for task_id in change.deleted if task_id not in live]
        tombstoned += [task.id for task in change.tombstones if task.id not in existing]
        if tombstoned:
            connection.execute(sql["tombstone_tasks"], {"plan_id": plan_id, "ids": tombstoned})
        changed = [task for task in change.tasks if task.id in rewritten]
        if changed:
            rows = _task_records(changed, phase_ids, section_ids, _REWRITTEN)
            connection.execute(sql["update_tasks"], {"plan_id": plan_id, "rows": rows})
        written = created | rewritten
        placed = [task for task in change.tasks if task.id not in written]
        if placed:
            rows = _task_records(placed, phase_ids, section_ids, _PLACED)
            connection.execute(sql["move_tasks"], {"plan_id": plan_id, "rows": rows})
        base = {
            "plan_id": plan_id,
            "content": change.base_content,
            "model": jsonb(dict(change.base_model)),
            "content_hash": change.plan.content_hash,
        }
        connection.execute(sql["upsert_plan_base"], base)
        if change.plan_id is not None:  # a new plan has no intent recorded
            # The intent recorded before the file was written is fulfilled with this commit.
            connection.execute(sql["drop_pending_write"], {"plan_id": plan_id})
        _write_conflicts(connection, plan_id, change)
        newer = None
        if change.plan_id is not None:
            params = {"plan_id": plan_id, "up_to": change.consumed_up_to or 0}
            newer = connection.execute(sql["newer_changes"], params)
    if newer is not None:
        _refuse_newer_changes(newer.fetchone(), change)
    return plan_id


def _refuse_newer_changes(row: tuple[object, ...] | None, change: PlanChange) -> None:
    """Refuse a plan's sync when the database was edited while it was being synced
    (``row``: the answer of ``newer_changes``).

    Checked last, once this transaction holds its row locks: an edit committed before them
    is in the change log now (and this transaction may have overwritten its row), one
    committed after them waits for this transaction and lands on top. Rolled back, the plan
    keeps its base and its change-log entries, and is merged with the edit instead.

    Raises:
        PlanChangedDuringSyncError: such an edit is there.
    """
    if row is not None and row[0]:
        raise PlanChangedDuringSyncError(
            f"{change.plan.path}: edited in the database while it was being synced"
        )


def _write_conflicts(connection: Connection, plan_id: str, change: PlanChange) -> None:
    """The three-way part of a plan change: consumed change-log entries and conflicts."""
    sql = queries()
    if change.consumed_up_to is not None:
        params = {"plan_id": plan_id, "up_to": change.consumed_up_to}
        connection.execute(sql["consume_change_log"], params)
    for conflict in change.conflicts:
        connection.execute(
            sql["insert_conflict"],
            {
                "plan_id": plan_id,
                "task_id": conflict.task_id,
                "type": conflict.type,
                "severity": conflict.severity,
                "status": conflict.status,
                "field": conflict.field,
                "base": jsonb(conflict.base),
                "markdown": jsonb(conflict.markdown),
                "database": jsonb(conflict.database),
                "resolved_by": conflict.resolved_by,
                "resolution": jsonb(conflict.resolution) if conflict.resolution else None,
            },
        )
    for conflict_id, base, markdown, database in change.refreshed:
        connection.execute(
            sql["refresh_conflict"],
            {
                "id": conflict_id,
                "base": jsonb(base),
                "markdown": jsonb(markdown),
                "database": jsonb(database),
            },
        )
    if change.applied:
        connection.execute(sql["apply_conflicts"], {"ids": list(change.applied)})


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
    columns: Iterable[str],
) -> psycopg.Cursor[Any]:
    """Upsert phases or sections by position; the cursor yields ``(id, position)``."""
    rows = json_text([_record(part, columns) for part in parts])
    return connection.execute(queries()[query], {"plan_id": plan_id, "rows": rows})


def _uuid_array(ids: Iterable[str]) -> str:
    """A ``uuid[]`` literal: UUIDs need no quoting, and adapting a long list of strings
    costs more than the query it feeds. A malformed id fails the cast."""
    return "{" + ",".join(ids) + "}"


def _ids_by_position(cursor: psycopg.Cursor[Any]) -> dict[int, str]:
    return {int(position): str(part_id) for part_id, position in cursor.fetchall()}


_PHASES = tuple(column.name for column in dataclasses.fields(PhaseRow))
_SECTIONS = tuple(column.name for column in dataclasses.fields(SectionRow))


def _record(row: object, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


_PLACED = ("id", "parent_id", "position", "line", "end_line", "label", "depth")
_REWRITTEN = (*_PLACED, "status", "char", "text", "title", "explicit_id", "fields")


def _task_records(
    tasks: Sequence[TaskRow],
    phase_ids: Mapping[int, str],
    section_ids: Mapping[int, str],
    names: Iterable[str],
) -> str:
    """The JSON rows of ``update_tasks`` or ``move_tasks``."""
    records = []
    for task in tasks:
        record = _record(task, names)
        if "fields" in record:
            record["fields"] = dict(task.fields)
        record["phase_id"] = _resolve(phase_ids, task, "phase")
        record["section_id"] = _resolve(section_ids, task, "section")
        records.append(record)
    return json_text(records)


def _resolve(ids: Mapping[int, str], task: TaskRow, part: str) -> str | None:
    """The id of the task's phase or section (``part``), from its position."""
    position = task.phase_position if part == "phase" else task.section_position
    if position is None:
        return None
    try:
        return ids[position]
    except KeyError:
        raise StoreError(
            f"task {task.id} is in {part} {position}, which the plan change does not have"
        ) from None


def _fields_json(task: TaskRow) -> str:
    return json_text(dict(task.fields)) if task.fields else "{}"


# COPY text format: backslash, tab, newline and carriage return escaped; ``\\N`` is NULL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"


def _copy_text(value: str | None) -> str:
    return _COPY_NULL if value is None else value.translate(_COPY_ESCAPES)


def _copy_line(
    task: TaskRow, plan_id: str, phase_ids: Mapping[int, str], section_ids: Mapping[int, str]
) -> str:
    """One line of the copy_tasks query's COPY text (its column order)."""
    cells = (
        task.id,
        plan_id,
        _copy_text(_resolve(phase_ids, task, "phase")),
        _copy_text(_resolve(section_ids, task, "section")),
        _copy_text(task.parent_id),
        str(task.position),
        str(task.line),
        str(task.end_line),
        _copy_text(task.status),
        _copy_text(task.char),
        _copy_text(task.text),
        _copy_text(task.title),
        _copy_text(task.label),
        _copy_text(task.explicit_id),
        str(task.depth),
        _copy_text(_fields_json(task)),
    )
    return "\t".join(cells) + "\n"
