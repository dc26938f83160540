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
    SetMetadata,
    SetStatus,
    SetText,
    SetTitle,
    apply_edits,
    writable_metadata,
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


# --- moves: the new neighbours' bullet, sub-tasks along, other edits carried ----------------

NESTED = (
    "## Phase 1: A\n"
    "\n"
    "- [ ] a\n"
    "  - [ ] a1\n"
    "  - [ ] a2\n"
    "- [ ] b\n"
    "\n"
    "## Phase 2: B\n"
    "\n"
    "* [ ] c\n"
    "* [ ] d\n"
    "\n"
    "## Phase 3: C\n"
    "\n"
    "Rien encore.\n"
)


def test_a_moved_task_takes_the_bullet_of_its_new_neighbours() -> None:
    out = apply_edits(NESTED.encode(), [MoveTask(3, after_line=10)]).decode()
    assert out == NESTED.replace("- [ ] a\n  - [ ] a1\n  - [ ] a2\n", "").replace(
        "* [ ] c\n", "* [ ] c\n* [ ] a\n  - [ ] a1\n  - [ ] a2\n"
    )
    ordered = "1. [ ] un\n2. [ ] deux\n\n- [ ] trois\n  - [ ] sous\n"
    out = apply_edits(ordered.encode(), [MoveTask(4, after_line=2)]).decode()
    assert out == "1. [ ] un\n2. [ ] deux\n3. [ ] trois\n   - [ ] sous\n\n"


def test_a_task_moved_under_another_goes_to_its_content_column() -> None:
    out = apply_edits(NESTED.encode(), [MoveTask(3, under_line=11)]).decode()
    assert "* [ ] d\n  * [ ] a\n    - [ ] a1\n    - [ ] a2\n" in out
    first = apply_edits(NESTED.encode(), [MoveTask(6, under_line=3)]).decode()
    assert first.startswith("## Phase 1: A\n\n- [ ] a\n  - [ ] b\n  - [ ] a1\n  - [ ] a2\n\n")
    wide = "*   [ ] p\n*   [ ] q\n"
    assert apply_edits(wide.encode(), [MoveTask(2, under_line=1)]) == b"*   [ ] p\n    *   [ ] q\n"


def test_a_task_moved_to_the_start_or_into_an_empty_phase() -> None:
    out = apply_edits(NESTED.encode(), [MoveTask(6, phase=1, first=True)]).decode()
    assert "## Phase 2: B\n\n* [ ] b\n* [ ] c\n" in out
    out = apply_edits(NESTED.encode(), [MoveTask(4, phase=2)]).decode()
    assert out.endswith("## Phase 3: C\n\nRien encore.\n\n- [ ] a1\n")
    assert "  - [ ] a1\n" not in out
    out = apply_edits(NESTED.encode(), [MoveTask(11)]).decode()  # no phase: before the first
    assert out.startswith("* [ ] d\n## Phase 1: A\n")


def test_moves_chain_and_edits_go_along() -> None:
    edits = [
        MoveTask(3, after_line=11),
        MoveTask(6, after_line=3),
        InsertTask("e", after_line=6),
        SetStatus(4, "done"),
        SetText(6, "b modifiée"),
    ]
    out = apply_edits(NESTED.encode(), edits).decode()
    assert out == (
        "## Phase 1: A\n\n\n## Phase 2: B\n\n* [ ] c\n* [ ] d\n"
        "* [ ] a\n  - [x] a1\n  - [ ] a2\n* [ ] b modifiée\n* [ ] e\n"
        "\n## Phase 3: C\n\nRien encore.\n"
    )


def test_a_subtask_moved_out_of_a_deleted_task_lives_on() -> None:
    out = apply_edits(NESTED.encode(), [DeleteTask(3), MoveTask(5, after_line=6)]).decode()
    assert out.startswith("## Phase 1: A\n\n- [ ] b\n- [ ] a2\n\n## Phase 2")


