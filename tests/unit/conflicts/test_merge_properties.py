"""Properties of the three-way merge over generated plans (Hypothesis)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_engine.conflicts import (
    META_FIELDS,
    Conflict,
    HeldField,
    MergeResult,
    PlanState,
    TaskState,
    merge_plan,
)
from tests.unit.conflicts.builders import STRATEGY_NAMES, order, policy

STATUSES = ("todo", "done", "in_progress")
TEXTS = ("Écrire les tests", "Relire le parseur", "Mettre à jour la doc", "Déployer")
PHASES = ("p1", "p2", None)
META_VALUES: Mapping[str, tuple[object, ...]] = {
    "title": (None, "Plan A", "Plan B"),
    "version": (None, "1.0", "2.0"),
    "date": (None, "2025-06-13", "2025-07-01"),
    "declared_progress": (None, 0.0, 50.0),
}


def numbered(tasks: list[TaskState]) -> dict[str, TaskState]:
    return {t.id: replace(t, position=index) for index, t in enumerate(tasks)}


@st.composite
def metas(draw: st.DrawFn) -> dict[str, object]:
    return {key: draw(st.sampled_from(META_VALUES[key])) for key in META_FIELDS}


@st.composite
def bases(draw: st.DrawFn) -> PlanState:
    tasks: list[TaskState] = []
    for index in range(draw(st.integers(0, 6))):
        parent = draw(st.sampled_from([None, *(t.id for t in tasks)]))
        tasks.append(
            TaskState(
                f"t{index}",
                draw(st.sampled_from(STATUSES)),
                draw(st.sampled_from(TEXTS)),
                draw(st.sampled_from(PHASES)),
                parent,
                index,
            )
        )
    return PlanState(draw(metas()), numbered(tasks))


@st.composite
def edits_of(draw: st.DrawFn, base: PlanState, prefix: str) -> PlanState:
    """The base as one side may have edited it: tasks deleted, changed, added, reordered; a
    parent always precedes its child and exists, as a parser or the database would have it."""
    tasks: list[TaskState] = []
    for old in base.tasks.values():
        if draw(st.integers(0, 5)) == 0:
            continue
        if draw(st.booleans()):
            old = replace(
                old,
                status=draw(st.sampled_from(STATUSES)) if draw(st.booleans()) else old.status,
                text=draw(st.sampled_from(TEXTS)) if draw(st.booleans()) else old.text,
                phase=draw(st.sampled_from(PHASES)) if draw(st.booleans()) else old.phase,
            )
        tasks.append(old)
    for index in range(draw(st.integers(0, 2))):
        tasks.append(
            TaskState(
                f"{prefix}{index}",
                draw(st.sampled_from(STATUSES)),
                draw(st.sampled_from(TEXTS)),
                draw(st.sampled_from(PHASES)),
                None,
                0,
            )
        )
    if draw(st.booleans()):
        tasks = draw(st.permutations(tasks))
    placed: list[TaskState] = []
    for each in tasks:
        earlier = [t.id for t in placed]
        parent = each.parent_id
        if parent not in earlier or draw(st.integers(0, 4)) == 0:
            parent = draw(st.sampled_from([None, *earlier]))
        placed.append(replace(each, parent_id=parent))
    meta = draw(metas()) if draw(st.booleans()) else dict(base.meta)
    return PlanState(meta, numbered(placed))


@st.composite
def triples(draw: st.DrawFn) -> tuple[PlanState, PlanState, PlanState]:
    base = draw(bases())
    return base, draw(edits_of(base, "f")), draw(edits_of(base, "d"))


strategy_names = st.sampled_from(STRATEGY_NAMES)
PROPERTY = settings(max_examples=300, deadline=None)


def assert_same_state(actual: PlanState, wanted: PlanState) -> None:
    assert actual == wanted
    assert order(actual) == order(wanted)


@PROPERTY
@given(triples(), strategy_names)
def test_when_both_sides_agree_there_is_nothing_to_settle(
    states: tuple[PlanState, PlanState, PlanState], strategy: str
) -> None:
    base, file, _ = states
    result = merge_plan(base, file, file, policy(strategy))
    assert (result.opened, result.settled, result.held, dict(result.renamed)) == ([], [], [], {})
    assert_same_state(result.file_target, file)
    assert_same_state(result.database_target, file)


@PROPERTY
@given(bases(), strategy_names)
def test_merging_an_unchanged_plan_changes_nothing(base: PlanState, strategy: str) -> None:
    result = merge_plan(base, base, base, policy(strategy))
    assert (result.opened, result.settled) == ([], [])
    assert_same_state(result.file_target, base)
    assert_same_state(result.database_target, base)


@PROPERTY
@given(triples(), strategy_names)
def test_with_no_manual_conflict_both_targets_agree_and_a_second_merge_changes_nothing(
    states: tuple[PlanState, PlanState, PlanState], strategy: str
) -> None:
    result = merge_plan(*states, policy(strategy))
    if result.opened:
        return
    assert_same_state(result.file_target, result.database_target)
    again = merge_plan(
        result.file_target, result.file_target, result.database_target, policy(strategy)
    )
    assert (again.opened, again.settled) == ([], [])
    assert_same_state(again.file_target, result.file_target)
    assert_same_state(again.database_target, result.database_target)


@PROPERTY
@given(triples(), strategy_names)
def test_running_the_same_sync_twice_gives_the_same_result(
    states: tuple[PlanState, PlanState, PlanState], strategy: str
) -> None:
    """The targets written, merged again from the same base with the opened conflicts held,
    stay as they are and open nothing new."""
    base, file, database = states
    result = merge_plan(base, file, database, policy(strategy))
    held = [HeldField(c.task_id, c.field) for c in result.opened]
    again = merge_plan(base, result.file_target, result.database_target, policy(strategy), held)
    assert again.opened == []
    assert_same_state(again.file_target, result.file_target)
    assert_same_state(again.database_target, result.database_target)


def _plan(*tasks: tuple[str, str | None]) -> PlanState:
    """A plan of tasks ``(id, parent id)`` in this order, all to do, all the same text."""
    meta = {"title": None, "version": None, "date": None, "declared_progress": None}
    return PlanState(
        meta=meta,
        tasks={
            task_id: TaskState(task_id, "todo", "Écrire les tests", "p1", parent, position)
            for position, (task_id, parent) in enumerate(tasks)
        },
    )


_CYCLE_BASE = _plan(("t0", None), ("t1", None), ("t2", None), ("t3", "t1"), ("t4", None))
_CYCLE_FILE = _plan(("t2", None), ("t1", "t2"), ("t3", None))


@pytest.mark.xfail(
    strict=True,
    reason="known open case (found by a random run): the file puts t1 under t2 while the "
    "database puts t2 under t0 and t0 under t1 and adds d0; the merged parents cut the cycle "
    "one way, and merging the result again cuts it another (a place conflict opens, or d0 and "
    "t2 move)",
)
@pytest.mark.parametrize("d0_parent", ["t0", None])
def test_a_parent_cycle_across_the_sides_merges_the_same_twice(d0_parent: str | None) -> None:
    database = _plan(
        ("t1", None), ("t4", None), ("t3", "t1"), ("t0", "t1"), ("t2", "t0"), ("d0", d0_parent)
    )
    result = merge_plan(_CYCLE_BASE, _CYCLE_FILE, database, policy("auto-merge"))
    held = [HeldField(c.task_id, c.field) for c in result.opened]
    again = merge_plan(
        _CYCLE_BASE, result.file_target, result.database_target, policy("auto-merge"), held
    )
    assert again.opened == []
    assert_same_state(again.file_target, result.file_target)
    assert_same_state(again.database_target, result.database_target)


# --- symmetry ----------------------------------------------------------------------------


def relabel(state: PlanState, names: Mapping[str, str]) -> dict[str, tuple[object, ...]]:
    """Tasks by (relabelled) id with their compared fields; order and positions left out."""

    def name(key: str | None) -> str | None:
        return None if key is None else names.get(key, key)

    return {
        names.get(key, key): (t.status, t.text, t.phase, name(t.parent_id))
        for key, t in state.tasks.items()
    }


def conflict_keys(
    result: MergeResult, names: Mapping[str, str], swap: bool
) -> list[tuple[object, ...]]:
    def side(value: object) -> object:
        if isinstance(value, TaskState):
            return ("task", value.status, value.text)
        if isinstance(value, tuple):  # a place: (phase, parent id)
            phase, parent = value
            return (phase, names.get(parent, parent))
        return value

    def key(conflict: Conflict, take: str) -> tuple[object, ...]:
        ours, theirs = conflict.markdown, conflict.database
        if swap:
            ours, theirs = theirs, ours
            take = {"markdown": "database", "database": "markdown"}.get(take, take)
        task_id = (
            None if conflict.task_id is None else names.get(conflict.task_id, conflict.task_id)
        )
        return (
            conflict.field,
            str(task_id),
            take,
            repr(side(conflict.base)),
            repr(side(ours)),
            repr(side(theirs)),
        )

    return sorted(key(conflict, resolution.take) for conflict, resolution in result.settled)


@PROPERTY
@given(triples())
def test_markdown_wins_mirrors_database_wins(
    states: tuple[PlanState, PlanState, PlanState],
) -> None:
    base, file, database = states
    forward = merge_plan(base, file, database, policy("markdown-wins"))
    mirrored = merge_plan(base, database, file, policy("database-wins"))
    # create-vs-create keeps the database's id: map the mirrored ids back
    back = {kept: dropped for dropped, kept in mirrored.renamed.items()}
    assert dict(forward.renamed) == back
    assert relabel(forward.file_target, {}) == relabel(mirrored.database_target, back)
    assert relabel(forward.database_target, {}) == relabel(mirrored.file_target, back)
    assert forward.file_target.meta == mirrored.database_target.meta
    assert forward.opened == mirrored.opened == []
    assert conflict_keys(forward, {}, swap=False) == conflict_keys(mirrored, back, swap=True)
