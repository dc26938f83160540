"""Which stored task each task of a new parse is (DESIGN.md, "Identity").

Tasks are matched, in this order: by explicit ID; by exact title under the same parent;
by position among the same parent's unmatched tasks when the text is similar; by best
similarity anywhere (a move). Similar means a ratio at or above the threshold; ties go to
the nearest position. What is left of the new parse is new; what is left of the store was
deleted. Number labels (``**1.2.3**``) are not part of the title, so renumbering keeps
identities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import cast

from sync_engine.domain.model import Plan
from sync_engine.ports.records import StoredTask

# Beyond this many (new × stored) unmatched pairs, the "anywhere" pass only compares texts
# whose quick ratio passes, so a rewritten plan stays fast.
_FULL_COMPARE_LIMIT = 40_000


@dataclass(frozen=True, slots=True)
class Match:
    """``stored_for[i]`` is the stored task id of new task ``i`` (or ``None``: new)."""

    stored_for: list[str | None]
    deleted: list[str]


def similarity(left: str, right: str) -> float:
    if left == right:
        return 1.0
    return SequenceMatcher(None, left.casefold(), right.casefold(), autojunk=False).ratio()


def match_tasks(
    plan: Plan,
    stored: Sequence[StoredTask],
    threshold: float,
    exact_only: Sequence[StoredTask] = (),
) -> Match:
    """Match the tasks of ``plan`` to the ``stored`` ones.

    ``exact_only`` are candidates that a task takes only by its exact text in the same phase,
    after the stored tasks' exact titles and before any similarity: tasks as another program
    added or rewrote them, which the file may hold already. One that is also a stored task
    is matched once; the others are never in ``deleted``.
    """
    stored_for: list[str | None] = [None] * len(plan.tasks)
    if not stored:  # a new plan: every task is new
        return Match(stored_for=stored_for, deleted=[])
    by_id = {task.id: task for task in stored}
    unmatched = dict(by_id)
    phase_keys = [
        (plan.phases[t.phase].number, plan.phases[t.phase].title) if t.phase is not None else None
        for t in plan.tasks
    ]

    def take(index: int, task_id: str) -> None:
        stored_for[index] = task_id
        del unmatched[task_id]

    explicit = {task.explicit_id: task.id for task in stored if task.explicit_id}
    for task in plan.tasks:
        task_id = explicit.get(task.explicit_id) if task.explicit_id else None
        if task_id is not None and task_id in unmatched:
            take(task.index, task_id)

    def parent_key(index: int) -> object:
        parent = plan.tasks[index].parent
        if parent is None:
            return ("phase", phase_keys[index])
        return ("task", stored_for[parent])

    def stored_parent_key(task: StoredTask) -> object:
        return ("phase", task.phase_key) if task.parent_id is None else ("task", task.parent_id)

    # Parents come before their children in document order, so a child's parent is settled
    # by the time the child is looked at. Stored tasks by title and parent, in their order.
    same_title: dict[tuple[str, object], list[StoredTask]] = defaultdict(list)
    for s in unmatched.values():
        same_title[(s.title, stored_parent_key(s))].append(s)
    for task in plan.tasks:
        if stored_for[task.index] is not None:
            continue
        key = parent_key(task.index)
        candidates = [s for s in same_title.get((task.title, key), ()) if s.id in unmatched]
        if candidates:
            best = min(candidates, key=lambda s: abs(s.position - task.index))
            take(task.index, best.id)

    waiting = [c for c in exact_only if c.id in unmatched or c.id not in by_id]
    for index, task_id in _exact_texts(plan, phase_keys, waiting, stored_for):
        stored_for[index] = task_id
        unmatched.pop(task_id, None)

    siblings: dict[object, list[StoredTask]] = defaultdict(list)
    for s in unmatched.values():
        siblings[stored_parent_key(s)].append(s)
    for task in plan.tasks:
        if stored_for[task.index] is not None:
            continue
        candidates = [s for s in siblings.get(parent_key(task.index), []) if s.id in unmatched]
        scored = [
            (abs(s.position - task.index), -similarity(s.title, task.title), s) for s in candidates
        ]
        scored = [item for item in scored if -item[1] >= threshold]
        if scored:
            best = min(scored, key=lambda item: (item[0], item[1]))[2]
            take(task.index, best.id)

    remaining = [task for task in plan.tasks if stored_for[task.index] is None]
    if remaining and unmatched:
        limit = len(remaining) * len(unmatched) > _FULL_COMPARE_LIMIT
        for task in remaining:
            best_score, chosen = 0.0, cast("StoredTask | None", None)
            for s in list(unmatched.values()):
                if limit:
                    matcher = SequenceMatcher(None, s.title.casefold(), task.title.casefold())
                    if matcher.quick_ratio() < threshold:
                        continue
                score = similarity(s.title, task.title)
                if score < threshold:
                    continue
                if chosen is None or (score, -abs(s.position - task.index)) > (
                    best_score,
                    -abs(chosen.position - task.index),
                ):
                    best_score, chosen = score, s
            if chosen is not None:
                take(task.index, chosen.id)
    return Match(stored_for=stored_for, deleted=list(unmatched))


def _exact_texts(
    plan: Plan,
    phase_keys: Sequence[object],
    candidates: Sequence[StoredTask],
    stored_for: Sequence[str | None],
) -> list[tuple[int, str]]:
    """(task index, candidate id) for the tasks still unmatched whose exact text a candidate
    has in their phase (the nearest by position)."""
    waiting = list(candidates)
    found = []
    for task in plan.tasks:
        if stored_for[task.index] is not None or not waiting:
            continue
        same = [c for c in waiting if c.text == task.text and c.phase_key == phase_keys[task.index]]
        if same:
            best = min(same, key=lambda c: abs(c.position - task.index))
            found.append((task.index, best.id))
            waiting.remove(best)
    return found