def test_impossible_moves_raise_render_errors() -> None:
    with pytest.raises(RenderError, match="moved twice"):
        apply_edits(NESTED.encode(), [MoveTask(3, phase=1), MoveTask(3, phase=2)])
    with pytest.raises(RenderError, match="under itself"):
        apply_edits(NESTED.encode(), [MoveTask(3, under_line=4)])
    with pytest.raises(RenderError, match="under itself"):  # each under the other
        apply_edits(NESTED.encode(), [MoveTask(4, under_line=10), MoveTask(10, under_line=4)])
    # a1 moves out first: its parent may then go after it.
    out = apply_edits(NESTED.encode(), [MoveTask(4, phase=1), MoveTask(3, after_line=4)])
    assert out.decode().endswith(
        "* [ ] d\n* [ ] a1\n* [ ] a\n  - [ ] a2\n\n## Phase 3: C\n\nRien encore.\n"
    )


# --- metadata: only the value changes ------------------------------------------------------


def test_the_plan_title_version_and_date_change_in_place() -> None:
    edits = [
        SetTitle("Plan de livraison v2 - Démo"),
        SetMetadata("version", "2.0"),
        SetMetadata("date", "2025-07-01"),
    ]
    out = apply_edits(PLAN.encode(), edits)
    before, after = _lines(PLAN.encode()), _lines(out)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [0, 2]
    assert after[0] == "# Plan de livraison v2 - Démo\n".encode()
    assert after[2] == b"**Version 2.0 - 2025-07-01 - Progression : 33 %**\n"
    plan = parse_plan(out).plan
    assert (plan.title, plan.version, plan.date) == (
        "Plan de livraison v2 - Démo",
        "2.0",
        "2025-07-01",
    )


def test_a_phase_title_changes_and_its_heading_keeps_the_rest() -> None:
    source = (
        "# Plan\n\n## 🚀 Phase 1 : **Départ rapide** ✅\n\n- [x] a\n\n"
        "## Phase 2\n\n- [ ] b\n\n### 2. Nom {#ancre}\n"
    )
    out = apply_edits(source.encode(), [SetTitle("Lancement", phase=0), SetTitle("Suite", phase=1)])
    assert out.decode() == source.replace("Départ rapide", "Lancement").replace(
        "## Phase 2\n", "## Phase 2: Suite\n"
    )
    plan = parse_plan(out).plan
    assert [(phase.number, phase.title) for phase in plan.phases] == [
        (1, "Lancement"),
        (2, "Suite"),
    ]
    assert writable_metadata(parse_plan(source.encode())) == {"title", "phases[0]", "phases[1]"}
    plain = apply_edits(b"## 3. Tests de charge\n- [ ] a\n", [SetTitle("Charge", phase=0)])
    assert plain == b"## 3. Charge\n- [ ] a\n"
    # Emphasis inside the title goes with it, so none is left open.
    split = b"## Phase 1: **Tests** de charge\n"
    assert apply_edits(split, [SetTitle("Charge", phase=0)]) == b"## Phase 1: Charge\n"


def test_front_matter_title_and_date() -> None:
    source = b"---\ntitle: 'Plan A'\ndate: 2025-06-13\n---\n\nTexte.\n\n- [ ] a\n"
    assert writable_metadata(parse_plan(source)) == {"title", "date"}
    out = apply_edits(source, [SetTitle("Plan B: l'API"), SetMetadata("date", "2025-07-01")])
    assert out == b"---\ntitle: 'Plan B: l''API'\ndate: 2025-07-01\n---\n\nTexte.\n\n- [ ] a\n"
    assert (parse_plan(out).plan.title, parse_plan(out).plan.date) == (
        "Plan B: l'API",
        "2025-07-01",
    )
    with pytest.raises(RenderError, match="no version"):
        apply_edits(source, [SetMetadata("version", "2")])
    folded = b"---\ntitle: >-\n  Plan A\n---\n\n- [ ] a\n"  # not one line to rewrite
    assert parse_plan(folded).plan.title == "Plan A"
    assert writable_metadata(parse_plan(folded)) == set()
    # A date the line holds only with emphasis inside has no place to be rewritten.
    split = parse_plan(b"# Plan\n\nVersion 1.0 - **14** mars 2026\n\n- [ ] a\n")
    assert split.plan.date == "14 mars 2026"
    assert writable_metadata(split) == {"title", "version"}
