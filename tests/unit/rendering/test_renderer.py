"""The minimal-edit renderer: each edit changes its own lines and nothing else."""

from __future__ import annotations

import codecs

import pytest

from sync_engine.parsing import parse_plan
from sync_engine.rendering import (
    DeleteTask,
    InsertTask,
    MoveTask,
    RenderError,
    SetDeclaredProgress,
    SetStatus,
    SetText,
    apply_edits,
)

PLAN = (
    "# Plan de développement v1 - Démo 🚀\n"
    "\n"
    "**Version 1.0 - 2025-06-13 - Progression : 33 %**\n"
    "\n"
    "## Phase 1 : Départ\n"
    "\n"
    "- [x] **1.1** Écrire le parseur ✅   \n"
    "- [ ] **1.2** Écrire les tests\n"
    "  - [ ] **1.2.1** Cas limites\n"
    "\n"
    "## Phase 2 : Suite\n"
    "\n"
    "*Progression: 0%*\n"
)


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def test_set_status_changes_one_character() -> None:
    out = apply_edits(PLAN.encode(), [SetStatus(8, "done")])
    before, after = _lines(PLAN.encode()), _lines(out)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [7]
    assert after[7] == "- [x] **1.2** Écrire les tests\n".encode()


def test_done_follows_the_plans_own_style() -> None:
    source = b"- [X] a\n- [X] b\n- [ ] c\n"
    assert apply_edits(source, [SetStatus(3, "done")]) == b"- [X] a\n- [X] b\n- [X] c\n"


def test_named_and_raw_states() -> None:
    out = apply_edits(b"- [ ] a\n- [b] b\n", [SetStatus(1, "in_progress"), SetStatus(2, "todo")])
    assert out == b"- [/] a\n- [ ] b\n"
    with pytest.raises(RenderError, match="line 1: unknown status 'nonsense'"):
        apply_edits(b"- [ ] a\n", [SetStatus(1, "nonsense")])


@pytest.mark.parametrize("status", ["in_progress", "deferred", "question", "b"])
def test_a_state_written_to_a_bare_checkbox_reads_back(status: str) -> None:
    # Plans write checkboxes without bullets too; a state other than todo/done written
    # there must still read as the same task, with that state.
    source = b"Phase 3\n\n[ ] Mettre \xc3\xa0 jour\n[ ] Ajuster la progression\n"
    out = apply_edits(source, [SetStatus(3, status)])
    plan = parse_plan(out).plan
    assert [(task.line, task.status, task.bulleted) for task in plan.tasks] == [
        (3, status, False),
        (4, "todo", False),
    ]


@pytest.mark.parametrize("status", ["important", "in_progress", "b"])
def test_a_state_written_after_a_code_block_left_open_reads_back(status: str) -> None:
    # The open block ends at the first checkbox item at the margin; a new state must not
    # hide the task back inside it.
    source = b"```go\nfunc f() {\n}\n- [x] Mettre \xc3\xa0 jour\n- [ ] Suivante\n"
    out = apply_edits(source, [SetStatus(4, status)])
    plan = parse_plan(out).plan
    assert [(task.line, task.status) for task in plan.tasks] == [(4, status), (5, "todo")]


def test_set_text_keeps_trailing_spaces_and_line_ending() -> None:
    source = PLAN.replace("\n", "\r\n").encode()
    out = apply_edits(source, [SetText(7, "**1.1** Écrire le lecteur")])
    assert _lines(out)[6] == "- [x] **1.1** Écrire le lecteur   \r\n".encode()
    assert _lines(out)[:6] == _lines(source)[:6]
    assert _lines(out)[7:] == _lines(source)[7:]


def test_bom_and_missing_final_newline_survive() -> None:
    source = codecs.BOM_UTF8 + b"- [ ] a\n- [ ] b"
    assert apply_edits(source, [SetStatus(2, "done")]) == codecs.BOM_UTF8 + b"- [ ] a\n- [x] b"
    assert apply_edits(source, [InsertTask("c", after_line=2)]) == (
        codecs.BOM_UTF8 + b"- [ ] a\n- [ ] b\n- [ ] c"
    )


def test_insert_copies_the_neighbours_style() -> None:
    source = b"## Phase 1: A\n\n*   [x] one\n*   [ ] two\n\nText after.\n"
    out = apply_edits(source, [InsertTask("three", after_line=4)])
    assert out == b"## Phase 1: A\n\n*   [x] one\n*   [ ] two\n*   [ ] three\n\nText after.\n"
    ordered = apply_edits(b"1. [ ] one\n2. [ ] two\n", [InsertTask("three", after_line=2)])
    assert ordered == b"1. [ ] one\n2. [ ] two\n3. [ ] three\n"


