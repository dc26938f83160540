"""Seeded random plans and edits on both sides of a synced plan, for the crash tests.

A scenario is a plan file synced once, then edits made by "people": database-side edits
through the command line and through plain SQL (the surface of docs/database.md), file-side
edits the way an editor makes them (a checkbox ticked, words changed, lines added, deleted,
moved, indented), sometimes on the same task from both sides. Everything is drawn from one
``random.Random``, so a seed names a scenario.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from sync_engine.entrypoints.cli import main

PLAN = "plan-crash.md"

_TASK_LINE = re.compile(r"^(?P<indent> *)- \[(?P<char>.)\] (?P<text>.*)$")
_VERBS = ("Écrire", "Relire", "Tester", "Documenter", "Mesurer", "Déployer", "Nettoyer")
_OBJECTS = (
    "le parseur",
    "la passerelle",
    "les migrations",
    "le cache",
    "la file de tâches",
    "le tableau de bord",
    "les index",
    "la configuration",
)
_DETAILS = ("en local", "sur la préproduction", "avec les traces", "pour la v2", "🚀", "(2h)")
_WORDS = ("vite", "encore", "finement", "ensemble", "proprement", "demain")
_CHARS = (" ", "x", "/", "-", ">", "!")
STATUS_OF = {" ": "todo", "x": "done", "/": "in_progress", "-": "cancelled", ">": "deferred"}
STATUS_OF["!"] = "important"
_STATUSES = tuple(STATUS_OF.values())


class Workspace:
    """A plans root and its database, driven through the command line in this process."""

    def __init__(self, root: Path, url: str, plan: str = PLAN) -> None:
        self.root = root
        self.url = url
        self.plan_name = plan

    @property
    def plan(self) -> Path:
        return self.root / self.plan_name

    def args(self, *args: str) -> list[str]:
        return [*args, "--root", str(self.root), "--database-url", self.url, "--json"]

    def run(self, *args: str) -> tuple[int, Any]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(self.args(*args))
        text = out.getvalue()
        return code, json.loads(text) if text.strip() else None

    def ok(self, *args: str) -> Any:
        code, data = self.run(*args)
        assert code == 0, (args, data)
        return data

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def tasks(self) -> list[dict[str, Any]]:
        """The live tasks of the plan in document order (CLI view)."""
        found: list[dict[str, Any]] = self.ok("tasks", "list", "--plan", self.plan_name)
        return found

    def rows(self) -> list[tuple[str, str, str, str | None, int | None]]:
        """(id, status, text, parent id, phase number) of the live tasks, in stored order."""
        return [
            (str(task_id), status, text, str(parent) if parent else None, number)
            for task_id, status, text, parent, number in self.sql(
                "SELECT t.id, t.status, t.text, t.parent_id, ph.number FROM tasks t "
                "JOIN plans p ON p.id = t.plan_id LEFT JOIN phases ph ON ph.id = t.phase_id "
                "WHERE p.path = %s AND p.deleted_at IS NULL AND t.deleted_at IS NULL "
                "ORDER BY t.position, t.line",
                self.plan_name,
            )
        ]

    def open_conflicts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok("conflicts", "list", "--status", "open")
        return found


@dataclass(frozen=True, slots=True)
class FileTask:
    """A task line of the file: 0-based line index, indentation, checkbox, text, and the
    0-based index of the last line of its block (itself and its sub-tasks)."""

    line: int
    indent: int
    char: str
    text: str
    end: int


def file_tasks(lines: list[str]) -> list[FileTask]:
    """The task lines of a plan as this module writes them (``- [c] text``, 2-space levels)."""
    found: list[FileTask] = []
    for index, line in enumerate(lines):
        match = _TASK_LINE.match(line)
        if match is None:
            continue
        indent = len(match["indent"])
        end = index
        for after in range(index + 1, len(lines)):
            inner = _TASK_LINE.match(lines[after])
            if inner is None or len(inner["indent"]) <= indent:
                break
            end = after
        found.append(FileTask(index, indent, match["char"], match["text"], end))
    return found


def task_text(rng: random.Random) -> str:
    text = f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    return f"{text} {rng.choice(_DETAILS)}" if rng.random() < 0.7 else text


def make_plan(rng: random.Random) -> str:
    """A plan of 2–3 phases, each with a few tasks, some with sub-tasks."""
    out = ["# Plan de reprise après incident", "", "**Version 1.0 - 2026-01-05**", ""]
    for number in range(1, rng.randint(2, 3) + 1):
        out += [f"## Phase {number}: {rng.choice(_OBJECTS).capitalize()}", ""]
        for _ in range(rng.randint(2, 5)):
            out.append(f"- [{rng.choice(_CHARS)}] {task_text(rng)}")
            for _ in range(rng.choice((0, 0, 1, 2))):
                out.append(f"  - [{rng.choice(_CHARS)}] {task_text(rng)}")
        out.append("")
    return "\n".join(out)


@dataclass(slots=True)
class Edits:
    """What a scenario did, in words (printed with the seed when a check fails), and which
    stored tasks each side touched."""

    done: list[str] = field(default_factory=list)
    database_touched: set[str] = field(default_factory=set)
    file_touched: set[int] = field(default_factory=set)  # 0-based lines of the file as read

    def note(self, text: str) -> None:
        self.done.append(text)


def _reworded(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    choice = rng.random()
    if choice < 0.4:
        return f"{text} {rng.choice(_WORDS)}"
    if choice < 0.7:
        return f"{rng.choice(_WORDS).capitalize()} {text[0].lower()}{text[1:]}"
    words[0] = rng.choice(_VERBS)
    return " ".join(words)


def edit_database(ws: Workspace, rng: random.Random, edits: Edits, count: int) -> None:
    """``count`` database-side edits through the command line or plain SQL."""
    held = {c["task_id"] for c in ws.open_conflicts()}
    for _ in range(count):
        tasks = [t for t in ws.tasks() if t["id"] not in edits.database_touched]
        free = [t for t in tasks if t["id"] not in held]
        if not tasks or not free:
            return
        task = rng.choice(free)
        kind = rng.choice(("status", "status", "text", "text", "add", "add", "delete"))
        by_sql = rng.random() < 0.5
        edits.database_touched.add(task["id"])
        if kind == "status":
            status = rng.choice([s for s in _STATUSES if s != task["status"]])
            if by_sql:
                ws.sql("UPDATE tasks SET status = %s WHERE id = %s", status, task["id"])
            else:
                ws.ok("tasks", "update", task["id"], "--status", status)
            edits.note(f"db {'sql' if by_sql else 'cli'}: status of {task['text']!r} → {status}")
        elif kind == "text":
            text = _reworded(rng, task["text"])
            if by_sql:
                ws.sql("UPDATE tasks SET text = %s WHERE id = %s", text, task["id"])
            else:
                ws.ok("tasks", "update", task["id"], "--text", text)
            edits.note(f"db {'sql' if by_sql else 'cli'}: text of {task['text']!r} → {text!r}")
        elif kind == "add":
            _add_in_database(ws, rng, edits, task, by_sql)
        else:
            how = rng.choice(("cli", "sql-delete", "sql-tombstone"))
            if how == "cli":
                ws.ok("tasks", "delete", task["id"])
            elif how == "sql-delete":
                ws.sql("DELETE FROM tasks WHERE id = %s", task["id"])
            else:
                ws.sql("UPDATE tasks SET deleted_at = now() WHERE id = %s", task["id"])
            edits.note(f"db {how}: delete {task['text']!r}")


def _add_in_database(
    ws: Workspace, rng: random.Random, edits: Edits, task: dict[str, Any], by_sql: bool
) -> None:
    text = task_text(rng) + " (base)"
    if not by_sql:
        if rng.random() < 0.6:
            added = ws.ok(
                "tasks", "add", "--plan", ws.plan_name, "--after", task["id"], "--text", text
            )
            edits.note(f"db cli: add {text!r} after {task['text']!r}")
        else:
            phase = task["phase"] or 1
            added = ws.ok(
                "tasks", "add", "--plan", ws.plan_name, "--phase", str(phase), "--text", text
            )
            edits.note(f"db cli: add {text!r} at the end of phase {phase}")
        edits.database_touched.add(added["id"])
        return
    how = rng.choice(("after", "phase-end", "child"))
    if how == "after":
        query = (
            "INSERT INTO tasks (plan_id, phase_id, position, text) "
            "SELECT plan_id, phase_id, position + 1, %s FROM tasks WHERE id = %s RETURNING id"
        )
    elif how == "phase-end":
        query = (
            "INSERT INTO tasks (plan_id, phase_id, text) "
            "SELECT plan_id, phase_id, %s FROM tasks WHERE id = %s RETURNING id"
        )
    else:
        query = (
            "INSERT INTO tasks (plan_id, parent_id, position, text) "
            "SELECT plan_id, id, position + 1, %s FROM tasks WHERE id = %s RETURNING id"
        )
    ((added,),) = ws.sql(query, text, task["id"])
    edits.database_touched.add(str(added))
    edits.note(f"db sql: add {text!r} ({how} of {task['text']!r})")


def edit_file(ws: Workspace, rng: random.Random, edits: Edits, count: int) -> None:
    """``count`` edits of the plan file as a person makes them in an editor."""
    lines = ws.plan.read_text("utf-8").split("\n")
    for _ in range(count):
        tasks = file_tasks(lines)
        if not tasks:
            break
        task = rng.choice(tasks)
        kind = rng.choice(("char", "char", "text", "text", "insert", "delete", "move", "indent"))
        action = _FILE_EDITS[kind]
        note = action(lines, task, tasks, rng)
        if note:
            edits.note(f"file: {note}")
    ws.plan.write_text("\n".join(lines), "utf-8")


def _set_char(lines: list[str], task: FileTask, tasks: list[FileTask], rng: random.Random) -> str:
    char = rng.choice([c for c in _CHARS if c != task.char])
    lines[task.line] = f"{' ' * task.indent}- [{char}] {task.text}"
    return f"[{char}] {task.text!r}"


def _set_text(lines: list[str], task: FileTask, tasks: list[FileTask], rng: random.Random) -> str:
    text = _reworded(rng, task.text)
    lines[task.line] = f"{' ' * task.indent}- [{task.char}] {text}"
    return f"text of {task.text!r} → {text!r}"


def _insert(lines: list[str], task: FileTask, tasks: list[FileTask], rng: random.Random) -> str:
    text = task_text(rng) + " (fichier)"
    as_child = rng.random() < 0.3 and task.indent == 0
    indent = task.indent + 2 if as_child else task.indent
    lines.insert(task.end + 1, f"{' ' * indent}- [{rng.choice(_CHARS)}] {text}")
    return f"insert {text!r} {'under' if as_child else 'after'} {task.text!r}"


def _delete(lines: list[str], task: FileTask, tasks: list[FileTask], rng: random.Random) -> str:
    if rng.random() < 0.7:
        del lines[task.line : task.end + 1]
        return f"delete {task.text!r} and its sub-tasks"
    del lines[task.line]  # its sub-tasks, if any, now hang under the task before
    return f"delete the line of {task.text!r} only"


def _move(lines: list[str], task: FileTask, tasks: list[FileTask], rng: random.Random) -> str:
    targets = [t for t in tasks if t.indent == task.indent and not task.line <= t.line <= task.end]
    if not targets:
        return ""
    target = rng.choice(targets)
    block = lines[task.line : task.end + 1]
    del lines[task.line : task.end + 1]
    at = target.end + 1 if target.line < task.line else target.end + 1 - len(block)
    lines[at:at] = block
    return f"move {task.text!r} after {target.text!r}"


def _indent(lines: list[str], task: FileTask, tasks: list[FileTask], rng: random.Random) -> str:
    before = [t for t in tasks if t.line < task.line and t.indent == task.indent]
    if task.indent > 0 and rng.random() < 0.5:
        shift = -2
    elif before and before[-1].end == task.line - 1:
        shift = 2
    else:
        return ""
    for index in range(task.line, task.end + 1):
        lines[index] = lines[index][2:] if shift < 0 else "  " + lines[index]
    return f"{'outdent' if shift < 0 else 'indent'} {task.text!r}"


_FILE_EDITS: dict[str, Callable[[list[str], FileTask, list[FileTask], random.Random], str]] = {
    "char": _set_char,
    "text": _set_text,
    "insert": _insert,
    "delete": _delete,
    "move": _move,
    "indent": _indent,
}


def settle_some(ws: Workspace, rng: random.Random, edits: Edits) -> None:
    """Settle some open conflicts, each with a random side."""
    for conflict in ws.open_conflicts():
        if rng.random() < 0.5:
            take = rng.choice(("markdown", "database"))
            ws.ok("conflicts", "resolve", conflict["id"], "--take", take)
            edits.note(f"settle {conflict['field']} conflict with {take}")


def state(ws: Workspace) -> dict[str, Any]:
    """What a sync leaves, for comparing two runs: the file bytes, the tasks (ids replaced
    by their document index) and the open conflicts (values without ids)."""
    rows = ws.rows()
    index = {row[0]: i for i, row in enumerate(rows)}
    tasks = [
        (status, text, index.get(parent) if parent else None, phase)
        for _, status, text, parent, phase in rows
    ]
    conflicts = sorted(
        json.dumps(
            [c["type"], c["field"], *(_no_ids(c[k]) for k in ("base", "markdown", "database"))],
            sort_keys=True,
        )
        for c in ws.open_conflicts()
    )
    return {"file": ws.plan.read_bytes(), "tasks": tasks, "conflicts": conflicts}


def _no_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in ("id", "parent_id", "position")}
    if isinstance(value, list):
        return [v if not _looks_like_id(v) else "<id>" for v in value]
    return value


def _looks_like_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 36 and value.count("-") == 4
