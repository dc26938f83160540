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
)
from sync_engine.conflicts.policy import ConflictPolicy
from sync_engine.domain.model import Plan
from sync_engine.domain.status import StatusTable
from sync_engine.parsing.incremental import reparse_checkboxes
from sync_engine.parsing.parser import ParseResult, parse_plan
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
from sync_engine.services.database_side import database_order, database_side, written_order
from sync_engine.services.file_moves import move_edits
from sync_engine.services.matching import match_tasks
from sync_engine.services.plan_metadata import (
    base_meta,
    database_meta,
    file_meta,
    metadata_edits,
    with_database_metadata,
)
from sync_engine.services.sides import settled_sides
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
    phase_index: dict[str | None, int | None] = field(default_factory=dict)
    # The index in the file of each base phase it has, by base position.
    phase_at: dict[int, int] = field(default_factory=dict)
    # The database side's task ids as read, in its order.
    database_order: list[str] = field(default_factory=list)
    # The parse of ``new_content`` (made to check that it reads back as merged).
    new_parse: ParseResult | None = None

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
        written = model.get("database_positions")
        in_order, repositioned = database_order(state.tasks, base, written)
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
        forced_base, forced_file, forced_database = settled_sides(
            base, file_state, database, forced
        )
        result = merge_plan(
            forced_base,
            forced_file,
            forced_database,
            self._policy,
            held,
            written_order(forced_base, written),
            [
                conflict.task_id
                for conflict in forced
                if conflict.field == "place"
                and conflict.task_id is not None
                and (conflict.resolution or {}).get("take") == "database"
            ],
        )

        phase_index: dict[str | None, int | None] = {None: None}
        phase_index.update(
            (keys.key(_phase_key(plan, phase.index)), phase.index) for phase in plan.phases
        )
        # A task new on both sides is one task under the database's id (``renamed``).
        file_ids = [result.renamed.get(task_id, task_id) for task_id in ids]
        actual = _renamed(file_state, result.renamed)
        edits = self._file_edits(plan, file_ids, actual, result.file_target, phase_index)
        edits += metadata_edits(analysis.parsed, file_state.meta, result.file_target.meta, phase_at)
        new_content = apply_edits(data, edits, self._table, analysis.parsed) if edits else None
        if new_content == data:
            new_content = None
        merged = MergePlan(
            new_content=new_content,
            edits=edits,
            result=result,
            file_ids=file_ids,
            database_target=result.database_target,
            forced=[conflict.id for conflict in forced],
            phase_index=phase_index,
            phase_at=phase_at,
            database_order=list(database.tasks),
        )
        target = result.file_target.tasks
        if new_content is not None and any(
            task.parent_id is not None and task.parent_id not in actual.tasks
            for task in target.values()
        ):
            self._place_under_new_tasks(merged, plan)
        if merged.new_content is not None:
            merged.new_parse = self._check_reads_back(
                analysis.parsed, merged.new_content, len(target)
            )
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
        key_of = {index: key for key, index in merged.phase_index.items()}
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
        moves = move_edits(actual, merged.result.file_target, line_of, merged.phase_index, leaves)
        if moves:
            merged.new_content = apply_edits(
                merged.new_content, list(moves.values()), self._table, parsed
            )
            merged.edits.extend(moves.values())

    def _check_reads_back(
        self, previous: ParseResult, content: bytes, expected: int
    ) -> ParseResult:
        """Refuse a write whose file would not read back as the tasks merged: the rows of
        tasks it lost would stay in the database with no line in the file. Returns the
        parse of ``content`` (checkboxes alone changed: read from the previous parse).

        Raises:
            RenderError: the new content reads as another number of tasks.
        """
        reread = reparse_checkboxes(previous, content, self._table)
        if reread is None:
            reread = parse_plan(content, previous.plan.path, self._table)
        found = len(reread.plan.tasks)
        if found != expected:
            raise RenderError(
                f"the merged file would read as {found} tasks, not the {expected} merged"
            )
        return reread

    def _file_edits(
        self,
        plan: Plan,
        ids: Sequence[str],
        actual: PlanState,
        target: PlanState,
        phase_index: Mapping[str | None, int | None],
    ) -> list[Edit]:
        edits: list[Edit] = []
        line_of = {ids[task.index]: task.line for task in plan.tasks}
        # A task the file loses may have sub-tasks it keeps (added or edited there): only
        # the task's own lines go.
        keeps: set[str] = set()
        for task_id in actual.tasks:
            if task_id not in target.tasks:
                continue
            parent = actual.tasks[task_id].parent_id
            while parent is not None and parent not in keeps and parent in actual.tasks:
                keeps.add(parent)
                parent = actual.tasks[parent].parent_id
        for task_id, now in actual.tasks.items():
            wanted = target.tasks.get(task_id)
            if wanted is None:
                edits.append(DeleteTask(line_of[task_id], keep_subtasks=task_id in keeps))
                continue
            if wanted.status != now.status:
                edits.append(SetStatus(line_of[task_id], wanted.status))
            if wanted.text != now.text:
                edits.append(SetText(line_of[task_id], wanted.text))
        actual = _out_of_deleted(actual, target, keeps)
        leaves = {ids[task.index] for task in plan.tasks if not task.bulleted}
        moves = move_edits(actual, target, line_of, phase_index, leaves)
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
                _insertion(wanted, sibling, anchor, where, line_of, phase_index.get(wanted.phase))
            )
        return edits

    def conflicts(
        self, merged: MergePlan, stored: Sequence[StoredConflict]
    ) -> tuple[list[ConflictWrite], list[tuple[str, Any, Any, Any]]]:
        """The conflicts to record (opened, and settled by a strategy) and the open ones
        to refresh with their current values. A deleted-and-edited task is recorded as each
        side holds it after this sync (its parent may have been repaired on the way)."""
        writes = [
            self._write(_as_written(conflict, merged.result)) for conflict in merged.result.opened
        ]
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
        by_field = {(c.task_id, c.field): c for c in stored if c.status == "open"}
        refreshed = []
        for held in merged.result.held:
            conflict = _as_written(held, merged.result)
            found = by_field.get((conflict.task_id, conflict.field))
            values = (plain(conflict.base), plain(conflict.markdown), plain(conflict.database))
            if found is None or _same_values(values, (found.base, found.markdown, found.database)):
                continue
            refreshed.append((found.id, *values))
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
        merged: MergePlan,
        current: Sequence[StoredTask],
        base_texts: Mapping[str, str],
    ) -> tuple[list[TaskRow], list[str], list[str], list[str], list[TaskRow]]:
        """The task rows for the database after the sync: the file's rows (as written), with
        the database's own values where the merge left the database different (held
        conflicts; a task whose place is held keeps its phase, parent and order). Returns
        the rows, the created, updated and deleted ids, and the rows of tasks the file keeps
        but the database target has not (deleted in the database, edited in the file: an
        open conflict), which stay out of the database.

        A task whose text the database changed (from ``base_texts``, the base's) is
        rewritten even when the file now holds that text: what is read from a text (its
        title without the label, its explicit id, its inline fields) is the file's to give,
        and a program that wrote the text alone left them as they were."""
        now = {task.id: task for task in current}
        target, file_target = merged.database_target, merged.result.file_target
        pairs = [
            (task, row)
            for task, row in zip(plan.tasks, rows, strict=True)
            if row.id in target.tasks
        ]
        kept = {row.id for _, row in pairs}
        final = []
        updated = []
        held: set[str] = set()
        for _, row in pairs:
            wanted = target.tasks[row.id]
            placed = _held_place(row, wanted, file_target.tasks.get(row.id), merged.phase_index)
            if placed is not row:
                held.add(row.id)
            row = placed
            if row.parent_id is not None and row.parent_id not in kept:
                row = dataclasses.replace(row, parent_id=wanted.parent_id)
            if (wanted.status, wanted.text) != (row.status, row.text):
                row = dataclasses.replace(
                    row,
                    status=wanted.status,
                    char=self._table.char_for(wanted.status, plan.done_style),
                    text=wanted.text,
                )
            final.append(row)
            old = now.get(row.id)
            if old is not None and (
                content_changed(row, old, _phase_key(plan, row.phase_position))
                or old.char != row.char
                or (old.title, old.explicit_id) != (row.title, row.explicit_id)
                or old.text != base_texts.get(row.id, old.text)
            ):
                updated.append(row.id)
        if held:
            final = _held_positions(final, merged.database_order, held)
        written = {row.id for row in final}
        created = [row.id for row in final if row.id not in now]
        deleted = [
            task_id for task_id in now if task_id not in written and task_id not in target.tasks
        ]
        dropped = [row for row in rows if row.id not in target.tasks]
        return final, created, updated, deleted, dropped