def test_insert_after_a_task_goes_after_its_subtasks() -> None:
    out = apply_edits(PLAN.encode(), [InsertTask("**1.3** Nouvelle", after_line=8)])
    assert _lines(out)[9] == b"- [ ] **1.3** Nouvelle\n"
    parsed = parse_plan(out).plan
    assert [task.title for task in parsed.tasks_in_phase(0)][-1] == "Nouvelle"


def test_insert_as_child_and_into_an_empty_phase() -> None:
    out = apply_edits(PLAN.encode(), [InsertTask("sous-tâche", after_line=7, as_child=True)])
    assert _lines(out)[7] == "  - [ ] sous-tâche\n".encode()
    out = apply_edits(PLAN.encode(), [InsertTask("première de la phase 2", phase=1)])
    plan = parse_plan(out).plan
    assert [task.title for task in plan.tasks_in_phase(1)] == ["première de la phase 2"]
    assert out.startswith(PLAN.encode())


def test_delete_removes_the_task_with_its_subtasks() -> None:
    out = apply_edits(PLAN.encode(), [DeleteTask(8)])
    assert b"1.2" not in out
    assert b"1.2.1" not in out
    assert len(_lines(out)) == len(_lines(PLAN.encode())) - 2


def test_delete_takes_a_markdown_example_with_fences_of_its_own_along() -> None:
    source = (
        b"- [x] R\xc3\xa9f\xc3\xa9rence API\n"
        b"\n"
        b"    ```markdown\n"
        b"    ```http\n"
        b"    POST /sync\n"
        b"    ```\n"
        b"    ```\n"
        b"\n"
        b"- [ ] Guide\n"
    )
    out = apply_edits(source, [DeleteTask(1)])
    assert out == b"\n- [ ] Guide\n"
    assert [task.text for task in parse_plan(out).plan.tasks] == ["Guide"]


def test_delete_keeping_subtasks_moves_them_out_one_level() -> None:
    out = apply_edits(PLAN.encode(), [DeleteTask(8, keep_subtasks=True), SetStatus(9, "done")])
    assert b"1.2 " not in out
    assert b"- [x] **1.2.1** Cas limites\n" in _lines(out)
    plan = parse_plan(out).plan
    assert [(task.title, task.parent) for task in plan.tasks_in_phase(0)] == [
        ("Écrire le parseur ✅", None),
        ("Cas limites", None),
    ]


def test_move_to_another_phase_reindents() -> None:
    out = apply_edits(PLAN.encode(), [MoveTask(9, phase=1)])
    plan = parse_plan(out).plan
    moved = next(task for task in plan.tasks if task.label == "1.2.1")
    assert plan.phases[moved.phase or 0].number == 2
    assert moved.indent == 0
    assert moved.parent is None


def test_move_after_a_task() -> None:
    out = apply_edits(PLAN.encode(), [MoveTask(7, after_line=8)])
    plan = parse_plan(out).plan
    assert [task.label for task in plan.tasks] == ["1.2", "1.2.1", "1.1"]


def test_declared_progress_keeps_its_spacing() -> None:
    out = apply_edits(PLAN.encode(), [SetDeclaredProgress(3, 67), SetDeclaredProgress(13, 12.5)])
    assert _lines(out)[2] == b"**Version 1.0 - 2025-06-13 - Progression : 67 %**\n"
    assert _lines(out)[12] == b"*Progression: 12.5%*\n"


def test_several_edits_refer_to_the_same_source() -> None:
    out = apply_edits(
        PLAN.encode(), [DeleteTask(7), SetStatus(9, "done"), InsertTask("fin", after_line=8)]
    )
    plan = parse_plan(out).plan
    assert [(task.title, task.status) for task in plan.tasks] == [
        ("Écrire les tests", "todo"),
        ("Cas limites", "done"),
        ("fin", "todo"),
    ]


def test_bad_edits_raise_render_errors() -> None:
    with pytest.raises(RenderError, match="no task starts on line 2"):
        apply_edits(PLAN.encode(), [SetStatus(2, "done")])
    with pytest.raises(RenderError, match="line 7: a task's text is one line"):
        apply_edits(PLAN.encode(), [SetText(7, "a\nb")])
    # A checkbox with no text reads as no task: the task would vanish from the file.
    with pytest.raises(RenderError, match="line 7: a task's text cannot be blank"):
        apply_edits(PLAN.encode(), [SetText(7, "  ")])
    with pytest.raises(RenderError, match="cannot be blank"):
        apply_edits(PLAN.encode(), [InsertTask("", after_line=7)])
    with pytest.raises(RenderError, match="not written"):
        apply_edits(b"- [ ] a\n<<<<<<< HEAD\n>>>>>>> b\n", [SetStatus(1, "done")])
    with pytest.raises(RenderError, match="under itself"):
        apply_edits(PLAN.encode(), [MoveTask(8, after_line=9)])
