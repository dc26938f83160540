"""The moves that give a file the merged structure: applied and parsed again, the file holds
every task under the parent, in the phase and in the order the target says, and nothing but
the moved tasks' lines changed."""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sync_engine.conflicts.model import PlanState, TaskState
from sync_engine.domain import Plan
from sync_engine.parsing import parse_plan
from sync_engine.rendering import MoveTask, apply_edits
from sync_engine.services.file_moves import move_edits
from tests.unit.rendering.test_properties import Source, plans


def state_of(plan: Plan) -> PlanState:
    """The plan as the merge sees it; a task's id is its text (made unique by the test)."""
    return PlanState(
        {},
        {
            task.text: TaskState(
                task.text,
                task.status,
                task.text,
                f"p{task.phase}" if task.phase is not None else None,
                plan.tasks[task.parent].text if task.parent is not None else None,
                task.index,
            )
            for task in plan.tasks
        },
    )


def phases_of(plan: Plan) -> dict[str | None, int | None]:
    phases: dict[str | None, int | None] = {None: None}
    phases.update((f"p{phase.index}", phase.index) for phase in plan.phases)
    return phases


def document_order(children: dict[object, list[str]], phases: list[str | None]) -> list[str]:
    """Ids in document order: phases in order, each task followed by its sub-tasks."""
    order: list[str] = []

    def walk(task_id: str) -> None:
        order.append(task_id)
        for child in children.get(task_id, []):
            walk(child)

    for phase in phases:
        for task_id in children.get(("phase", phase), []):
            walk(task_id)
    return order


@st.composite
def targets(
    draw: st.DrawFn, actual: PlanState, phases: list[str | None], leaves: set[str]
) -> PlanState:
    """``actual`` with a few tasks moved to another parent (not one of ``leaves``, which
    cannot hold sub-tasks), phase or rank."""
    parent_of = {key: task.parent_id for key, task in actual.tasks.items()}
    phase_of = {key: task.phase for key, task in actual.tasks.items()}
    children: dict[object, list[str]] = {}
    for key, task in actual.tasks.items():
        where: object = task.parent_id if task.parent_id else ("phase", task.phase)
        children.setdefault(where, []).append(key)
    ids = list(actual.tasks)
    for _ in range(draw(st.integers(1, 3))):
        moving = draw(st.sampled_from(ids))
        subtree = {moving}
        grown = True
        while grown:  # earlier moves may have put a parent after its sub-tasks in ``ids``
            more = {key for key in ids if parent_of[key] in subtree} - subtree
            subtree |= more
            grown = bool(more)
        places: list[object] = [("phase", phase) for phase in phases]
        places += [key for key in ids if key not in subtree and key not in leaves]
        where = draw(st.sampled_from(places))
        old = parent_of[moving] if parent_of[moving] else ("phase", phase_of[moving])
        children[old].remove(moving)
        siblings = children.setdefault(where, [])
        siblings.insert(draw(st.integers(0, len(siblings))), moving)
        if isinstance(where, tuple):
            parent_of[moving], phase_of[moving] = None, where[1]
        else:
            parent_of[moving], phase_of[moving] = str(where), phase_of[str(where)]
    order = document_order(children, phases)
    assert sorted(order) == sorted(ids)
    for key in order:  # sub-tasks are in their parent's phase
        if parent_of[key] is not None:
            phase_of[key] = phase_of[str(parent_of[key])]
    tasks = {
        key: TaskState(key, actual.tasks[key].status, key, phase_of[key], parent_of[key], i)
        for i, key in enumerate(order)
    }
    return PlanState({}, tasks)


def structure(plan: Plan) -> list[tuple[str, str | None, str | None]]:
    return [
        (
            task.text,
            f"p{task.phase}" if task.phase is not None else None,
            plan.tasks[task.parent].text if task.parent is not None else None,
        )
        for task in plan.tasks
    ]


_TASK_LINE = re.compile(rb"^(\xef\xbb\xbf)?\s*(([-*+]|\d+[.)])\s+)?\[.\]")
_BULLET = re.compile(rb"^(\xef\xbb\xbf)?\s*([-*+]|\d+[.)])\s+")


def _unbulleted(line: bytes) -> bytes:
    """A line without its bullet: a task moved beside checkboxes written without one
    keeps its own."""
    return _BULLET.sub(b"", line)


def others(data: bytes) -> list[bytes]:
    """The non-blank lines that are not task lines."""
    return [line for line in stripped(data) if not _TASK_LINE.match(line)]


def stripped(data: bytes) -> list[bytes]:
    return [line.strip() for line in data.splitlines() if line.strip()]


