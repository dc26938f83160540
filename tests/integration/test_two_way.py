"""Both directions against the real embedded PostgreSQL and real files: edits through the
command line and through plain SQL reach the file, changing only their own lines; conflicts
wait for a person and their settling reaches both sides."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from typing import Any

import pytest

from sync_engine.adapters.postgres.store import PostgresPlanStore
from sync_engine.parsing import parse_plan
from tests.integration.sample_root import PLAN, Root


def first_todo_line(root: Root) -> int:
    return next(i for i, line in enumerate(root.lines(), 1) if line.startswith("- [ ] "))


def todo_pair_line(root: Root) -> int:
    """The line of the first to-do task followed by another top-level to-do task."""
    lines = root.lines()
    return next(
        i
        for i, (line, after) in enumerate(itertools.pairwise(lines), 1)
        if line.startswith("- [ ] ") and after.startswith("- [ ] ")
    )


def changed_lines(before: list[str], after: list[str]) -> list[int]:
    assert len(before) == len(after)
    return [i for i, (old, new) in enumerate(zip(before, after, strict=True), 1) if old != new]


def test_a_status_changed_from_the_command_line_changes_one_line(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    before = root.lines()
    raw = (root.path / PLAN).read_bytes()
    assert root.ok("tasks", "update", task["id"], "--status", "done")["status"] == "done"
    report = root.ok("sync")
    assert report["written_back"] == 1
    after = root.lines()
    assert changed_lines(before, after) == [line]
    assert after[line - 1] == before[line - 1].replace("- [ ] ", "- [x] ", 1)
    assert (root.path / PLAN).read_bytes() == raw.replace(
        before[line - 1].encode(), after[line - 1].encode()
    )
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_updated"], again["files_changed"]) == (0, 0, 0)
    assert root.sql("SELECT count(*) FROM change_log WHERE consumed_at IS NULL") == [(0,)]


def test_plain_sql_update_insert_and_delete_reach_the_file(root: Root) -> None:
    line = todo_pair_line(root)
    task = root.task_at(line)
    following = root.task_at(line + 1)
    root.sql("UPDATE tasks SET text = 'Réécrit en SQL 🚀' WHERE id = %s", task["id"])
    root.sql(
        "INSERT INTO tasks (plan_id, phase_id, position, text) "
        "SELECT plan_id, phase_id, position + 1, 'Ajoutée par SQL' FROM tasks WHERE id = %s",
        task["id"],
    )
    root.sql("DELETE FROM tasks WHERE id = %s", following["id"])
    assert root.sql("SELECT op, origin FROM change_log ORDER BY id") == [
        ("UPDATE", "sql"),
        ("INSERT", "sql"),
        ("DELETE", "sql"),
    ]
    before = root.lines()
    report = root.ok("sync")
    assert report["written_back"] == 1
    after = root.lines()
    prefix = before[line - 1][: before[line - 1].index("] ") + 2]
    assert after[line - 1] == prefix + "Réécrit en SQL 🚀"
    assert after[line] == "- [ ] Ajoutée par SQL"
    assert before[line] not in after  # the deleted task's line is gone
    assert after[line + 1 :] == before[line + 1 :]
    assert after[: line - 1] == before[: line - 1]
    tasks = root.ok("tasks", "list", "--plan", PLAN)
    added = next(t for t in tasks if t["text"] == "Ajoutée par SQL")
    assert added["line"] == line + 1
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_created"], again["tasks_deleted"]) == (0, 0, 0)


def test_tasks_add_after_a_task_and_delete(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    added = root.ok("tasks", "add", "--plan", PLAN, "--after", task["id"], "--text", "Nouvelle")
    root.ok("tasks", "delete", task["id"])
    before = root.lines()
    root.ok("sync")
    after = root.lines()
    assert after[line - 1] == "- [ ] Nouvelle"
    assert after[: line - 1] == before[: line - 1]
    assert after[line:] == before[line:]
    assert root.task_at(line)["id"] == added["id"]
    code, _ = root.run("tasks", "show", task["id"])
    assert code == 1


def test_a_status_changed_on_both_sides_waits_for_a_person(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    plan = root.path / PLAN
    text = plan.read_text("utf-8").splitlines(keepends=True)
    text[line - 1] = text[line - 1].replace("- [ ] ", "- [/] ", 1)
    plan.write_text("".join(text), encoding="utf-8")
    root.ok("tasks", "update", task["id"], "--status", "cancelled")

    report = root.ok("sync")
    assert report["conflicts_opened"] == 1
    assert root.lines()[line - 1].startswith("- [/] ")  # the file keeps the person's value
    assert root.ok("tasks", "show", task["id"])["status"] == "cancelled"  # the database its own
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert conflict["type"] == "status_divergence"
    assert (conflict["field"], conflict["task_id"]) == ("status", task["id"])
    assert (conflict["base"], conflict["markdown"], conflict["database"]) == (
        "todo",
        "in_progress",
        "cancelled",
    )
    # The field is held: neither side propagates, and a command refuses to edit it.
    assert root.ok("sync")["conflicts_opened"] == 0
    code, _ = root.run("tasks", "update", task["id"], "--status", "done")
    assert code == 1
    root.ok("tasks", "update", task["id"], "--text", "Un autre texte")  # other fields are free

    settled = root.ok("conflicts", "resolve", conflict["id"], "--take", "database")
    assert settled["status"] == "resolved"
    assert settled["resolution"]["take"] == "database"
    root.ok("sync")
    assert root.lines()[line - 1] == "- [-] Un autre texte"
    assert root.ok("tasks", "show", task["id"])["status"] == "cancelled"
    assert root.ok("conflicts", "show", conflict["id"])["applied_at"] is not None
    again = root.ok("sync")
    assert (again["written_back"], again["conflicts_opened"]) == (0, 0)
    audit = root.sql("SELECT action FROM audit_log ORDER BY id")
    assert ("conflict.resolve",) in audit


def test_text_edits_on_both_sides_that_do_not_overlap_are_merged(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    original = task["text"]
    words = original.split(" ")
    assert len(words) >= 4, original
    file_text = " ".join([*words[:-1], words[-1] + " (fichier)"])
    database_text = " ".join(["Vite", *words])
    plan = root.path / PLAN
    lines = plan.read_text("utf-8").splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(original, file_text, 1)
    plan.write_text("".join(lines), encoding="utf-8")
    root.ok("tasks", "update", task["id"], "--text", database_text)
    report = root.ok("sync")
    assert report["conflicts_opened"] == 0
    merged = " ".join(["Vite", *words[:-1], words[-1] + " (fichier)"])
    assert root.lines()[line - 1] == "- [ ] " + merged
    assert root.ok("tasks", "show", task["id"])["text"] == merged
    (settled,) = root.ok("conflicts", "list", "--status", "resolved")
    assert settled["type"] == "content_divergence"


def test_dry_run_shows_the_diff_and_writes_nothing(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    root.ok("tasks", "update", task["id"], "--status", "done")
    raw = (root.path / PLAN).read_bytes()
    report = root.ok("sync", "--dry-run")
    assert (root.path / PLAN).read_bytes() == raw
    diff = "\n".join(report["changes"])
    assert f"+++ b/{PLAN}" in diff
    assert "+- [x] " in diff
    assert root.sql("SELECT count(*) FROM change_log WHERE consumed_at IS NULL") == [(1,)]


def test_direction_to_db_leaves_database_edits_for_later(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    root.ok("tasks", "update", task["id"], "--status", "done")
    raw = (root.path / PLAN).read_bytes()
    root.ok("sync", "--direction", "to-db")
    assert (root.path / PLAN).read_bytes() == raw
    root.ok("sync", "--direction", "both")
    assert root.lines()[line - 1].startswith("- [x] ")


def test_a_file_changed_between_merge_and_rename_is_not_overwritten(
    root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_engine.adapters.filesystem import LocalPlanFiles

    line = first_todo_line(root)
    task = root.task_at(line)
    root.ok("tasks", "update", task["id"], "--status", "done")
    plan = root.path / PLAN
    real_write = LocalPlanFiles.write
    calls: list[int] = []

    def editor_saves_first(self: LocalPlanFiles, path: str, data: bytes, expected: str) -> Any:
        if not calls:  # an editor saves between the merge and the rename
            plan.write_text(plan.read_text("utf-8") + "- [ ] Ajoutée dans l'éditeur\n", "utf-8")
        calls.append(1)
        return real_write(self, path, data, expected)

    monkeypatch.setattr(LocalPlanFiles, "write", editor_saves_first)
    report = root.ok("sync")
    assert len(calls) == 2  # refused once, retried on the new content
    assert report["written_back"] == 1
    lines = root.lines()
    assert lines[line - 1].startswith("- [x] ")
    assert lines[-1] == "- [ ] Ajoutée dans l'éditeur"
    texts = [t["text"] for t in root.ok("tasks", "list", "--plan", PLAN)]
    assert "Ajoutée dans l'éditeur" in texts


def test_a_task_added_under_a_parent_is_its_sub_task_in_the_file(root: Root) -> None:
    lines = root.lines()
    parent_line = next(i for i, line in enumerate(lines, 1) if "**2.2.3** " in line)
    assert lines[parent_line].startswith("  - [ ] **2.2.3.1**")
    parent = root.task_at(parent_line)
    last_child = root.task_at(parent_line + 2)
    root.sql(
        "INSERT INTO tasks (plan_id, parent_id, position, text) "
        "SELECT plan_id, id, position + 1, 'Sous-tâche par SQL' FROM tasks WHERE id = %s",
        parent["id"],
    )
    root.ok("tasks", "add", "--plan", PLAN, "--after", last_child["id"], "--text", "Par la CLI")
    root.ok("sync")
    after = root.lines()
    assert after[parent_line : parent_line + 4] == [
        "  - [ ] Sous-tâche par SQL",
        lines[parent_line],
        lines[parent_line + 1],
        "  - [ ] Par la CLI",
    ]
    assert after[parent_line + 4 :] == lines[parent_line + 2 :]
    parents = root.sql(
        "SELECT text, parent_id::text FROM tasks WHERE text IN "
        "('Sous-tâche par SQL', 'Par la CLI') AND deleted_at IS NULL ORDER BY text"
    )
    assert parents == [("Par la CLI", parent["id"]), ("Sous-tâche par SQL", parent["id"])]
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_updated"], again["conflicts_opened"]) == (0, 0, 0)


def test_a_task_deleted_in_the_database_takes_its_sub_tasks_with_it(root: Root) -> None:
    lines = root.lines()
    parent_line = next(i for i, line in enumerate(lines, 1) if "**2.2.3** " in line)
    parent = root.task_at(parent_line)
    children = [root.task_at(parent_line + 1)["id"], root.task_at(parent_line + 2)["id"]]
    root.sql("DELETE FROM tasks WHERE id = %s", parent["id"])
    root.ok("sync")
    assert root.lines() == lines[: parent_line - 1] + lines[parent_line + 2 :]
    live = root.sql(
        "SELECT count(*) FROM tasks WHERE id = ANY(%s::uuid[]) AND deleted_at IS NULL", children
    )
    assert live == [(0,)]
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_created"], again["tasks_deleted"]) == (0, 0, 0)


@pytest.mark.parametrize(
    "delete",
    [
        "DELETE FROM tasks WHERE id = %s",
        "UPDATE tasks SET deleted_at = now() WHERE id = %s",
        "cli",
    ],
    ids=["sql-delete", "sql-tombstone", "cli"],
)
def test_a_task_deleted_in_the_database_takes_its_subtasks_along(root: Root, delete: str) -> None:
    parent = root.task_at(55)  # **2.2.3** with two sub-tasks on lines 56-57
    before = root.lines()
    if delete == "cli":
        root.ok("tasks", "delete", parent["id"])
    else:
        root.sql(delete, parent["id"])
    report = root.ok("sync")
    # The parent was gone from the database already; its two sub-tasks go now.
    assert (report["written_back"], report["tasks_deleted"], report["conflicts_opened"]) == (
        1,
        2,
        0,
    )
    assert root.lines() == before[:54] + before[57:]
    rows = root.ok("tasks", "list", "--plan", PLAN)
    assert not [task for task in rows if task["text"].startswith("**2.2.3")]
    assert [task["line"] for task in rows] == [
        parsed.line for parsed in parse_plan((root.path / PLAN).read_bytes()).plan.tasks
    ]
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_deleted"], again["tasks_updated"]) == (0, 0, 0)


def test_a_subtask_edited_in_the_file_keeps_its_line_when_the_database_deletes_its_parent(
    root: Root,
) -> None:
    parent = root.task_at(55)
    plan = root.path / PLAN
    text = plan.read_text("utf-8").splitlines(keepends=True)
    text[55] = text[55].replace("- [ ] ", "- [x] ", 1)  # line 56, **2.2.3.1**
    plan.write_text("".join(text), encoding="utf-8")
    root.sql("DELETE FROM tasks WHERE id = %s", parent["id"])
    before = root.lines()

    report = root.ok("sync")
    assert report["conflicts_opened"] == 1
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert (conflict["type"], conflict["field"]) == ("structure_change", "exists")
    # The parent's line goes with its untouched sub-task; the edited one stays, as edited,
    # moved out one level (under the parent's parent, as in the database).
    kept = before[55].removeprefix("  ")
    assert kept.startswith("- [x] **2.2.3.1**")
    assert root.lines() == [*before[:54], kept, *before[57:]]
    again = root.ok("sync")
    assert (again["written_back"], again["conflicts_opened"]) == (0, 0)
    assert root.lines() == [*before[:54], kept, *before[57:]]


def test_a_text_written_with_inline_fields_keeps_the_tasks_identity(root: Root) -> None:
    task = root.task_at(15)  # **1.1.1** … (2h)
    text = "**1.1.1** Router #gateway #api #edge 📅 2025-07-01 ⏳ 2025-06-20 🔼 (2h)"
    root.sql("UPDATE tasks SET text = %s WHERE id = %s", text, task["id"])
    report = root.ok("sync")
    assert (report["written_back"], report["tasks_created"], report["tasks_deleted"]) == (1, 0, 0)
    assert root.lines()[14] == "- [x] " + text
    assert root.task_at(15)["id"] == task["id"]
    assert root.ok("tasks", "show", task["id"])["text"] == text
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_created"], again["tasks_updated"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("column", "value"),
    [("text", "deux\nlignes"), ("text", "   "), ("status", "finie")],
    ids=["line-break", "blank", "unknown-status"],
)
def test_a_value_the_file_cannot_hold_is_refused_naming_the_plan(
    root: Root, column: str, value: str
) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    mobile = "roadmap-mobile-app.md"
    todo = next(i for i, body in enumerate(root.lines(mobile), 1) if body.startswith("- [ ] "))
    other = root.task_at(todo, mobile)
    root.sql(f"UPDATE tasks SET {column} = %s WHERE id = %s", value, task["id"])
    root.sql("UPDATE tasks SET status = 'done' WHERE id = %s", other["id"])
    raw = (root.path / PLAN).read_bytes()
    code, report = root.run("sync")
    assert code == 1
    (message,) = report["refused"]
    assert message.startswith(f"{PLAN}: left as it is")
    assert f"line {line}" in message
    assert (root.path / PLAN).read_bytes() == raw  # left as it is
    assert report["written_back"] == 1  # the other plan is synced all the same
    assert root.ok("tasks", "show", other["id"])["status"] == "done"
    root.sql("UPDATE tasks SET text = 'Corrigé', status = 'todo' WHERE id = %s", task["id"])
    report = root.ok("sync")
    assert (report["written_back"], report["refused"]) == (1, [])
    assert root.lines()[line - 1] == "- [ ] Corrigé"


def test_a_text_with_spaces_around_it_and_a_raw_done_character_read_as_the_file_holds_them(
    root: Root,
) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    root.sql(
        "UPDATE tasks SET text = %s, status = 'X' WHERE id = %s",
        "  Réécrit, avec des espaces  ",
        task["id"],
    )
    assert root.ok("sync")["written_back"] == 1
    assert root.lines()[line - 1] == "- [x] Réécrit, avec des espaces"
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_updated"], again["files_changed"]) == (0, 0, 0)
    shown = root.ok("tasks", "show", task["id"])
    assert (shown["text"], shown["status"]) == ("Réécrit, avec des espaces", "done")


@pytest.mark.parametrize("via", ["cli", "sql"])
def test_a_new_text_keeps_the_explicit_id_the_file_gave_the_task(root: Root, via: str) -> None:
    name = "roadmap-mobile-app.md"
    task = root.task_at(48, name)  # "- [ ] Customer signature pad 📅 2026-04-08 #mobile 🆔 sig01"
    if via == "cli":
        root.ok("tasks", "update", task["id"], "--text", "Signature du client")
    else:
        root.sql("UPDATE tasks SET text = 'Signature du client' WHERE id = %s", task["id"])
    root.ok("sync")
    assert root.lines(name)[47] == "- [ ] Signature du client 🆔 sig01"
    assert root.ok("tasks", "show", "sig01")["id"] == task["id"]
    assert root.ok("tasks", "show", task["id"])["text"] == "Signature du client 🆔 sig01"
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_updated"], again["tasks_created"]) == (0, 0, 0)
    # A new text that names an ID of its own gets that one.
    root.sql("UPDATE tasks SET text = 'Signature ^sig02' WHERE id = %s", task["id"])
    root.ok("sync")
    assert root.lines(name)[47] == "- [ ] Signature ^sig02"


@pytest.mark.parametrize("path", ["both-ways", "files-to-database"])
def test_a_database_edit_landing_during_the_sync_is_not_overwritten(
    root: Root, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Another program changes a task's text while the sync that rewrites that task's row
    (for its status) is between reading the database and committing: the sync's
    transaction must not overwrite the text."""
    line = first_todo_line(root)
    task = root.task_at(line)
    before = root.lines()
    if path == "both-ways":  # the plan is merged three ways
        root.ok("tasks", "update", task["id"], "--status", "done")
        method = "apply_plan_change"
    else:  # the plan goes files → database, in a batch
        edited = before[line - 1].replace("- [ ] ", "- [x] ", 1)
        lines = [*before[: line - 1], edited, *before[line:]]
        (root.path / PLAN).write_text("\n".join(lines) + "\n", encoding="utf-8")
        method = "apply_plan_changes"
    original = getattr(PostgresPlanStore, method)
    raced: list[bool] = []

    def racing(store: PostgresPlanStore, *args: Any) -> Any:
        if not raced:
            raced.append(True)
            root.sql("UPDATE tasks SET text = 'Changé pendant la sync' WHERE id = %s", task["id"])
        return original(store, *args)

    monkeypatch.setattr(PostgresPlanStore, method, racing)
    root.ok("sync")
    monkeypatch.setattr(PostgresPlanStore, method, original)
    root.ok("sync")  # a plan left out of a batch is merged now

    assert raced == [True]
    after = root.lines()
    assert changed_lines(before, after) == [line]
    assert after[line - 1].startswith("- [x] ")
    assert after[line - 1].endswith("Changé pendant la sync")
    stored = root.sql("SELECT status, text FROM tasks WHERE id = %s", task["id"])
    assert stored == [("done", "Changé pendant la sync")]
    again = root.ok("sync")
    assert (again["written_back"], again["tasks_updated"], again["conflicts_opened"]) == (0, 0, 0)


