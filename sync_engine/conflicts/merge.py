"""The three-way merge of one plan: base, file now, database now → what each should become.

Rules (DESIGN.md, "Identity and the three-way sync"), per plan meta field and per task field
(``status``, ``text``, ``place``):

* only one side changed it → that side's value on both targets;
* both changed it to the same value → that value, no conflict;
* both changed it differently → a :class:`Conflict` for the policy's strategy of its type.
  Settled (markdown / database / custom) → that value on both targets, listed in
  ``settled``. Left for a person → the file target keeps the file's value, the database
  target the database's, listed in ``opened``;
* a field of an open conflict (``held``) never propagates: each target keeps its own side's
  value and the conflict, with the current values, is listed in ``held`` (never reopened).
  A held ``exists`` freezes the whole task the same way.

Existence:

* added on one side → added to the other target;
* added on both sides under different ids with equal text and the same phase
  (create-vs-create) → one task under the database's id (``renamed`` maps the file's id to
  it); its other fields merge with no base, so different statuses are a status conflict;
* deleted on one side, untouched on the other (status, text and place as in the base) →
  deleted on both targets; deleted on both → gone;
* deleted on one side, edited on the other (or holding a value of an open conflict of the
  task: an edit no one has settled) → a structure conflict on ``exists``: a settling
  strategy decides whether the task lives (if it does, both targets get the surviving side's
  task); left for a person, each target keeps its own side — a deletion never silently
  beats an edit.

Shape of the targets:

* ``tasks`` are in document order (:mod:`sync_engine.conflicts.ordering`) and ``position``
  is renumbered 0, 1, 2, … in that order;
* a ``parent_id`` naming a task the target does not have is replaced by the nearest
  ancestor the target has (ancestors looked up in that target's side, the other side, then
  the base), else ``None`` — the same walk on both targets, so they differ only where a task
  lives on one target alone (an open delete-vs-edit conflict); a parent cycle made by
  merging two sides' moves is broken at its smallest id, on both targets;
* places are compared by where they lead: a parent that will not live on both targets
  counts as its nearest ancestor that will. When the two sides' places lead to the same spot
  each target keeps its own — say the database added a subtask under a task the file deleted
  while that deletion waits for a person: the file cannot express that parent, and that is
  no change to propagate;
* ``meta`` holds every :data:`META_FIELDS` key (``None`` when absent) plus any other key an
  input has.

The merge is pure and deterministic: the output depends only on the inputs and their order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sync_engine.conflicts.model import (
    EXISTS,
    META_FIELDS,
    TASK_FIELDS,
    Conflict,
    PlanState,
    Resolution,
    TaskState,
    conflict_type_of,
    task_value,
    with_task_value,
)
from sync_engine.conflicts.ordering import document_order, merged_order
from sync_engine.conflicts.parents import break_cycles, place_among, repair_parents
from sync_engine.conflicts.policy import ConflictPolicy


@dataclass(frozen=True, slots=True)
class HeldField:
    """A field with an open (manual) conflict in the store; ``task_id`` None = plan meta."""

    task_id: str | None
    field: str


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What the file and the database should become, and the conflicts met on the way.

    Conflicts are listed plan metadata first, then deletions against edits, then task
    fields, each in document order.
    """

    file_target: PlanState
    database_target: PlanState
    opened: list[Conflict]
    settled: list[tuple[Conflict, Resolution]]
    held: list[Conflict]
    renamed: Mapping[str, str]

    @property
    def converged(self) -> bool:
        """Both targets are the same state (no field is waiting for a person)."""
        return self.file_target == self.database_target