def _held_positions(
    rows: list[TaskRow], database_order: Sequence[str], held: Collection[str]
) -> list[TaskRow]:
    """``rows`` with each task of ``held`` at the position of the task that follows it in
    the database's order (the database puts a task given a taken position first; at the
    end: after the last), so that it keeps its spot there while the file keeps its own."""
    position = {row.id: row.position for row in rows}
    following = {
        task_id: next(
            (
                later
                for later in database_order[index + 1 :]
                if later in position and later not in held
            ),
            None,
        )
        for index, task_id in enumerate(database_order)
        if task_id in held
    }
    return [
        dataclasses.replace(
            row,
            position=position[after] if (after := following.get(row.id)) is not None else len(rows),
        )
        if row.id in held
        else row
        for row in rows
    ]


def _as_written(conflict: Conflict, result: MergeResult) -> Conflict:
    """An ``exists`` conflict with each side's task as that side's target holds it."""
    if conflict.field != EXISTS or conflict.task_id is None:
        return conflict
    task_id = conflict.task_id
    return dataclasses.replace(
        conflict,
        markdown=result.file_target.tasks.get(task_id) if conflict.markdown else None,
        database=result.database_target.tasks.get(task_id) if conflict.database else None,
    )


def _same_values(new: Sequence[Any], old: Sequence[Any]) -> bool:
    """Whether a held conflict's values are unchanged, a task's position aside (it only
    orders tasks, and shifts whenever a line above it comes or goes)."""

    def steady(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: item for key, item in value.items() if key != "position"}
        return value

    return [steady(value) for value in new] == [steady(value) for value in old]


