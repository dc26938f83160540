"""merge_plan beyond the table: open conflicts held, document order, parents, resolutions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sync_engine.conflicts import (
    Conflict,
    ConflictPolicy,
    ConflictType,
    HeldField,
    Resolution,
    merge_plan,
)
from sync_engine.conflicts.strategies import ManualStrategy
from tests.unit.conflicts.builders import PLAN_META, fields, order, plan, policy, task

DEFAULT = ConflictPolicy.default()


# --- held fields: open conflicts stop propagation ----------------------------------------


def test_a_held_field_does_not_propagate_and_is_refreshed() -> None:
    base = plan(task("a", status="todo", text="Écrire"))
    file = plan(task("a", status="done", text="Écrire"))
    database = plan(task("a", status="todo", text="Écrire la doc"))
    result = merge_plan(base, file, database, DEFAULT, held=[HeldField("a", "status")])
    assert result.file_target.tasks["a"].status == "done"
    assert result.database_target.tasks["a"].status == "todo"
    assert result.opened == []
    assert [(c.field, c.task_id, c.base, c.markdown, c.database) for c in result.held] == [
        ("status", "a", "todo", "done", "todo")
    ]
    assert result.held[0].type is ConflictType.STATUS
    # the text is not held: the database's edit still reaches the file
    assert result.file_target.tasks["a"].text == "Écrire la doc"


def test_a_held_field_is_not_reopened_when_both_sides_edit_it_again() -> None:
    base = plan(task("a", status="todo"))
    file = plan(task("a", status="done"))
    database = plan(task("a", status="cancelled"))
    held = {HeldField("a", "status")}
    result = merge_plan(base, file, database, policy("markdown-wins"), held=held)
    assert result.opened == []
    assert result.settled == []
    assert (result.file_target.tasks["a"].status, result.database_target.tasks["a"].status) == (
        "done",
        "cancelled",
    )


def test_held_metadata_stays_on_each_side() -> None:
    base = plan(meta=PLAN_META)
    file = plan(meta={**PLAN_META, "title": "Titre du fichier"})
    result = merge_plan(base, file, base, DEFAULT, held=[HeldField(None, "title")])
    assert result.file_target.meta["title"] == "Titre du fichier"
    assert result.database_target.meta["title"] == PLAN_META["title"]
    assert [(c.type, c.field, c.task_id) for c in result.held] == [
        (ConflictType.METADATA, "title", None)
    ]


def test_a_held_existence_freezes_the_whole_task() -> None:
    base = plan(task("a", text="Écrire"))
    file = plan()
    database = plan(task("a", text="Écrire la doc", status="done"))
    result = merge_plan(base, file, database, DEFAULT, held=[HeldField("a", "exists")])
    assert "a" not in result.file_target.tasks
    assert result.database_target.tasks["a"].status == "done"
    (conflict,) = result.held
    assert conflict.field == "exists"
    assert conflict.markdown is None
    assert conflict.database == database.tasks["a"]


def test_held_fields_of_a_vanished_task_are_reported_with_no_values() -> None:
    result = merge_plan(plan(), plan(), plan(), DEFAULT, held=[HeldField("gone", "text")])
    assert [(c.task_id, c.field, c.base, c.markdown, c.database) for c in result.held] == [
        ("gone", "text", None, None, None)
    ]


def test_a_held_field_of_a_task_deleted_on_one_side() -> None:
    base = plan(task("a", status="todo"))
    database = plan(task("a", status="done"))
    result = merge_plan(base, plan(), database, DEFAULT, held=[HeldField("a", "status")])
    assert [(c.field, c.markdown, c.database) for c in result.held] == [("status", None, "done")]
    # the deletion still meets the edit: a structure conflict, not a silent delete
    assert [(c.type, c.field) for c in result.opened] == [(ConflictType.STRUCTURE, "exists")]


def test_a_task_holding_an_unsettled_value_deleted_on_the_other_side() -> None:
    # The file's status waits in a conflict; the side that settled nothing equals the base
    # (the base took the file's value): the deletion still meets that value, not a silent
    # delete of the person's edit.
    base = plan(task("a", status="done"))
    file = plan(task("a", status="done"))
    result = merge_plan(base, file, plan(), DEFAULT, held=[HeldField("a", "status")])
    assert [(c.type, c.field) for c in result.opened] == [(ConflictType.STRUCTURE, "exists")]
    assert result.file_target.tasks["a"].status == "done"
    assert "a" not in result.database_target.tasks
    # With nothing held, the same deletion of an untouched task is no conflict.
    plain = merge_plan(base, file, plan(), DEFAULT)
    assert (plain.opened, plain.file_target.tasks) == ([], {})


# --- document order ----------------------------------------------------------------------


def test_a_task_added_in_the_file_keeps_its_place_in_the_database() -> None:
    base = plan(task("a"), task("b"), task("c"))
    file = plan(task("a"), task("x", text="Nouvelle"), task("b"), task("c"))
    result = merge_plan(base, file, base, DEFAULT)
    assert order(result.database_target) == ["a", "x", "b", "c"]
    assert [t.position for t in result.database_target.tasks.values()] == [0, 1, 2, 3]


def test_a_task_added_in_the_database_keeps_its_place_in_the_file() -> None:
    base = plan(task("a"), task("b"), task("c"))
    database = plan(task("y", text="Nouvelle"), task("a"), task("b"), task("c"))
    file = plan(task("a"), task("b"), task("c"), task("z", text="Autre"))
    result = merge_plan(base, file, database, DEFAULT)
    assert order(result.file_target) == ["y", "a", "b", "c", "z"]
    assert order(result.database_target) == order(result.file_target)


def test_both_sides_insert_at_one_spot_file_first() -> None:
    base = plan(task("a"), task("b"))
    file = plan(task("a"), task("x", text="Du fichier"), task("b"))
    database = plan(task("a"), task("y", text="De la base"), task("b"))
    result = merge_plan(base, file, database, DEFAULT)
    assert order(result.file_target) == ["a", "x", "y", "b"]


def test_a_move_in_the_database_reaches_the_file() -> None:
    base = plan(task("a"), task("b"), task("c"))
    database = plan(task("b"), task("c"), task("a"))
    file = plan(task("a"), task("b"), task("n", text="Neuve"), task("c"))
    result = merge_plan(base, file, database, DEFAULT)
    assert order(result.file_target) == ["b", "n", "c", "a"]
    assert [t.position for t in result.file_target.tasks.values()] == [0, 1, 2, 3]


def test_when_both_sides_move_a_task_the_file_decides_its_place() -> None:
    base = plan(task("a"), task("b"), task("c"))
    file = plan(task("b"), task("c"), task("a"))
    database = plan(task("b"), task("a"), task("c"))
    result = merge_plan(base, file, database, DEFAULT)
    assert order(result.file_target) == ["b", "c", "a"]
    assert result.opened == []


def test_an_insertion_at_the_top_moves_nothing() -> None:
    base = plan(task("a"), task("b"))
    file = plan(task("x", text="En tête"), task("a"), task("b"))
    database = plan(task("b"), task("a"))
    result = merge_plan(base, file, database, DEFAULT)
    assert order(result.database_target) == ["x", "b", "a"]


def test_a_task_whose_place_is_held_keeps_the_files_spot_in_the_order() -> None:
    """The database keeps a held task elsewhere (its own place): that is no move."""
    base = plan(task("a"), task("b"), task("c", phase="p2"), task("h", phase="p2"))
    file = base
    database = plan(task("a"), task("h"), task("b"), task("c", phase="p2"))
    result = merge_plan(base, file, database, DEFAULT, held=[HeldField("h", "place")])
    assert order(result.file_target) == ["a", "b", "c", "h"]
    assert result.file_target.tasks["h"].phase == "p2"
    assert result.database_target.tasks["h"].phase == "p1"


def test_a_held_task_is_no_anchor_for_a_task_the_database_puts_after_it() -> None:
    base = plan(task("a"), task("b"), task("h", phase="p2"))
    database = plan(task("a"), task("h"), task("n", text="Neuve"), task("b"))
    result = merge_plan(base, base, database, DEFAULT, held=[HeldField("h", "place")])
    assert order(result.file_target) == ["a", "n", "b", "h"]


def test_moves_in_the_database_are_seen_against_the_order_the_engine_gave_it() -> None:
    """After a held task was written at the database's spot, the database's order differs
    from the base's with no one having moved anything: once settled, nothing moves."""
    base = plan(task("a"), task("b"), task("c"), task("h"))
    database = plan(task("a"), task("h"), task("b"), task("c"))
    as_written = ["a", "h", "b", "c"]
    result = merge_plan(base, base, database, DEFAULT, database_base_order=as_written)
    assert order(result.file_target) == ["a", "b", "c", "h"]
    moved = merge_plan(base, base, database, DEFAULT)
    assert order(moved.file_target) == ["a", "h", "b", "c"]