def test_a_task_deleted_in_sql_and_edited_in_the_file_stays_deleted_while_held(
    root: Root,
) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    plan = root.path / PLAN
    text = plan.read_text("utf-8").splitlines(keepends=True)
    text[line - 1] = text[line - 1].replace("- [ ] ", "- [/] ", 1)
    plan.write_text("".join(text), encoding="utf-8")
    root.sql("DELETE FROM tasks WHERE id = %s", task["id"])
    first = root.ok("tasks", "list", "--plan", PLAN)[0]  # a line above goes too
    root.sql("DELETE FROM tasks WHERE id = %s", first["id"])

    assert root.ok("sync")["conflicts_opened"] == 1
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert (conflict["field"], conflict["database"]) == ("exists", None)
    line -= 1
    assert root.lines()[line - 1].startswith("- [/] ")  # the file keeps the person's edit
    code, _ = root.run("tasks", "show", task["id"])
    assert code == 1  # the database keeps its deletion
    again = root.ok("sync")
    assert (again["tasks_created"], again["tasks_updated"], again["conflicts_opened"]) == (0, 0, 0)
    assert root.ok("conflicts", "list", "--status", "open") == [conflict]  # not even refreshed

    root.ok("conflicts", "resolve", conflict["id"], "--take", "markdown")
    root.ok("sync")
    assert root.ok("tasks", "show", task["id"])["status"] == "in_progress"
    assert root.lines()[line - 1].startswith("- [/] ")


