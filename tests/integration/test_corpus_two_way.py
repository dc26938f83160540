"""The real plans of ``../shared/corpus/`` both ways (skipped, saying so, when the folder is
absent): a few hundred random edits made in the database — through the command line and
through plain SQL, on odd tasks first (nested, emoji, explicit IDs, trailing spaces, CRLF and
BOM files, numbered labels, unusual states, …) — reach the files changing exactly their own
lines, every other byte of every file stays, the database holds what the files hold, and a
sync after that changes nothing.

The edits are drawn from one seeded generator: ``CORPUS_EDIT_SEED`` replays a run
(a failure names its seed).
"""

from __future__ import annotations

import difflib
import json
import os
import random
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sync_engine.entrypoints.cli import main
from sync_engine.parsing import parse_plan
from tests.conftest import CORPUS
from tests.integration.corpus_edits import (
    TASKS_QUERY,
    Change,
    EditChooser,
    Source,
    Task,
    char_for,
    done_style,
    expected_bytes,
    status_name,
)

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

SEED = int(os.environ.get("CORPUS_EDIT_SEED", "1646"))
EDITS_PER_ROUND = 300
ROUNDS = 2


class Corpus:
    """A copy of the corpus synced with a database, driven through the command line."""

    def __init__(self, root: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.url = url
        self._capsys = capsys

    def cli(self, *args: str, codes: Sequence[int] = (0,)) -> Any:
        self._capsys.readouterr()
        code = main([*args, "--root", str(self.root), "--database-url", self.url, "--json"])
        captured = self._capsys.readouterr()
        assert code in codes, (args, captured.err)
        return json.loads(captured.out)

    def sync(self) -> dict[str, Any]:
        # Exit code 1: some corpus plans are skipped (undecodable bytes, merge markers).
        report: dict[str, Any] = self.cli("sync", "--no-index", codes=(0, 1))
        return report

    def tasks(self) -> list[Task]:
        with psycopg.connect(self.url) as connection:
            rows = connection.execute(TASKS_QUERY).fetchall()
        return [Task(*row) for row in rows]

    def scalar(self, query: str) -> Any:
        with psycopg.connect(self.url) as connection:
            row = connection.execute(query).fetchone()
        assert row is not None
        return row[0]

    def files(self) -> dict[str, bytes]:
        found = {}
        for path in sorted(self.root.rglob("*.md")):
            relative = path.relative_to(self.root)
            if not any(part.startswith(".") for part in relative.parts):
                found[relative.as_posix()] = path.read_bytes()
        return found

    def apply(self, changes: Sequence[Change]) -> None:
        """Make the changes: the command line's in-process, SQL's on one connection."""
        with psycopg.connect(self.url, autocommit=True) as connection:
            for change in changes:
                if change.via == "cli":
                    self._apply_cli(change)
                else:
                    self._apply_sql(connection, change)

    def _apply_cli(self, change: Change) -> None:
        task = change.task
        if change.kind == "delete":
            self.cli("tasks", "delete", task.id)
        elif change.kind == "add":
            added = self.cli(
                "tasks", "add", f"--plan={task.plan}", f"--after={task.id}", f"--text={change.text}"
            )
            change.added_id = added["id"]
        elif change.kind == "append":
            phase = [f"--phase={task.phase_number}"] if task.phase_id is not None else []
            added = self.cli("tasks", "add", f"--plan={task.plan}", *phase, f"--text={change.text}")
            change.added_id = added["id"]
        else:
            options = [f"--status={change.status}"] if change.status else []
            options += [f"--text={change.text}"] if change.text is not None else []
            self.cli("tasks", "update", task.id, *options)

    @staticmethod
    def _apply_sql(connection: psycopg.Connection[Any], change: Change) -> None:
        task = change.task
        if change.kind == "delete":
            # Both documented ways: a real DELETE and a tombstone.
            if int(task.id[-1], 16) % 2:
                connection.execute("DELETE FROM tasks WHERE id = %s", (task.id,))
            else:
                connection.execute("UPDATE tasks SET deleted_at = now() WHERE id = %s", (task.id,))
        elif change.kind == "add":
            row = connection.execute(
                # Right after the task, beside it: its parent too (docs/database.md).
                "INSERT INTO tasks (plan_id, phase_id, parent_id, position, text) "
                "SELECT plan_id, phase_id, parent_id, position + 1, %s FROM tasks WHERE id = %s "
                "RETURNING id::text",
                (change.text, task.id),
            ).fetchone()
            assert row is not None
            change.added_id = row[0]
        elif change.kind == "append":
            row = connection.execute(
                "INSERT INTO tasks (plan_id, phase_id, text) VALUES (%s, %s, %s) RETURNING id::text",
                (task.plan_id, task.phase_id, change.text),
            ).fetchone()
            assert row is not None
            change.added_id = row[0]
        else:
            connection.execute(
                "UPDATE tasks SET status = coalesce(%s, status), text = coalesce(%s, text) "
                "WHERE id = %s",
                (change.status, change.text, task.id),
            )


def _by_plan(tasks: Sequence[Task]) -> dict[str, list[Task]]:
    grouped: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        grouped[task.plan].append(task)
    return grouped


def _diff(path: str, expected: bytes, actual: bytes) -> str:
    lines = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(keepends=True),
        actual.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"expected/{path}",
        tofile=f"actual/{path}",
        n=1,
    )
    return "".join(repr(line)[1:-1] + "\n" for line in list(lines)[:30])