def test_a_place_settled_for_the_database_takes_the_databases_spot() -> None:
    base = plan(task("a"), task("b"), task("h"), task("c"))
    database = plan(task("a"), task("b"), task("c"), task("h"))
    as_written = ["a", "b", "c", "h"]
    kept = merge_plan(base, base, database, DEFAULT, database_base_order=as_written)
    assert order(kept.file_target) == ["a", "b", "h", "c"]
    settled = merge_plan(
        base, base, database, DEFAULT, database_base_order=as_written, database_spots=["h"]
    )
    assert order(settled.file_target) == ["a", "b", "c", "h"]


# --- parents -----------------------------------------------------------------------------


def test_a_parent_deleted_in_the_target_gives_way_to_its_surviving_ancestor() -> None:
    base = plan(task("g"), task("p", parent="g"), task("c", parent="p"))
    database = plan(task("g"), task("c", parent="p"))
    result = merge_plan(base, base, database, DEFAULT)
    for target in (result.file_target, result.database_target):
        assert "p" not in target.tasks
        assert target.tasks["c"].parent_id == "g"


def test_a_parent_with_no_surviving_ancestor_becomes_none() -> None:
    base = plan(task("p"), task("c", parent="p"))
    file = plan(task("c", parent="p"))
    result = merge_plan(base, file, base, DEFAULT)
    assert result.file_target.tasks["c"].parent_id is None
    assert result.database_target == result.file_target