def parent_line(root: Root) -> int:
    """The line of the first task with sub-tasks."""
    lines = root.lines()
    return next(
        i
        for i, (line, after) in enumerate(itertools.pairwise(lines), 1)
        if line.startswith("- [") and after.startswith("  - [")
    )


def test_deleting_a_task_in_sql_deletes_its_sub_tasks_on_both_sides(root: Root) -> None:
    line = parent_line(root)
    parent = root.task_at(line)
    children = [root.task_at(line + 1), root.task_at(line + 2)]
    before = root.lines()
    root.sql("DELETE FROM tasks WHERE id = %s", parent["id"])
    report = root.ok("sync")
    assert report["tasks_deleted"] >= len(children)
    after = root.lines()
    assert after[line - 1] == next(text for text in before[line:] if not text.startswith("  "))
    for child in children:
        code, _ = root.run("tasks", "show", child["id"])
        assert code == 1  # gone from the database too, not left behind without lines
    again = root.ok("sync")
    assert (again["tasks_deleted"], again["written_back"]) == (0, 0)


def test_a_sub_task_added_in_the_file_under_a_task_deleted_in_sql_is_kept(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    plan = root.path / PLAN
    lines = plan.read_text("utf-8").splitlines(keepends=True)
    lines.insert(line, "  - [ ] Sous-tâche ajoutée dans l'éditeur\n")
    plan.write_text("".join(lines), encoding="utf-8")
    root.sql("DELETE FROM tasks WHERE id = %s", task["id"])
    root.ok("sync")
    after = root.lines()
    assert after[line - 1] == "- [ ] Sous-tâche ajoutée dans l'éditeur"
    (kept,) = [t for t in root.ok("tasks", "list", "--plan", PLAN) if t["line"] == line]
    assert kept["text"] == "Sous-tâche ajoutée dans l'éditeur"
    again = root.ok("sync")
    assert (again["tasks_created"], again["written_back"]) == (0, 0)


def test_a_task_added_on_both_sides_in_different_places_keeps_each_place_while_held(
    root: Root,
) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    plan = root.path / PLAN
    lines = plan.read_text("utf-8").splitlines(keepends=True)
    lines.insert(line, "  - [ ] Ajoutée des deux côtés\n")  # a sub-task in the file
    plan.write_text("".join(lines), encoding="utf-8")
    root.sql(  # a top-level task of the same phase in the database
        "INSERT INTO tasks (plan_id, phase_id, text) "
        "SELECT plan_id, phase_id, 'Ajoutée des deux côtés' FROM tasks WHERE id = %s",
        task["id"],
    )
    assert root.ok("sync")["conflicts_opened"] == 1
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert conflict["field"] == "place"
    assert conflict["markdown"][1] == task["id"]
    assert conflict["database"][1] is None
    (added,) = root.sql("SELECT parent_id FROM tasks WHERE text = 'Ajoutée des deux côtés'")
    assert added == (None,)  # the database keeps its own place
    again = root.ok("sync")
    assert (again["tasks_updated"], again["written_back"], again["conflicts_opened"]) == (0, 0, 0)
    (same,) = root.ok("conflicts", "list", "--status", "open")
    assert (same["markdown"], same["database"]) == (conflict["markdown"], conflict["database"])


def set_line(root: Root, line: int, old: str, new: str) -> None:
    plan = root.path / PLAN
    lines = plan.read_text("utf-8").splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    plan.write_text("".join(lines), encoding="utf-8")


def test_a_status_edited_after_its_conflict_was_settled_is_not_lost(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    set_line(root, line, "- [ ] ", "- [/] ")
    root.ok("tasks", "update", task["id"], "--status", "cancelled")
    root.ok("sync")
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    root.ok("conflicts", "resolve", conflict["id"], "--take", "database")
    set_line(root, line, "- [/] ", "- [x] ")  # the file is edited before the next sync
    report = root.ok("sync")
    assert report["conflicts_opened"] == 1  # the newer edit against the settled value
    assert root.lines()[line - 1].startswith("- [x] ")
    assert root.ok("tasks", "show", task["id"])["status"] == "cancelled"
    (again,) = root.ok("conflicts", "list", "--status", "open")
    assert (again["base"], again["markdown"], again["database"]) == (
        "in_progress",
        "done",
        "cancelled",
    )


def test_a_text_edited_after_its_conflict_was_settled_merges_with_the_settled_text(
    root: Root,
) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    words = task["text"].split(" ")
    assert len(words) >= 4, task["text"]
    file_text = " ".join([*words[:2], "fichier", *words[3:]])
    database_text = " ".join([*words[:2], "base", *words[3:]])
    set_line(root, line, task["text"], file_text)
    root.ok("tasks", "update", task["id"], "--text", database_text)
    root.ok("sync")
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert conflict["field"] == "text"
    root.ok("conflicts", "resolve", conflict["id"], "--take", "database")
    set_line(root, line, file_text, file_text + " (relu)")  # edited before the next sync
    assert root.ok("sync")["conflicts_opened"] == 0
    merged = database_text + " (relu)"
    assert root.lines()[line - 1] == "- [ ] " + merged
    assert root.ok("tasks", "show", task["id"])["text"] == merged


def test_a_sub_task_edited_in_the_file_under_a_task_deleted_in_sql_waits_as_written(
    root: Root,
) -> None:
    line = parent_line(root)
    parent = root.task_at(line)
    child = root.task_at(line + 1)
    set_line(root, line + 1, "  - [x] ", "  - [/] ")
    root.sql("DELETE FROM tasks WHERE id = %s", parent["id"])
    assert root.ok("sync")["conflicts_opened"] == 1
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert (conflict["task_id"], conflict["field"]) == (child["id"], "exists")
    assert root.lines()[line - 1].startswith("- [/] ")  # kept, one level out
    assert conflict["markdown"]["parent_id"] is None  # as the file now holds it
    again = root.ok("sync")
    assert (again["written_back"], again["conflicts_opened"]) == (0, 0)
    assert root.ok("conflicts", "list", "--status", "open") == [conflict]


def test_a_sub_task_edited_in_sql_under_a_task_deleted_in_the_file_stays_in_the_database(
    root: Root,
) -> None:
    line = parent_line(root)
    child = root.task_at(line + 1)
    plan = root.path / PLAN
    lines = plan.read_text("utf-8").splitlines(keepends=True)
    end = next(i for i in range(line, len(lines)) if not lines[i].startswith("  "))
    del lines[line - 1 : end]  # the task and its sub-tasks, as a person deletes a block
    plan.write_text("".join(lines), encoding="utf-8")
    root.ok("tasks", "update", child["id"], "--status", "in_progress")
    assert root.ok("sync")["conflicts_opened"] == 1
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert (conflict["task_id"], conflict["field"], conflict["markdown"]) == (
        child["id"],
        "exists",
        None,
    )
    again = root.ok("sync")
    assert (again["tasks_deleted"], again["written_back"], again["conflicts_opened"]) == (0, 0, 0)
    assert root.ok("tasks", "show", child["id"])["status"] == "in_progress"


def test_a_place_settled_to_the_database_reaches_the_file(root: Root) -> None:
    line = first_todo_line(root)
    task = root.task_at(line)
    plan = root.path / PLAN
    lines = plan.read_text("utf-8").splitlines(keepends=True)
    lines.insert(line, "  - [ ] Ajoutée des deux côtés\n")  # a sub-task in the file
    plan.write_text("".join(lines), encoding="utf-8")
    root.sql(  # a top-level task of the same phase in the database
        "INSERT INTO tasks (plan_id, phase_id, text) "
        "SELECT plan_id, phase_id, 'Ajoutée des deux côtés' FROM tasks WHERE id = %s",
        task["id"],
    )
    root.ok("sync")
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    root.ok("conflicts", "resolve", conflict["id"], "--take", "database")
    root.ok("sync")
    assert "- [ ] Ajoutée des deux côtés" in root.lines()  # top level, as settled
    (added,) = root.sql(
        "SELECT parent_id FROM tasks WHERE text = 'Ajoutée des deux côtés' AND deleted_at IS NULL"
    )
    assert added == (None,)


def test_the_parses_kept_between_syncs_are_only_hints(root: Root) -> None:
    parses = root.path / ".sync-engine" / "parses.sqlite3"
    with contextlib.closing(sqlite3.connect(parses)) as connection, connection:
        assert connection.execute("SELECT count(*) FROM parses").fetchone()[0] == len(
            list(root.path.glob("*.md"))
        )
        connection.execute("UPDATE parses SET entry = substr(entry, 1, 100)")  # torn
    line = first_todo_line(root)
    task = root.task_at(line)
    before = root.lines()
    root.sql("UPDATE tasks SET status = 'done' WHERE id = %s", task["id"])
    assert root.ok("sync")["written_back"] == 1
    assert changed_lines(before, root.lines()) == [line]


@pytest.mark.parametrize("via", ["sql", "cli"])
def test_a_text_written_in_the_database_is_read_as_the_file_reads_it(root: Root, via: str) -> None:
    """The title (without the label), explicit id and inline fields of a text written by
    another program are the file's reading of it once synced; the next edit of the file
    then finds the task by its title and keeps its identity."""
    line = todo_pair_line(root)
    task = root.task_at(line)
    label = root.lines()[line - 1].split("] ", 1)[1].split(" ", 1)[0]
    assert label.startswith("**"), "the sample's task has a label"
    text = f"{label} Réécrite ailleurs 📅 2026-05-01 #revue 🆔 ext42"
    if via == "sql":
        root.sql("UPDATE tasks SET text = %s WHERE id = %s", text, task["id"])
    else:
        root.ok("tasks", "update", task["id"], "--text", text)
    root.ok("sync")
    row = root.sql("SELECT title, explicit_id, fields FROM tasks WHERE id = %s", task["id"])[0]
    assert row[:2] == ("Réécrite ailleurs", "ext42")
    assert (row[2]["due"], row[2]["tags"]) == ("2026-05-01", ["revue"])
    lines = root.lines()
    lines[line - 1] = lines[line - 1].replace("- [ ] ", "- [x] ", 1)  # ticked in the file
    (root.path / PLAN).write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = root.ok("sync")
    assert (report["tasks_updated"], report["tasks_created"], report["tasks_deleted"]) == (1, 0, 0)
    assert root.ok("tasks", "show", task["id"])["status"] == "done"
