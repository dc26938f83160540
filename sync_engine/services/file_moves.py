"""The moves that give a plan file the merged structure.

The merge says where each task should be — its phase, its parent, its order (the file
target); the file says where it is. A task moves when it goes to another phase or parent,
or when its order among its siblings changed in a way that only moving it restores: it is
outside the longest run of its siblings that kept their order, so reordering one task moves
that task alone. A moved task takes its sub-tasks along.

Each move names its new place by a neighbour the file has: right after its previous
sibling, else as the first sub-task of its parent, else at the start of its phase. A place
the file cannot express — under a task that is not in the file yet, in a phase it does not
have — is left alone: the task stays where it is (a task under a new task is moved once the
new task's line is written: see ``TwoWayPlanMerge``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from difflib import SequenceMatcher

from sync_engine.conflicts.model import PlanState, TaskState
from sync_engine.rendering.edits import MoveTask

__all__ = ["move_edits"]

# Where a task sits among its siblings: under a parent task, or at the top of a phase.
_Container = tuple[str, str | None]


def _container(task: TaskState) -> _Container:
    if task.parent_id is not None:
        return ("task", task.parent_id)
    return ("phase", task.phase)


def move_edits(
    actual: PlanState,
    target: PlanState,
    line_of: Mapping[str, int],
    phase_index: Mapping[str | None, int | None],
    leaves: Collection[str] = (),
) -> dict[str, MoveTask]:
    """The move of each task of the file (by id) whose place in ``target`` differs.

    Args:
        actual: the file as read, its tasks at their file positions.
        target: what the file should become, in document order.
        line_of: the first line of each task of the file.
        phase_index: the index in the file of each phase key it has (``None``: no phase).
        leaves: tasks of the file that cannot hold sub-tasks (checkboxes written without a
            bullet, lines of a paragraph).
    """
    order = list(target.tasks)

    def placeable(where: _Container) -> bool:
        kind, key = where
        if kind == "task":
            return key in actual.tasks and key not in leaves
        return key in phase_index

    moved: set[str] = set()
    staying: dict[_Container, list[str]] = {}
    for task_id in order:
        now = actual.tasks.get(task_id)
        if now is None:
            continue
        where = _container(target.tasks[task_id])
        if not placeable(where):
            continue
        if where != _container(now):
            moved.add(task_id)
        else:
            staying.setdefault(where, []).append(task_id)
    for ids in staying.values():
        moved |= _out_of_order(ids, actual)
    moved = _without_cycles(moved, actual, target)
    return {
        task_id: _place(task_id, order, actual, target, line_of, phase_index, moved)
        for task_id in order
        if task_id in moved
    }


def _without_cycles(moved: set[str], actual: PlanState, target: PlanState) -> set[str]:
    """``moved`` less the moves that would put a task inside itself: a task that stays (its
    place cannot be shown yet) may sit in the lines of a task whose move goes under it."""
    moved = set(moved)
    while True:
        parent = {
            task_id: target.tasks[task_id].parent_id if task_id in moved else now.parent_id
            for task_id, now in actual.tasks.items()
        }
        cycle = _cycle(parent)
        if not cycle:
            return moved
        moved -= cycle


def _cycle(parent: Mapping[str, str | None]) -> set[str]:
    """The tasks of one parent cycle, or none."""
    done: set[str] = set()
    for start in parent:
        path: list[str] = []
        cursor: str | None = start
        while cursor is not None and cursor in parent and cursor not in done:
            if cursor in path:
                return set(path[path.index(cursor) :])
            path.append(cursor)
            cursor = parent[cursor]
        done.update(path)
    return set()


def _out_of_order(wanted: Sequence[str], actual: PlanState) -> set[str]:
    """The siblings outside the longest runs that keep the order they have in the file."""
    before = sorted(wanted, key=lambda task_id: actual.tasks[task_id].position)
    if list(wanted) == before:
        return set()
    matcher = SequenceMatcher(None, before, list(wanted), autojunk=False)
    kept: set[str] = set()
    for block in matcher.get_matching_blocks():
        kept.update(before[block.a : block.a + block.size])
    return set(wanted) - kept


def _place(
    task_id: str,
    order: Sequence[str],
    actual: PlanState,
    target: PlanState,
    line_of: Mapping[str, int],
    phase_index: Mapping[str | None, int | None],
    moved: set[str],
) -> MoveTask:
    wanted = target.tasks[task_id]
    where = _container(wanted)
    line = line_of[task_id]
    # The previous sibling that the file will hold there: one moved there, or one there.
    for other in reversed(order[: order.index(task_id)]):
        now = actual.tasks.get(other)
        if now is None or _container(target.tasks[other]) != where:
            continue
        if other in moved or _container(now) == where:
            return MoveTask(line, after_line=line_of[other])
    kind, key = where
    if kind == "task":
        assert key is not None
        return MoveTask(line, under_line=line_of[key])
    return MoveTask(line, phase=phase_index[key], first=True)