def test_moves_from_both_sides_that_form_a_cycle_are_broken() -> None:
    base = plan(task("a"), task("b"))
    file = plan(task("a", parent="b"), task("b"))
    database = plan(task("a"), task("b", parent="a"))
    result = merge_plan(base, file, database, DEFAULT)
    parents = {key: t.parent_id for key, t in result.file_target.tasks.items()}
    assert parents == {"a": None, "b": "a"}
    assert result.database_target == result.file_target


def test_create_vs_create_renames_parent_references() -> None:
    base = plan(task("a"))
    file = plan(task("a"), task("f1", text="Nouvelle"), task("f2", text="Sous-tâche", parent="f1"))
    database = plan(
        task("a"), task("d1", text="Nouvelle"), task("d2", text="Sous-tâche", parent="d1")
    )
    result = merge_plan(base, file, database, DEFAULT)
    assert result.renamed == {"f1": "d1", "f2": "d2"}
    assert fields(result.file_target) == fields(database)
    assert result.opened == []


def test_create_vs_create_pairs_duplicates_in_document_order() -> None:
    base = plan()
    file = plan(task("f1", text="Même"), task("f2", text="Même", status="done"))
    database = plan(task("d1", text="Même"), task("d2", text="Même", status="done"))
    result = merge_plan(base, file, database, DEFAULT)
    assert result.renamed == {"f1": "d1", "f2": "d2"}
    assert result.opened == []


# --- resolutions -------------------------------------------------------------------------


class CustomStatus:
    name = "custom-status"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        return Resolution("custom", "blocked")


class BadPlace:
    name = "bad-place"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        return Resolution("custom", "phase 2")


def with_strategy(kind: ConflictType, strategy: object) -> ConflictPolicy:
    strategies = dict(DEFAULT.strategies)
    strategies[kind] = strategy  # type: ignore[assignment]
    return ConflictPolicy(strategies, DEFAULT.severities)


def test_a_custom_resolution_reaches_both_targets() -> None:
    base = plan(task("a"))
    file = plan(task("a", status="done"))
    database = plan(task("a", status="cancelled"))
    result = merge_plan(base, file, database, with_strategy(ConflictType.STATUS, CustomStatus()))
    assert result.file_target.tasks["a"].status == "blocked"
    assert result.database_target.tasks["a"].status == "blocked"
    ((conflict, resolution),) = result.settled
    assert (conflict.markdown, conflict.database, resolution) == (
        "done",
        "cancelled",
        Resolution("custom", "blocked"),
    )


def test_a_custom_value_of_the_wrong_shape_is_refused() -> None:
    base = plan(task("a"))
    file = plan(task("a", phase="p2"))
    database = plan(task("a", phase="p3"))
    with pytest.raises(TypeError, match="place"):
        merge_plan(base, file, database, with_strategy(ConflictType.STRUCTURE, BadPlace()))


def test_a_custom_existence_resolution_may_bring_a_task_back() -> None:
    class Revive:
        name = "revive"

        def resolve(self, conflict: Conflict) -> Resolution | None:
            assert conflict.base is not None
            return Resolution("custom", conflict.base)

    base = plan(task("a", text="Écrire"))
    database = plan(task("a", text="Écrire la doc"))
    result = merge_plan(base, plan(), database, with_strategy(ConflictType.STRUCTURE, Revive()))
    assert result.file_target.tasks["a"].text == "Écrire"
    assert result.database_target == result.file_target