def _plan_problems(
    plan: str,
    changes: Sequence[Change],
    before: Sequence[Task],
    after: Sequence[Task],
    data: bytes,
    added_lines: dict[str, int],
) -> list[str]:
    """What the database gets wrong about one edited plan after the sync."""
    problems = []
    parsed = [(t.line, t.char, t.text) for t in parse_plan(data, plan).plan.tasks]
    stored = [(t.line, t.char, t.text) for t in after]
    if parsed != stored:
        first = next(
            (pair for pair in zip(parsed, stored, strict=False) if pair[0] != pair[1]),
            (parsed[len(stored) :], stored[len(parsed) :]),
        )
        problems.append(f"{plan}: the database does not hold what the file holds: {first}")
    removed = set()
    for change in changes:
        if change.kind == "delete":
            span = range(change.task.line, change.task.end_line + 1)
            removed |= {task.id for task in before if task.line in span}
    added = {change.added_id for change in changes if change.added_id}
    expected_ids = ({task.id for task in before} - removed) | added
    now = {task.id: task for task in after}
    if set(now) != expected_ids:
        problems.append(
            f"{plan}: live task ids: missing {sorted(expected_ids - set(now))}, "
            f"unexpected {[(now[i].line, now[i].text) for i in set(now) - expected_ids]}"
        )
    changed = {change.task.id for change in changes if not change.added_id}
    for task in before:
        kept = now.get(task.id)
        if task.id in changed or kept is None:
            continue
        if (kept.status, kept.char, kept.text) != (task.status, task.char, task.text):
            problems.append(f"{plan}: untouched task {task.snapshot} became {kept.snapshot}")
    style = done_style(before)
    for change in changes:
        problems.extend(_change_problems(change, now, style, added_lines))
    return problems


def _change_problems(
    change: Change, now: dict[str, Task], style: str, added_lines: dict[str, int]
) -> list[str]:
    if change.kind == "delete":
        return [f"still live after {change.describe()}"] if change.task.id in now else []
    if change.kind in ("add", "append"):
        assert change.added_id is not None
        row = now.get(change.added_id)
        wanted = (added_lines.get(change.added_id), "todo", change.text)
        if row is None or (row.line, row.status, row.text) != wanted:
            found = (row.line, row.status, row.text) if row else None
            return [f"{change.describe()}: the database has {found}, not {wanted}"]
        return []
    row = now.get(change.task.id)
    if row is None:
        return [f"{change.describe()}: the task is gone from the database"]
    status = status_name(change.status) if change.status else change.task.status
    char = char_for(change.status, style) if change.status else change.task.char
    text = change.written_text if change.written_text is not None else change.task.text
    if (row.status, row.char, row.text) != (status, char, text):
        return [f"{change.describe()}: the database has {(row.status, row.char, row.text)}"]
    return []