@settings(max_examples=300, deadline=None)
@given(plans(), st.data())
def test_the_moves_give_the_file_the_target_structure(source: Source, data: st.DataObject) -> None:
    parsed = parse_plan(source.data)
    plan = parsed.plan
    texts = [task.text for task in plan.tasks]
    assume(plan.tasks and len(set(texts)) == len(texts))
    actual = state_of(plan)
    phase_keys = [None, *(f"p{phase.index}" for phase in plan.phases)]
    leaves = {task.text for task in plan.tasks if not task.bulleted}
    target = data.draw(targets(actual, phase_keys, leaves))
    line_of = {task.text: task.line for task in plan.tasks}
    edits = move_edits(actual, target, line_of, phases_of(plan), leaves)
    out = apply_edits(source.data, list(edits.values()), parsed=parsed)
    after = parse_plan(out).plan
    assert structure(after) == [
        (task.id, task.phase, task.parent_id) for task in target.tasks.values()
    ]
    # Only task lines moved: every other line is there, in its order (a first task in an
    # empty place may bring a blank line), and the task lines are the same ones.
    assert others(out) == others(source.data)
    assert Counter(map(_unbulleted, stripped(out))) == Counter(
        map(_unbulleted, stripped(source.data))
    )
    # Moving again from the result changes nothing.
    again = move_edits(
        state_of(after),
        target,
        {t.text: t.line for t in after.tasks},
        phases_of(after),
        {t.text for t in after.tasks if not t.bulleted},
    )
    assert again == {}


def test_a_reordered_task_moves_alone() -> None:
    source = b"## Phase 1: A\n\n- [ ] a\n- [ ] b\n- [ ] c\n- [ ] d\n"
    plan = parse_plan(source).plan
    actual = state_of(plan)
    order = ["b", "c", "a", "d"]
    target = PlanState(
        {}, {key: TaskState(key, "todo", key, "p0", None, i) for i, key in enumerate(order)}
    )
    edits = move_edits(actual, target, {t.text: t.line for t in plan.tasks}, phases_of(plan))
    assert edits == {"a": MoveTask(3, after_line=5)}
    assert apply_edits(source, list(edits.values())) == (
        b"## Phase 1: A\n\n- [ ] b\n- [ ] c\n- [ ] a\n- [ ] d\n"
    )


def test_a_place_the_file_cannot_express_is_left_alone() -> None:
    source = b"## Phase 1: A\n\n- [ ] a\n- [ ] b\n"
    plan = parse_plan(source).plan
    actual = state_of(plan)
    target = PlanState(
        {},
        {
            "new": TaskState("new", "todo", "new", "p0", None, 0),
            "a": TaskState("a", "todo", "a", "p0", "new", 1),
            "b": TaskState("b", "todo", "b", "new:9:Ailleurs", None, 2),
        },
    )
    assert move_edits(actual, target, {"a": 3, "b": 4}, phases_of(plan)) == {}


def test_a_move_under_a_task_that_cannot_move_yet_waits() -> None:
    # x holds t; the target puts t under a new task and x under t: t cannot move before
    # the new task is in the file, so x cannot go under it (it would be inside itself).
    source = b"## Phase 1: A\n\n- [ ] x\n  - [ ] t\n- [ ] y\n"
    plan = parse_plan(source).plan
    target = PlanState(
        {},
        {
            "y": TaskState("y", "todo", "y", "p0", None, 0),
            "new": TaskState("new", "todo", "new", "p0", None, 1),
            "t": TaskState("t", "todo", "t", "p0", "new", 2),
            "x": TaskState("x", "todo", "x", "p0", "t", 3),
        },
    )
    edits = move_edits(state_of(plan), target, {"x": 3, "t": 4, "y": 5}, phases_of(plan))
    assert edits == {}
    assert apply_edits(source, list(edits.values())) == source


def test_a_paragraph_checkbox_after_a_moved_list_item_stays_out_of_it() -> None:
    """Found by the property above: a list item placed right before a checkbox line of a
    paragraph (through a moved paragraph checkbox it was put after) would take that line in
    as its continuation; a blank line keeps them apart."""
    source = b"## Phase 1: A\n\n- [ ] a\n- [ ] b\n\n[ ] c\n\n## Phase 2: B\n\n[ ] d\n"
    parsed = parse_plan(source)
    plan = parsed.plan
    order = [("c", "p1", None), ("b", "p1", None), ("a", "p1", "b"), ("d", "p1", None)]
    target = PlanState(
        {},
        {
            key: TaskState(key, "todo", key, phase, parent, i)
            for i, (key, phase, parent) in enumerate(order)
        },
    )
    leaves = {task.text for task in plan.tasks if not task.bulleted}
    edits = move_edits(
        state_of(plan), target, {t.text: t.line for t in plan.tasks}, phases_of(plan), leaves
    )
    out = apply_edits(source, list(edits.values()), parsed=parsed)
    assert structure(parse_plan(out).plan) == [
        ("c", "p1", None),
        ("b", "p1", None),
        ("a", "p1", "b"),
        ("d", "p1", None),
    ]
    assert out.endswith(b"- [ ] b\n  - [ ] a\n\n[ ] d\n")