def _out_of_deleted(actual: PlanState, target: PlanState, keeps: Collection[str]) -> PlanState:
    """The file's tasks as its deletions leave them: a task deleted with sub-tasks the file
    keeps leaves them under its own parent (``DeleteTask.keep_subtasks``)."""
    gone = {task_id for task_id in actual.tasks if task_id not in target.tasks} & set(keeps)
    if not gone:
        return actual
    tasks = {}
    for task_id, task in actual.tasks.items():
        parent = task.parent_id
        while parent is not None and parent in gone:
            parent = actual.tasks[parent].parent_id
        tasks[task_id] = (
            task if parent == task.parent_id else dataclasses.replace(task, parent_id=parent)
        )
    return PlanState(actual.meta, tasks)


def _renamed(state: PlanState, renamed: Mapping[str, str]) -> PlanState:
    """``state`` with the ids of ``renamed`` replaced (in keys, ids and parents)."""
    if not renamed:
        return state
    tasks = {}
    for task_id, task in state.tasks.items():
        new_id = renamed.get(task_id, task_id)
        parent = renamed.get(task.parent_id, task.parent_id) if task.parent_id else None
        tasks[new_id] = dataclasses.replace(task, id=new_id, parent_id=parent)
    return PlanState(state.meta, tasks)


def _held_place(
    row: TaskRow,
    wanted: TaskState,
    in_file: TaskState | None,
    phase_index: Mapping[str | None, int | None],
) -> TaskRow:
    """``row`` (the task as the file was written) in the database's own place where the
    merge keeps the two sides' places apart (an open conflict on it)."""
    if in_file is None or in_file.place == wanted.place:
        return row
    phase = phase_index.get(wanted.phase, row.phase_position)
    return dataclasses.replace(row, parent_id=wanted.parent_id, phase_position=phase)


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
    base_texts = {entry[0]: entry[3] for entry in (state.base_model or {}).get("tasks", [])}
    rows, created, updated, deleted, dropped = merge.database_rows(
        plan, list(base_change.tasks), merged, state.tasks, base_texts
    )
    conflicts, refreshed = merge.conflicts(merged, state.conflicts)
    model = dict(base_change.base_model)
    # Where the database keeps a task elsewhere than the file (its place held by a
    # conflict): what the engine wrote is not the move of another program.
    as_in_file = {row.id: row.position for row in base_change.tasks}
    elsewhere = {row.id: row.position for row in rows if as_in_file.get(row.id) != row.position}
    if elsewhere:
        model["database_positions"] = elsewhere
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
        tombstones=dropped,
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
                phase_key=_phase_key(phases, merged.phase_index.get(wanted.phase, task.phase)),
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
