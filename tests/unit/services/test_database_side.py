"""The database side of a three-way sync is read as the file will hold it."""

from __future__ import annotations

import pytest

from sync_engine.conflicts.model import PlanState, TaskState
from sync_engine.domain import DEFAULT_STATUS_TABLE
from sync_engine.ports.records import StoredTask
from sync_engine.services.database_side import database_side


def _row(task_id: str, text: str, status: str = "todo", parent: str | None = None) -> StoredTask:
    return StoredTask(task_id, 0, parent, None, text, text, status, " ", 1)


def _base(*tasks: tuple[str, str, str | None]) -> PlanState:
    return PlanState(
        {},
        {
            task_id: TaskState(task_id, "todo", text, None, parent, position)
            for position, (task_id, text, parent) in enumerate(tasks)
        },
    )


def _side(
    base: PlanState, *rows: StoredTask, file: PlanState | None = None
) -> dict[str, TaskState]:
    """The database side of ``rows``; the file as the base unless given."""
    side = database_side(rows, base, file or base, lambda key: None, DEFAULT_STATUS_TABLE)
    return dict(side.tasks)


def test_raw_characters_of_named_states_and_spaces_read_as_the_file_holds_them() -> None:
    base = _base(("a", "un", None), ("b", "deux", None), ("c", "trois", None))
    side = _side(base, _row("a", "  un  ", "X"), _row("b", "deux", "/"), _row("c", "trois", "~"))
    assert [(task.text, task.status) for task in side.values()] == [
        ("un", "done"),
        ("deux", "in_progress"),
        ("trois", "~"),
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Signer 🆔 sig01 📅 2026-04-08", "Nouveau 🆔 sig01"),
        ("Signer ^sig01", "Nouveau ^sig01"),
        ("Signer <!-- id: sig01 -->", "Nouveau <!-- id: sig01 -->"),
        ("Signer {#sig01}", "Nouveau {#sig01}"),
        ("Signer [id:: sig01]", "Nouveau [id:: sig01]"),
        ("Signer sans identifiant", "Nouveau"),
    ],
)
def test_a_new_text_keeps_the_explicit_id_of_the_old_one(before: str, after: str) -> None:
    side = _side(_base(("a", before, None)), _row("a", "Nouveau"))
    assert side["a"].text == after


def test_a_new_text_with_an_id_of_its_own_and_an_unchanged_text_are_left_alone() -> None:
    base = _base(("a", "Signer 🆔 sig01", None), ("b", "Payer 🆔 pay01", None))
    side = _side(base, _row("a", "Nouveau ^autre"), _row("b", "Payer 🆔 pay01"))
    assert [task.text for task in side.values()] == ["Nouveau ^autre", "Payer 🆔 pay01"]


def test_sub_tasks_of_a_deleted_task_are_deleted_whatever_their_rows_say() -> None:
    base = _base(
        ("p", "parent", None),
        ("c", "enfant", "p"),
        ("g", "petit-enfant", "c"),
        ("s", "suivante", None),
    )
    # A DELETE set the child's parent to NULL; the grandchild still names the child; a row
    # another program added names the deleted parent.
    side = _side(
        base,
        _row("c", "enfant"),
        _row("g", "petit-enfant", parent="c"),
        _row("n", "ajoutée", parent="p"),
        _row("s", "suivante"),
    )
    assert list(side) == ["s"]


def test_sub_tasks_the_database_edited_or_whose_deletion_the_file_contests_stay() -> None:
    base = _base(("p", "parent", None), ("c", "enfant", "p"), ("d", "autre", "p"))
    edited = _side(base, _row("c", "enfant", "done"), _row("d", "autre"))
    assert list(edited) == ["c"]  # an edit is never dropped with its parent
    file = _base(("p", "parent modifié", None), ("c", "enfant", "p"), ("d", "autre", "p"))
    contested = _side(base, _row("c", "enfant"), _row("d", "autre"), file=file)
    assert list(contested) == ["c", "d"]  # the file edited the parent: its deletion waits