@dataclass
class _Merger:
    """Merges values one at a time and collects the conflicts met."""

    policy: ConflictPolicy
    held_fields: frozenset[tuple[str | None, str]]
    opened: list[Conflict] = field(default_factory=list)
    settled: list[tuple[Conflict, Resolution]] = field(default_factory=list)
    held: list[Conflict] = field(default_factory=list)
    reported: set[tuple[str | None, str]] = field(default_factory=set)

    def conflict(self, task_id: str | None, name: str, values: tuple[object, ...]) -> Conflict:
        kind = conflict_type_of(name)
        base, markdown, database = values
        return Conflict(
            kind, name, task_id, base, markdown, database, self.policy.severity_for(kind)
        )

    def hold(self, task_id: str | None, name: str, values: tuple[object, ...]) -> bool:
        """Whether the field is held; if it is, its conflict is recorded as held."""
        if (task_id, name) not in self.held_fields:
            return False
        self.reported.add((task_id, name))
        self.held.append(self.conflict(task_id, name, values))
        return True

    def settle(self, conflict: Conflict) -> Resolution | None:
        """The strategy's resolution, recorded as settled or opened."""
        resolution = self.policy.strategy_for(conflict.type).resolve(conflict)
        if resolution is None:
            self.opened.append(conflict)
        else:
            self.settled.append((conflict, resolution))
        return resolution

    def value(
        self,
        task_id: str | None,
        name: str,
        base: object,
        ours: object,
        theirs: object,
        compared: tuple[object, object, object] | None = None,
    ) -> tuple[object, object]:
        """One field (not held): the file target's value and the database target's.

        ``compared`` are the values as compared, when they differ from the values written;
        when the two sides compare equal, each target keeps its own value.
        """
        seen_base, seen_ours, seen_theirs = compared or (base, ours, theirs)
        if seen_ours == seen_theirs:
            return ours, theirs
        if seen_theirs == seen_base:
            return ours, ours
        if seen_ours == seen_base:
            return theirs, theirs
        conflict = self.conflict(task_id, name, (base, ours, theirs))
        resolution = self.settle(conflict)
        if resolution is None:
            return ours, theirs
        chosen = resolution.chosen(conflict)
        return chosen, chosen

    def meta(
        self, base: Mapping[str, object], ours: Mapping[str, object], theirs: Mapping[str, object]
    ) -> tuple[dict[str, object], dict[str, object]]:
        file_meta: dict[str, object] = {}
        database_meta: dict[str, object] = {}
        for key in _meta_keys(base, ours, theirs):
            values = (base.get(key), ours.get(key), theirs.get(key))
            if self.hold(None, key, values):
                file_meta[key], database_meta[key] = values[1], values[2]
            else:
                file_meta[key], database_meta[key] = self.value(None, key, *values)
        return file_meta, database_meta

    def held_task_fields(
        self, task_id: str, base: TaskState | None, ours: TaskState | None, theirs: TaskState | None
    ) -> set[str]:
        """The task's held fields (``exists`` among them), recorded as held."""
        return {
            name
            for name in (EXISTS, *TASK_FIELDS)
            if (task_id, name) in self.held_fields
            and self.hold(task_id, name, tuple(task_value(t, name) for t in (base, ours, theirs)))
        }

    def fields(
        self,
        task_id: str,
        sides: tuple[TaskState | None, TaskState, TaskState],
        held: set[str],
        places: tuple[object, object, object],
    ) -> tuple[TaskState, TaskState]:
        """A task both sides have, field by field; ``places`` are the places as compared."""
        base, ours, theirs = sides
        for name in TASK_FIELDS:
            if name in held:
                continue
            values = (task_value(base, name), task_value(ours, name), task_value(theirs, name))
            compared = places if name == "place" else None
            mine, yours = self.value(task_id, name, *values, compared=compared)
            # Most fields end as they were on both sides: no copy of the task for those.
            if mine != values[1]:
                ours = with_task_value(ours, name, mine)
            if yours != values[2]:
                theirs = with_task_value(theirs, name, yours)
        return ours, theirs

    def tasks(
        self, order: Sequence[str], states: tuple[PlanState, PlanState, PlanState]
    ) -> dict[str, tuple[TaskState | None, TaskState | None]]:
        """Every task on the file target and on the database target (``None`` = absent).

        First which tasks live where, then the fields of the tasks both sides have, so that
        places can be compared by where they lead among the tasks living on both targets.
        """
        outcome: dict[str, tuple[TaskState | None, TaskState | None]] = {}
        pending: list[tuple[str, tuple[TaskState | None, TaskState, TaskState], set[str]]] = []
        for task_id in order:
            past, ours, theirs = (state.tasks.get(task_id) for state in states)
            held = self.held_task_fields(task_id, past, ours, theirs)
            if EXISTS in held:
                outcome[task_id] = (ours, theirs)
            elif ours is None or theirs is None:
                outcome[task_id] = self.existence(task_id, past, ours, theirs, bool(held))
            else:
                pending.append((task_id, (past, ours, theirs), held))
        on_both = {key for key, (ours, theirs) in outcome.items() if None not in (ours, theirs)}
        on_both.update(task_id for task_id, _, _ in pending)
        base, file, database = states
        for task_id, sides, held in pending:
            places = (
                place_among(sides[0], on_both, (base, file, database)),
                place_among(sides[1], on_both, (file, database, base)),
                place_among(sides[2], on_both, (database, file, base)),
            )
            outcome[task_id] = self.fields(task_id, sides, held, places)
        return outcome

    def existence(
        self,
        task_id: str,
        base: TaskState | None,
        ours: TaskState | None,
        theirs: TaskState | None,
        held: bool = False,
    ) -> tuple[TaskState | None, TaskState | None]:
        """Where a task one side lacks lives. ``held``: a field of it has an open conflict
        (the side that still has it holds an edit no one has settled: it counts as edited)."""
        present = ours if ours is not None else theirs
        if present is None:
            return None, None
        if base is None:
            return present, present
        if not held and not _edited(base, present):
            return None, None
        conflict = self.conflict(task_id, EXISTS, (base, ours, theirs))
        resolution = self.settle(conflict)
        if resolution is None:
            return ours, theirs
        survivor = resolution.chosen(conflict)
        if survivor is None:
            return None, None
        if not isinstance(survivor, TaskState):
            raise TypeError(f"an 'exists' resolution is a TaskState or None, not {survivor!r}")
        survivor = replace(survivor, id=task_id)
        return survivor, survivor


