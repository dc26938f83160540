"""The three-way sync of one plan: base, file now, database now (DESIGN.md, "Identity and
the three-way sync").

Order of one plan's sync: read the file and the database, merge, write the file (temp file,
fsync, re-check that the file is still the one read, atomic rename), then in one database
transaction apply the database changes, mark the consumed change-log entries, record the
conflicts and store the new base. A crash between the two leaves a file and a database that
the next sync sees as "both changed to the same value".
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_engine.conflicts.merge import HeldField, MergeResult, merge_plan
from sync_engine.conflicts.model import (
    EXISTS,
    Conflict,
    PlanState,
    Resolution,
    TaskState,
    with_task_value,
)
from sync_engine.conflicts.policy import ConflictPolicy
from sync_engine.domain.model import Plan
from sync_engine.domain.status import StatusTable
from sync_engine.parsing.parser import parse_plan
from sync_engine.parsing.patterns import analyse_task_text
from sync_engine.ports.records import (
    ConflictWrite,
    PhaseRow,
    PlanChange,
    PlanSyncState,
    StoredConflict,
    StoredTask,
    TaskRow,
)
from sync_engine.rendering.document import RenderError
from sync_engine.rendering.edits import DeleteTask, Edit, InsertTask, SetStatus, SetText
from sync_engine.rendering.renderer import apply_edits
from sync_engine.services.analysis import Analysis
from sync_engine.services.database_side import database_order, database_side
from sync_engine.services.file_moves import move_edits
from sync_engine.services.matching import match_tasks
from sync_engine.services.plan_metadata import (
    base_meta,
    database_meta,
    file_meta,
    metadata_edits,
    with_database_metadata,
)
from sync_engine.services.snapshot import content_changed, task_rows

__all__ = [
    "MergePlan",
    "TwoWayPlanMerge",
    "base_tasks",
    "plain",
    "three_way_change",
    "written_tasks",
]


@dataclass(slots=True)
class MergePlan:
    """What the three-way sync of one plan decided: the new file bytes (``None``: the file
    stays as it is), the database side as rows and conflicts, and a summary."""

    new_content: bytes | None
    edits: list[Edit]
    result: MergeResult
    file_ids: list[str]  # the id of each task of the file as read, by index
    database_target: PlanState
    forced: list[str] = field(default_factory=list)  # conflict ids applied by this sync
    # The index in the file of each phase key it has (``None``: no phase).
    phases: dict[str | None, int | None] = field(default_factory=dict)
    # The index in the file of each base phase it has, by base position.
    phase_at: dict[int, int] = field(default_factory=dict)

    def diff(self, path: str, old: bytes) -> str:
        """A unified diff of the file change (empty when none)."""
        if self.new_content is None:
            return ""
        return "".join(
            difflib.unified_diff(
                old.decode("utf-8", "replace").splitlines(keepends=True),
                self.new_content.decode("utf-8", "replace").splitlines(keepends=True),
                fromfile=f"a/{path}",
                tofile=f"b/{path}",
            )
        )


def plain(value: object) -> Any:
    """A merge value as JSON: a task as a mapping, a place as a list."""
    if isinstance(value, TaskState):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return value


def _from_plain(field_name: str, value: Any) -> object:
    if field_name == "place" and isinstance(value, list):
        return (value[0], value[1])
    if field_name == EXISTS and isinstance(value, dict):
        return TaskState(**value)
    return value


def base_tasks(model: Mapping[str, Any]) -> list[StoredTask]:
    """The tasks of a base model as stored tasks (what file tasks are matched against)."""
    phases = model.get("phases", [])
    tasks = []
    for position, entry in enumerate(model.get("tasks", [])):
        task_id, status, char, text, parent_id, phase_position, line = entry[:7]
        title = entry[7] if len(entry) > 7 else text
        explicit_id = entry[8] if len(entry) > 8 else None
        phase_key = None
        if phase_position is not None and phase_position < len(phases):
            phase_key = (phases[phase_position][0], phases[phase_position][1])
        tasks.append(
            StoredTask(
                id=task_id,
                position=position,
                parent_id=parent_id,
                phase_key=phase_key,
                text=text,
                title=title,
                status=status,
                char=char,
                line=line,
                explicit_id=explicit_id,
            )
        )
    return tasks


class _PhaseKeys:
    """Phase keys shared by the three sides: the base phase a phase is (by number and
    title, then number alone — a rename —, then title alone — a renumbering)."""

    def __init__(self, base_phases: Sequence[Sequence[Any]]) -> None:
        self._base = base_phases
        self._exact = {(p[0], p[1]): f"p{i}" for i, p in reversed(list(enumerate(base_phases)))}
        self._number = {p[0]: f"p{i}" for i, p in reversed(list(enumerate(base_phases))) if p[0]}
        self._title = {p[1]: f"p{i}" for i, p in reversed(list(enumerate(base_phases)))}

    def key(self, phase: tuple[int | None, str] | None) -> str | None:
        if phase is None:
            return None
        number, title = phase
        return (
            self._exact.get(phase)
            or (self._number.get(number) if number is not None else None)
            or self._title.get(title)
            or f"new:{number}:{title}"
        )

    def renamed(self, titles: Sequence[str]) -> _PhaseKeys:
        """These keys, with each base phase also known by the title at its position in
        ``titles`` (the database's, where another program renamed a phase)."""
        keys = _PhaseKeys(self._base)
        known = {
            (p[0], title): f"p{i}"
            for i, (p, title) in enumerate(zip(self._base, titles, strict=False))
        }
        keys._exact = {**self._exact, **known}
        return keys

    def positions(self, plan: Plan) -> dict[int, int]:
        """The index in ``plan`` of each base phase it has, by base position."""
        found: dict[int, int] = {}
        for phase in plan.phases:
            key = self.key(_phase_key(plan, phase.index)) or ""
            if key.startswith("p") and int(key[1:]) not in found:
                found[int(key[1:])] = phase.index
        return found


class TwoWayPlanMerge:
    """Merges one plan three ways and plans the writes on both sides."""

    def __init__(self, table: StatusTable, policy: ConflictPolicy, threshold: float) -> None:
        self._table = table
        self._policy = policy
        self._threshold = threshold

    def merge(self, analysis: Analysis, data: bytes, state: PlanSyncState) -> MergePlan:
        plan = analysis.parsed.plan
        model = state.base_model or {}
        keys = _PhaseKeys(model.get("phases", []))
        base_list = base_tasks(model)
        # A line that is exactly a task as the database added or rewrote it is that task
        # (the file may hold it already: a crash between writing the file and the
        # database), not a new task, nor an edit of another base task it resembles.
        base_text = {task.id: task.text for task in base_list}
        changed = [task for task in state.tasks if base_text.get(task.id) != task.text]
        match = match_tasks(plan, base_list, self._threshold, exact_only=changed)
        ids = [row.id for row in task_rows(plan, match.stored_for)]

        phase_at = keys.positions(plan)
        base = PlanState(
            meta=base_meta(model),
            tasks={
                task.id: TaskState(
                    task.id, task.status, task.text, keys.key(task.phase_key), task.parent_id, i
                )
                for i, task in enumerate(base_list)
            },
        )
        file_state = PlanState(
            meta=file_meta(plan, phase_at),
            tasks={
                ids[task.index]: TaskState(
                    ids[task.index],
                    task.status,
                    task.text,
                    keys.key(_phase_key(plan, task.phase)),
                    ids[task.parent] if task.parent is not None else None,
                    task.index,
                )
                for task in plan.tasks
            },
        )
        in_order, repositioned = database_order(state.tasks, base)
        database = database_side(
            in_order,
            base,
            file_state,
            keys.renamed(state.phase_titles or ()).key,
            self._table,
            database_meta(base.meta, state),
            repositioned,
        )
        held = [
            HeldField(conflict.task_id, conflict.field or "")
            for conflict in state.conflicts
            if conflict.status == "open"
        ]
        forced = [conflict for conflict in state.conflicts if conflict.status == "resolved"]
        forced_file, forced_database = _force(file_state, database, forced)
        result = merge_plan(base, forced_file, forced_database, self._policy, held)

        phases: dict[str | None, int | None] = {None: None}
        phases.update(
            (keys.key(_phase_key(plan, phase.index)), phase.index) for phase in plan.phases
        )
        edits = self._file_edits(plan, ids, file_state, result.file_target, phases)
        edits += metadata_edits(analysis.parsed, file_state.meta, result.file_target.meta, phase_at)
        new_content = apply_edits(data, edits, self._table, analysis.parsed) if edits else None
        if new_content == data:
            new_content = None
        merged = MergePlan(
            new_content=new_content,
            edits=edits,
            result=result,
            file_ids=[result.renamed.get(task_id, task_id) for task_id in ids],
            database_target=result.database_target,
            forced=[conflict.id for conflict in forced],
            phases=phases,
            phase_at=phase_at,
        )
        target = result.file_target.tasks
        if new_content is not None and any(
            task.parent_id is not None and task.parent_id not in file_state.tasks
            for task in target.values()
        ):
            self._place_under_new_tasks(merged, plan)
        if merged.new_content is not None:
            self._check_reads_back(plan.path, merged.new_content, len(target))
        return merged

    def _place_under_new_tasks(self, merged: MergePlan, plan: Plan) -> None:
        """The moves under tasks that the file did not have (a task another program put
        under a task it added): the file as the first edits made it is read again, its
        tasks matched to their ids, and moved where the target puts them."""
        assert merged.new_content is not None
        parsed = parse_plan(merged.new_content, plan.path, self._table)
        written = parsed.plan
        if written.flags.skip_sync or len(written.phases) != len(plan.phases):
            return
        match = match_tasks(written, written_tasks(plan, merged, written), self._threshold)
        ids = match.stored_for
        if any(task_id is None for task_id in ids):
            return
        key_of = {index: key for key, index in merged.phases.items()}
        actual = PlanState(
            {},
            {
                str(ids[task.index]): TaskState(
                    str(ids[task.index]),
                    task.status,
                    task.text,
                    key_of.get(task.phase),
                    str(ids[task.parent]) if task.parent is not None else None,
                    task.index,
                )
                for task in written.tasks
            },
        )
        line_of = {str(ids[task.index]): task.line for task in written.tasks}
        leaves = {str(ids[task.index]) for task in written.tasks if not task.bulleted}
        moves = move_edits(actual, merged.result.file_target, line_of, merged.phases, leaves)
        if moves:
            merged.new_content = apply_edits(
                merged.new_content, list(moves.values()), self._table, parsed
            )
            merged.edits.extend(moves.values())

    def _check_reads_back(self, path: str, content: bytes, expected: int) -> None:
        """Refuse a write whose file would not read back as the tasks merged: the rows of
        tasks it lost would stay in the database with no line in the file.

        Raises:
            RenderError: the new content reads as another number of tasks.
        """
        found = len(parse_plan(content, path, self._table).plan.tasks)
        if found != expected:
            raise RenderError(
                f"the merged file would read as {found} tasks, not the {expected} merged"
            )

    def _file_edits(
        self,
        plan: Plan,
        ids: Sequence[str],
        actual: PlanState,
        target: PlanState,
        phases: Mapping[str | None, int | None],
    ) -> list[Edit]:
        edits: list[Edit] = []
        line_of = {ids[task.index]: task.line for task in plan.tasks}
        for task_id, now in actual.tasks.items():
            wanted = target.tasks.get(task_id)
            if wanted is None:
                task = plan.task_at_line(line_of[task_id])
                assert task is not None
                # Sub-tasks the file keeps (a new one, one held by a conflict) keep their lines.
                kept = any(
                    ids[sub.index] in target.tasks
                    for sub in plan.tasks
                    if task.line < sub.line <= task.end_line
                )
                edits.append(DeleteTask(task.line, with_subtasks=not kept))
                continue
            if wanted.status != now.status:
                edits.append(SetStatus(line_of[task_id], wanted.status))
            if wanted.text != now.text:
                edits.append(SetText(line_of[task_id], wanted.text))
        leaves = {ids[task.index] for task in plan.tasks if not task.bulleted}
        moves = move_edits(actual, target, line_of, phases, leaves)
        # Moves and new tasks in the target's order, so that each goes after tasks that
        # may have moved there first. Where each task of the file will be: its target's
        # place when it moves, else where it is.
        placed: dict[str, TaskState] = {}
        last_at: dict[tuple[str | None, str | None], str] = {}  # the last task at a place
        anchor: str | None = None  # the last task so far the file has, anywhere
        for task_id, wanted in target.tasks.items():
            present = actual.tasks.get(task_id)
            if present is not None:
                move = moves.get(task_id)
                if move is not None:
                    edits.append(move)
                placed[task_id] = wanted if move is not None else present
                last_at[placed[task_id].place] = anchor = task_id
                continue
            sibling = last_at.get(wanted.place)
            where = PlanState(actual.meta, placed)
            edits.append(
                _insertion(wanted, sibling, anchor, where, line_of, phases.get(wanted.phase))
            )
        return edits

    def conflicts(
        self, merged: MergePlan, stored: Sequence[StoredConflict]
    ) -> tuple[list[ConflictWrite], list[tuple[str, Any, Any, Any]]]:
        """The conflicts to record (opened, and settled by a strategy) and the open ones
        to refresh with their current values."""
        writes = [self._write(conflict) for conflict in merged.result.opened]
        for conflict, resolution in merged.result.settled:
            strategy = self._policy.strategy_for(conflict.type)
            writes.append(
                self._write(
                    conflict,
                    status="resolved",
                    resolved_by=f"strategy:{strategy.name}",
                    resolution=_resolution(resolution),
                )
            )
        by_field = {(c.task_id, c.field): c.id for c in stored if c.status == "open"}
        refreshed = []
        for conflict in merged.result.held:
            conflict_id = by_field.get((conflict.task_id, conflict.field))
            if conflict_id is not None:
                refreshed.append(
                    (
                        conflict_id,
                        plain(conflict.base),
                        plain(conflict.markdown),
                        plain(conflict.database),
                    )
                )
        return writes, refreshed

    @staticmethod
    def _write(conflict: Conflict, **extra: Any) -> ConflictWrite:
        return ConflictWrite(
            task_id=conflict.task_id,
            type=str(conflict.type),
            severity=conflict.severity,
            field=conflict.field,
            base=plain(conflict.base),
            markdown=plain(conflict.markdown),
            database=plain(conflict.database),
            **extra,
        )

    def database_rows(
        self,
        plan: Plan,
        rows: list[TaskRow],
        target: PlanState,
        current: Sequence[StoredTask],
        held_places: Collection[str] = (),
        phases: Mapping[str | None, int | None] | None = None,
    ) -> tuple[list[TaskRow], list[str], list[str], list[str]]:
        """The task rows for the database after the sync: the file's rows (as written), with
        the database's own values where the merge left the database different (held
        conflicts; the tasks of ``held_places`` keep their phase — by its index in the file,
        ``phases`` —, parent and order of the database). Returns the rows and the created,
        updated and deleted ids."""
        now = {task.id: task for task in current}
        final = []
        for row in rows:
            wanted = target.tasks.get(row.id)
            if wanted is not None and (wanted.status, wanted.text) != (row.status, row.text):
                row = dataclasses.replace(
                    row,
                    status=wanted.status,
                    char=self._table.char_for(wanted.status, plan.done_style),
                    text=wanted.text,
                )
            final.append(row)
        if held_places:
            final = _with_places(final, target, held_places, phases or {})
        written = {row.id for row in final}
        created = [row.id for row in final if row.id not in now]
        updated = []
        for row in final:
            old = now.get(row.id)
            if old is None:
                continue
            key = _phase_key(plan, row.phase_position)
            if content_changed(row, old, key) or old.char != row.char:
                updated.append(row.id)
        deleted = [
            task_id for task_id in now if task_id not in written and task_id not in target.tasks
        ]
        return final, created, updated, deleted


def _with_places(
    rows: list[TaskRow],
    target: PlanState,
    held: Collection[str],
    phases: Mapping[str | None, int | None],
) -> list[TaskRow]:
    """``rows`` with the tasks of ``held`` where ``target`` puts them: its phase and parent,
    and the position of the task that follows it there (the database puts a task placed
    at a taken position first; at the end: after the last)."""
    position = {row.id: row.position for row in rows}
    order = list(target.tasks)
    following = {
        task_id: next((later for later in order[index + 1 :] if later in position), None)
        for index, task_id in enumerate(order)
        if task_id in held
    }
    placed = []
    for row in rows:
        wanted = target.tasks.get(row.id)
        if row.id in following and wanted is not None:
            after = following[row.id]
            row = dataclasses.replace(
                row,
                phase_position=phases.get(wanted.phase),
                parent_id=wanted.parent_id,
                position=position[after] if after is not None else len(rows),
            )
        placed.append(row)
    return placed


def _same_fields(past: TaskState, now: TaskState) -> bool:
    return (past.status, past.text, past.place) == (now.status, now.text, now.place)


def _insertion(
    wanted: TaskState,
    sibling: str | None,
    anchor: str | None,
    actual: PlanState,
    line_of: Mapping[str, int],
    phase: int | None,
) -> InsertTask:
    """Where a new task goes in the file so that its parse has the place the merge gave it
    (a crash before the database is written then leaves a file that says what the database
    will say): after the last task before it at that place, else first under its parent,
    else at the end of its phase. A parent the file lacks cannot be expressed: the task
    then follows the last task before it in its phase."""
    if sibling is not None:
        return InsertTask(wanted.text, wanted.status, after_line=line_of[sibling])
    if wanted.parent_id is not None and wanted.parent_id in actual.tasks:
        parent = actual.tasks[wanted.parent_id]
        if parent.phase == wanted.phase:
            return InsertTask(
                wanted.text, wanted.status, after_line=line_of[parent.id], as_child=True
            )
    if wanted.parent_id is None:
        return InsertTask(wanted.text, wanted.status, phase=phase)
    previous = actual.tasks.get(anchor) if anchor is not None else None
    if previous is not None and previous.phase == wanted.phase:
        return InsertTask(wanted.text, wanted.status, after_line=line_of[previous.id])
    return InsertTask(wanted.text, wanted.status, phase=phase)


def _phase_key(plan: Plan, index: int | None) -> tuple[int | None, str] | None:
    if index is None:
        return None
    phase = plan.phases[index]
    return (phase.number, phase.title)


def _resolution(resolution: Resolution) -> dict[str, Any]:
    return {"take": resolution.take, "value": plain(resolution.value)}


def _force(
    file: PlanState, database: PlanState, settled: Sequence[StoredConflict]
) -> tuple[PlanState, PlanState]:
    """Both sides with the values of conflicts a person settled, so the merge carries them
    to both targets."""
    if not settled:
        return file, database
    file_tasks, database_tasks = dict(file.tasks), dict(database.tasks)
    file_meta, database_meta = dict(file.meta), dict(database.meta)
    for conflict in settled:
        resolution = conflict.resolution or {}
        take = str(resolution.get("take"))
        sides = {"markdown": conflict.markdown, "database": conflict.database}
        raw = sides[take] if take in sides else resolution.get("value")
        name = conflict.field or ""
        value = _from_plain(name, raw)
        if conflict.task_id is None:
            file_meta[name] = database_meta[name] = value
            continue
        task_id = conflict.task_id
        if name == EXISTS:
            for tasks in (file_tasks, database_tasks):
                if value is None:
                    tasks.pop(task_id, None)
                elif isinstance(value, TaskState):
                    tasks[task_id] = tasks.get(task_id) or value
            continue
        for tasks in (file_tasks, database_tasks):
            if task_id in tasks:
                tasks[task_id] = with_task_value(tasks[task_id], name, value)
    return (
        PlanState(file_meta, file_tasks),
        PlanState(database_meta, database_tasks),
    )


def three_way_change(
    merge: TwoWayPlanMerge,
    merged: MergePlan,
    written: Analysis,
    state: PlanSyncState,
    base_change: PlanChange,
) -> PlanChange:
    """The database side of a merged plan: ``base_change`` (rows of the file as written,
    made by the files → database code) with the database's own values kept where the merge
    says so, the consumed change log, the conflicts and the base."""
    base_change = with_database_metadata(base_change, merged.database_target.meta, merged.phase_at)
    plan = _with_phase_titles(written.parsed.plan, base_change.phases)
    rows, created, updated, deleted = merge.database_rows(
        plan,
        list(base_change.tasks),
        merged.database_target,
        state.tasks,
        _held_places(merged),
        merged.phases,
    )
    conflicts, refreshed = merge.conflicts(merged, state.conflicts)
    model = dict(base_change.base_model)
    kept = _kept_base_tasks(state, merged, {row.id for row in rows})
    if kept:
        model["tasks"] = [*model["tasks"], *kept]
    return dataclasses.replace(
        base_change,
        plan_id=state.plan_id,
        tasks=rows,
        created=created,
        updated=updated,
        deleted=deleted,
        base_model=model,
        consumed_up_to=state.pending_up_to,
        conflicts=conflicts,
        refreshed=refreshed,
        applied=list(merged.forced),
    )


def _with_phase_titles(plan: Plan, rows: Sequence[PhaseRow]) -> Plan:
    """``plan`` with the phase titles the database will hold (its own, where a conflict
    holds one), so tasks compare to the database's phases as they will be."""
    titles = {row.position: row.title for row in rows}
    if all(titles.get(phase.index, phase.title) == phase.title for phase in plan.phases):
        return plan
    phases = tuple(
        dataclasses.replace(phase, title=titles.get(phase.index, phase.title))
        for phase in plan.phases
    )
    return dataclasses.replace(plan, phases=phases)


def _held_places(merged: MergePlan) -> set[str]:
    """The tasks whose place an open conflict holds."""
    return {
        conflict.task_id
        for conflict in (*merged.result.held, *merged.result.opened)
        if conflict.field == "place" and conflict.task_id is not None
    }


def _kept_base_tasks(state: PlanSyncState, merged: MergePlan, in_file: set[str]) -> list[list[Any]]:
    """Base entries of tasks an open ``exists`` conflict holds but the file no longer has:
    they stay in the base so that the next sync still sees them as held, not as new."""
    held = {
        conflict.task_id
        for conflict in (*merged.result.held, *merged.result.opened)
        if conflict.field == EXISTS and conflict.task_id not in in_file
    }
    model = state.base_model or {}
    return [entry for entry in model.get("tasks", []) if entry[0] in held]


def written_tasks(plan: Plan, merged: MergePlan, written: Plan | None = None) -> list[StoredTask]:
    """What the file was made to hold, as stored tasks, to give the tasks of its new parse
    their ids: the tasks it had (with their new status, text and place) and the ones
    inserted. ``written``: the new parse, whose phases (titles rewritten) the tasks are in."""
    target = merged.result.file_target.tasks
    phases = written if written is not None and len(written.phases) == len(plan.phases) else plan
    found = []
    for task in plan.tasks:
        task_id = merged.file_ids[task.index]
        wanted = target.get(task_id)
        if wanted is None:
            continue
        title, explicit_id = (
            (task.title, task.explicit_id) if wanted.text == task.text else _identity(wanted.text)
        )
        found.append(
            StoredTask(
                id=task_id,
                position=wanted.position,
                parent_id=wanted.parent_id,
                phase_key=_phase_key(phases, merged.phases.get(wanted.phase, task.phase)),
                text=wanted.text,
                title=title,
                status=wanted.status,
                char=task.char,
                line=task.line,
                explicit_id=explicit_id,
            )
        )
    known = set(merged.file_ids)
    for task_id, wanted in target.items():
        if task_id not in known:
            title, explicit_id = _identity(wanted.text)
            found.append(
                StoredTask(
                    id=task_id,
                    position=wanted.position,
                    parent_id=wanted.parent_id,
                    phase_key=None,
                    text=wanted.text,
                    title=title,
                    status=wanted.status,
                    char="",
                    line=0,
                    explicit_id=explicit_id,
                )
            )
    return found


def _identity(text: str) -> tuple[str, str | None]:
    """The title and explicit ID the parser reads from a task's text: what the written
    file's tasks are matched by (the whole text, labels, tags and dates included, can be
    too unlike the title to match)."""
    analysed = analyse_task_text(text)
    return analysed.title, analysed.explicit_id