def _round(corpus: Corpus, chooser: EditChooser, preferred: set[str]) -> tuple[list[str], set[str]]:
    """One round: edits, a sync, the checks, a sync that must change nothing. Returns the
    problems found and the plans edited."""
    files = corpus.files()
    tasks = corpus.tasks()
    before = _by_plan(tasks)
    sources = {plan: Source.parse(files[plan]) for plan in before}
    changes = chooser.choose(tasks, sources, EDITS_PER_ROUND, preferred)
    by_plan: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_plan[change.task.plan].append(change)
    # The edits cover every odd kind of task the corpus has, every kind of edit both ways,
    # spread over many files.
    kinds = ("status", "text", "both", "delete", "add", "append")
    assert {name for change in changes for name in change.features} == {
        *chooser.features_found,
        "phase-end",
    }
    assert {(change.kind, change.via) for change in changes} == {
        (kind, via) for kind in kinds for via in ("cli", "sql")
    }
    assert len(changes) == EDITS_PER_ROUND
    assert len(by_plan) > EDITS_PER_ROUND // 4
    corpus.apply(changes)

    report = corpus.sync()
    problems = []
    summary = (report["conflicts_opened"], report["written_back"], report["refused"])
    if summary != (0, len(by_plan), []):
        problems.append(f"sync: (conflicts, written back, refused) = {summary}")
    files_now = corpus.files()
    after = _by_plan(corpus.tasks())
    for path, data in files.items():
        if path not in by_plan and files_now.get(path) != data:
            problems.append(f"{path}: no edit was made to it, yet its bytes changed")
        elif path not in by_plan and after.get(path, []) != before.get(path, []):
            problems.append(f"{path}: no edit was made to it, yet its tasks changed")
    for plan, plan_changes in sorted(by_plan.items()):
        expected, added_lines = expected_bytes(
            sources[plan], plan_changes, done_style(before[plan])
        )
        if files_now[plan] != expected:
            edits = "; ".join(change.describe() for change in plan_changes)
            problems.append(f"{plan} after {edits}:\n{_diff(plan, expected, files_now[plan])}")
        found = _plan_problems(
            plan, plan_changes, before[plan], after[plan], files_now[plan], added_lines
        )
        if found:
            edits = "\n  ".join(change.describe() for change in plan_changes)
            problems.append(f"{plan} after:\n  {edits}\n" + "\n".join(found))

    again = corpus.sync()
    counts = {
        name: again[name]
        for name in (
            "files_changed",
            "tasks_created",
            "tasks_updated",
            "tasks_deleted",
            "written_back",
            "conflicts_opened",
        )
    }
    if any(counts.values()):
        problems.append(f"the sync after the edited one was not a no-op: {counts}")
    if corpus.files() != files_now:
        problems.append("the sync after the edited one changed files")
    pending = corpus.scalar("SELECT count(*) FROM change_log WHERE consumed_at IS NULL")
    conflicts = corpus.scalar("SELECT count(*) FROM conflicts")
    if (pending, conflicts) != (0, 0):
        problems.append(f"change-log entries left: {pending}; conflicts: {conflicts}")
    return problems, set(by_plan)


def test_database_edits_reach_the_corpus_files_one_line_each(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the real-plan corpus is not here ({CORPUS}); it sits beside the project")
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root)
    corpus = Corpus(root, database_url, capsys)
    assert corpus.sync()["tasks_created"] > 25_000
    chooser = EditChooser(random.Random(SEED))
    edited: set[str] = set()
    try:
        for number in range(1, ROUNDS + 1):
            problems, plans = _round(corpus, chooser, edited)
            assert not problems, f"round {number}: {len(problems)} problems:\n" + "\n".join(
                problems[:40]
            )
            edited |= plans
    except BaseException as error:
        error.add_note(f"corpus edits seed {SEED} (replay: CORPUS_EDIT_SEED={SEED})")
        raise