def test_conflicts_carry_the_policy_severity() -> None:
    severities = dict.fromkeys(ConflictType, "low") | {ConflictType.STATUS: "high"}
    custom = ConflictPolicy(dict.fromkeys(ConflictType, ManualStrategy()), severities)
    base = plan(task("a"), meta=PLAN_META)
    file = plan(task("a", status="done"), meta={**PLAN_META, "version": "2.0"})
    database = plan(task("a", status="cancelled"), meta={**PLAN_META, "version": "3.0"})
    result = merge_plan(base, file, database, custom)
    assert [(c.type, c.severity) for c in result.opened] == [
        (ConflictType.METADATA, "low"),
        (ConflictType.STATUS, "high"),
    ]


# --- metadata ----------------------------------------------------------------------------


def test_meta_targets_carry_every_meta_field_and_extra_keys() -> None:
    base = plan(meta={"title": "Plan"})
    file = plan(meta={"title": "Plan", "owner": "équipe A"})
    result = merge_plan(base, file, base, DEFAULT)
    assert dict(result.database_target.meta) == {
        "title": "Plan",
        "version": None,
        "date": None,
        "declared_progress": None,
        "owner": "équipe A",
    }


# --- purity ------------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_output() -> None:
    base = plan(task("a"), task("b"), task("c", parent="b"))
    file = plan(
        task("b", status="done"), task("c", parent="b", text="Modifiée"), task("x", text="N")
    )
    database = plan(
        task("a", status="cancelled"), task("c", parent="b", text="Changée"), task("y", text="M")
    )
    held = [HeldField("b", "text"), HeldField("a", "status"), HeldField(None, "date")]
    first = merge_plan(base, file, database, DEFAULT, held=held)
    again = merge_plan(base, file, database, DEFAULT, held=list(reversed(held)))
    assert first == again
    assert order(first.file_target) == order(again.file_target)
    assert base == plan(task("a"), task("b"), task("c", parent="b"))  # inputs untouched


def test_a_converged_result_says_so() -> None:
    base = plan(task("a"))
    assert merge_plan(base, base, base, DEFAULT).converged
    diverged = merge_plan(base, plan(task("a", status="x")), plan(task("a", status="y")), DEFAULT)
    assert not diverged.converged


def test_a_manual_place_conflict_keeps_each_side_and_its_parent() -> None:
    base = plan(task("p"), task("q"), task("a"))
    file = plan(task("p"), task("q"), task("a", parent="p"))
    database = plan(task("p"), task("q"), task("a", parent="q"))
    result = merge_plan(base, file, database, DEFAULT)
    assert result.file_target.tasks["a"].parent_id == "p"
    assert result.database_target.tasks["a"].parent_id == "q"
    (conflict,) = result.opened
    assert (conflict.base, conflict.markdown, conflict.database) == (
        ("p1", None),
        ("p1", "p"),
        ("p1", "q"),
    )
    assert (
        replace(result.file_target.tasks["a"], parent_id="q") == result.database_target.tasks["a"]
    )


# --- places compared by where they lead ----------------------------------------------------


def test_a_subtask_under_a_task_waiting_on_a_delete_vs_edit_conflict_stays_put() -> None:
    base = plan(task("p", text="Parent"), task("c", text="Enfant"))
    file = plan(task("c", text="Enfant"))  # the file deleted p
    database = plan(task("p", text="Parent modifié"), task("c", text="Enfant", parent="p"))
    first = merge_plan(base, file, database, DEFAULT)
    assert [c.field for c in first.opened] == ["exists"]
    # the file cannot express a parent it lacks; the database keeps its own
    assert first.file_target.tasks["c"].parent_id is None
    assert first.database_target.tasks["c"].parent_id == "p"
    # run again with the conflict open: nothing new, nothing moves
    held = [HeldField("p", "exists")]
    again = merge_plan(base, first.file_target, first.database_target, DEFAULT, held)
    assert again.opened == []
    assert again.file_target == first.file_target
    assert again.database_target == first.database_target


def test_a_parent_gone_from_both_targets_is_no_difference() -> None:
    base = plan(task("p"), task("x"))
    file = plan(task("n", text="Nouvelle"))  # the file dropped p and x, added n at top level
    database = plan(task("p"), task("n2", text="Autre"), task("n", text="Nouvelle", parent="p"))
    result = merge_plan(base, file, database, DEFAULT)
    assert result.renamed == {}
    assert result.opened == []
    assert "p" not in result.database_target.tasks
    assert result.database_target.tasks["n"].parent_id is None


def test_a_move_relative_only_to_tasks_the_other_side_deleted_is_no_move() -> None:
    base = plan(task("a"), task("b"), task("c"), task("d"))
    file = plan(task("b"), task("c"), task("a"), task("d"))  # a moved after b and c…
    database = plan(task("a"), task("d"))  # …which the database deleted, and kept a before d
    result = merge_plan(base, file, database, DEFAULT)
    assert order(result.file_target) == ["a", "d"]
