"""Both directions against the real embedded PostgreSQL and real files: edits through the
command line and through plain SQL reach the file, changing only their own lines; conflicts
wait for a person and their settling reaches both sides."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sync_engine.entrypoints.cli import main
from tests.conftest import SAMPLE_PLANS

PLAN = "plan-dev-v1-api-gateway.md"


class Root:
    def __init__(self, path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.path = path
        self.url = url
        self._capsys = capsys

    def run(self, *args: str) -> tuple[int, Any]:
        self._capsys.readouterr()
        code = main([*args, "--root", str(self.path), "--database-url", self.url, "--json"])
        out = self._capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    def ok(self, *args: str) -> Any:
        code, data = self.run(*args)
        assert code == 0, data
        return data

    def lines(self, name: str = PLAN) -> list[str]:
        return (self.path / name).read_text("utf-8").splitlines()

    def task_at(self, line: int, name: str = PLAN) -> dict[str, Any]:
        tasks = self.ok("tasks", "list", "--plan", name)
        return next(task for task in tasks if task["line"] == line)

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def root(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Root:
    path = tmp_path / "plans"
    shutil.copytree(SAMPLE_PLANS, path, ignore=shutil.ignore_patterns(".sync-engine"))
    synced = Root(path, database_url, capsys)
    assert synced.ok("sync")["tasks_created"] == 246
    return synced


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