def merge_plan(
    base: PlanState,
    file: PlanState,
    database: PlanState,
    policy: ConflictPolicy,
    held: Collection[HeldField] = (),
    database_base_order: Sequence[str] | None = None,
    database_spots: Collection[str] = (),
) -> MergeResult:
    """Merge one plan three ways (see the module docstring for the rules).

    Args:
        base: the plan as of the last successful sync.
        file: the plan in the file now, its tasks already matched to base ids.
        database: the plan in the database now.
        policy: the strategy and severity of each conflict type.
        held: the fields that have an open conflict in the store.
        database_base_order: the order of the tasks as the last sync left the database,
            when it differs from the base's (a task whose place an open conflict held).
        database_spots: tasks that go where the database has them in its order (a place
            conflict settled for the database's value).

    Returns:
        Both targets, the conflicts opened, settled and held, and the create-vs-create ids
        unified.
    """
    file, renamed = _unify_created(base, file, database)
    merger = _Merger(policy, frozenset((h.task_id, h.field) for h in held))
    file_meta, database_meta = merger.meta(base.meta, file.meta, database.meta)
    order = merged_order(
        document_order(base.tasks),
        document_order(file.tasks),
        document_order(database.tasks),
        pinned={
            task_id
            for task_id, name in merger.held_fields
            if name == "place" and task_id is not None
        },
        database_base_order=database_base_order,
        from_database=frozenset(database_spots),
    )
    outcome = merger.tasks(order, (base, file, database))
    file_tasks: dict[str, TaskState] = {}
    database_tasks: dict[str, TaskState] = {}
    for task_id in order:
        ours, theirs = outcome[task_id]
        if ours is not None:
            file_tasks[task_id] = ours
        if theirs is not None:
            database_tasks[task_id] = theirs
    # Held fields naming nothing the sides have (a task gone everywhere, an unknown field)
    # are still reported, every value None, so the store can close them.
    for orphan_id, name in sorted(
        merger.held_fields - merger.reported, key=lambda key: (key[0] or "", key[1])
    ):
        merger.hold(orphan_id, name, (None, None, None))
    repair_parents(file_tasks, (file, database, base))
    repair_parents(database_tasks, (database, file, base))
    break_cycles((file_tasks, database_tasks), {kept: dropped for dropped, kept in renamed.items()})
    return MergeResult(
        file_target=PlanState(file_meta, _renumbered(file_tasks)),
        database_target=PlanState(database_meta, _renumbered(database_tasks)),
        opened=merger.opened,
        settled=merger.settled,
        held=merger.held,
        renamed=renamed,
    )


def _edited(base: TaskState, task: TaskState) -> bool:
    return any(task_value(base, name) != task_value(task, name) for name in TASK_FIELDS)


def _meta_keys(*metas: Mapping[str, object]) -> Iterator[str]:
    yield from META_FIELDS
    seen = set(META_FIELDS)
    for meta in metas:
        for key in meta:
            if key not in seen:
                seen.add(key)
                yield key


def _unify_created(
    base: PlanState, file: PlanState, database: PlanState
) -> tuple[PlanState, dict[str, str]]:
    """The file state with each create-vs-create task renamed to its database twin's id.

    Tasks new on both sides pair up by equal text and phase, in document order on each side.
    """
    waiting: dict[tuple[str, str | None], deque[str]] = {}
    for task_id in document_order(database.tasks):
        if task_id not in base.tasks and task_id not in file.tasks:
            task = database.tasks[task_id]
            waiting.setdefault((task.text, task.phase), deque()).append(task_id)
    renamed: dict[str, str] = {}
    for task_id in document_order(file.tasks):
        if task_id not in base.tasks and task_id not in database.tasks:
            task = file.tasks[task_id]
            twins = waiting.get((task.text, task.phase))
            if twins:
                renamed[task_id] = twins.popleft()
    if not renamed:
        return file, renamed
    tasks = {}
    for task_id, task in file.tasks.items():
        new_id = renamed.get(task_id, task_id)
        parent = task.parent_id
        if parent is not None:
            parent = renamed.get(parent, parent)
        tasks[new_id] = replace(task, id=new_id, parent_id=parent)
    return PlanState(file.meta, tasks), renamed


def _renumbered(tasks: dict[str, TaskState]) -> dict[str, TaskState]:
    return {
        task_id: task if task.position == index else replace(task, position=index)
        for index, (task_id, task) in enumerate(tasks.items())
    }
