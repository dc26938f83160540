"""The three-way table of DESIGN.md, exhaustively: for every strategy and every compared field,
each of base, file and database is absent, A, B or C — 64 combinations each.

:func:`expected` encodes the table as a rule; :data:`KEY_ROWS` are hand-checked rows that both
the rule and the merge must agree with, so the rule itself is not taken on trust.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import product

import pytest

from sync_engine.conflicts import (
    META_FIELDS,
    Conflict,
    ConflictType,
    MergeResult,
    PlanState,
    TaskState,
    merge_plan,
)
from sync_engine.conflicts.model import task_value
from tests.unit.conflicts.builders import PLAN_META, STRATEGY_NAMES, plan, policy, task

TEXT_A = "Écrire les tests du parseur"
TEXT_B = "Écrire vite les tests du parseur"
TEXT_C = "Relire les tests du parseur."

VALUES: dict[str, tuple[object, object, object]] = {
    "status": ("todo", "done", "in_progress"),
    "text": (TEXT_A, TEXT_B, TEXT_C),
    "place": (("p1", None), ("p1", "parent"), ("p2", None)),
    "title": ("Plan de migration", "Plan de migration v2", "Migration vers PostgreSQL"),
    "version": ("1.0", "1.1", "2.0"),
    "date": ("2025-06-13", "2025-06-14", "2025-07-01"),
    "declared_progress": (25.0, 50.0, 75.0),
}
FIELDS = tuple(VALUES)
LETTERS = "-ABC"  # '-' = absent

# Word-level merges of the text values, worked out by hand: the file's "vite" lands after the
# database's "Relire"; every other pair of edits touches the same words.
AUTO_MERGED: dict[tuple[object, object, object], str | None] = {
    (TEXT_A, TEXT_B, TEXT_C): "Relire vite les tests du parseur.",
    (TEXT_A, TEXT_C, TEXT_B): "Relire vite les tests du parseur.",
    (TEXT_B, TEXT_A, TEXT_C): None,
    (TEXT_B, TEXT_C, TEXT_A): None,
    (TEXT_C, TEXT_A, TEXT_B): None,
    (TEXT_C, TEXT_B, TEXT_A): None,
}

TYPE_OF = {
    "status": ConflictType.STATUS,
    "text": ConflictType.CONTENT,
    "place": ConflictType.STRUCTURE,
    "exists": ConflictType.STRUCTURE,
} | dict.fromkeys(META_FIELDS, ConflictType.METADATA)

TASK = "t"  # the task's id when the base has it
FILE_NEW = "t-md"  # fresh ids of a task the base lacks
DATABASE_NEW = "t-db"
PLAN_KEY = "plan"  # where a meta field's value is filed in an Outcome

Row = tuple[ConflictType, str, str | None, object, object, object]


@dataclass(frozen=True)
class Outcome:
    """What a merge gives for the field under test.

    ``file`` / ``database``: task id (or ``"plan"``) → the field's value on that target.
    ``settled``: (conflict row, take, custom value).
    """

    file: dict[str, object]
    database: dict[str, object]
    opened: list[Row] = field(default_factory=list)
    settled: list[tuple[Row, str, object]] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)


def same(key: str, value: object) -> Outcome:
    return Outcome({key: value}, {key: value})


def decide(
    strategy: str, name: str, base: object, ours: object, theirs: object
) -> tuple[str, object] | None:
    """What each strategy does with a conflict: a (take, custom value), or None = manual."""
    if strategy == "markdown-wins":
        return ("markdown", None)
    if strategy == "database-wins":
        return ("database", None)
    if strategy == "auto-merge" and name == "text" and base is not None:
        merged = AUTO_MERGED[(base, ours, theirs)]
        return None if merged is None else ("custom", merged)
    return None


def three_way(
    strategy: str, name: str, task_id: str | None, b: object, f: object, d: object
) -> Outcome:
    """One side changed → it wins; both the same → no conflict; else the strategy decides."""
    key = PLAN_KEY if task_id is None else task_id
    if f == d or d == b:
        return same(key, f)
    if f == b:
        return same(key, d)
    row: Row = (TYPE_OF[name], name, task_id, b, f, d)
    decision = decide(strategy, name, b, f, d)
    if decision is None:  # manual: each side keeps its own value
        return Outcome({key: f}, {key: d}, opened=[row])
    take, custom = decision
    chosen = {"markdown": f, "database": d}.get(take, custom)
    return Outcome({key: chosen}, {key: chosen}, settled=[(row, take, custom)])


def twins(name: str, f: object, d: object) -> bool:
    """Two new tasks are one when text and phase are equal (the other fields are defaults)."""
    if name == "text":
        return f == d
    if name == "place":
        assert isinstance(f, tuple)
        assert isinstance(d, tuple)
        return bool(f[0] == d[0])
    return True


def present(task_id: str, value: object) -> dict[str, object]:
    return {} if value is None else {task_id: value}


def expected(strategy: str, name: str, b: object, f: object, d: object) -> Outcome:
    """DESIGN.md's table; ``None`` = absent (a missing task, or a meta value not set)."""
    if name in META_FIELDS:
        return three_way(strategy, name, None, b, f, d)
    if b is None:  # created
        if f is None or d is None:
            return Outcome(
                present(FILE_NEW, f) | present(DATABASE_NEW, d),
                present(FILE_NEW, f) | present(DATABASE_NEW, d),
            )
        if twins(name, f, d):  # create vs create: one task under the database's id
            return replace(
                three_way(strategy, name, DATABASE_NEW, None, f, d),
                renamed={FILE_NEW: DATABASE_NEW},
            )
        both = {FILE_NEW: f, DATABASE_NEW: d}
        return Outcome(dict(both), dict(both))
    if f is None and d is None:  # deleted on both sides
        return Outcome({}, {})
    if f is None or d is None:
        survivor = f if d is None else d
        if survivor == b:  # deleted on one side, untouched on the other
            return Outcome({}, {})
        row: Row = (ConflictType.STRUCTURE, "exists", TASK, b, f, d)
        decision = decide(strategy, "exists", b, f, d)
        if decision is None:  # a deletion never silently beats an edit
            return Outcome(present(TASK, f), present(TASK, d), opened=[row])
        winner = f if decision[0] == "markdown" else d
        return Outcome(
            present(TASK, winner), present(TASK, winner), settled=[(row, decision[0], None)]
        )
    return three_way(strategy, name, TASK, b, f, d)


# --- building the three states and observing a merge ------------------------------------


def value_of(name: str, letter: str) -> object:
    return None if letter == "-" else VALUES[name]["ABC".index(letter)]


PARENT = task("parent", text="Préparer l'environnement")


def side(name: str, letter: str, task_id: str) -> PlanState:
    value = value_of(name, letter)
    if name in META_FIELDS:
        return plan(PARENT, task(TASK), meta={**PLAN_META, name: value})
    if value is None:
        return plan(PARENT)
    subject = task(task_id)
    if name == "status":
        assert isinstance(value, str)
        subject = replace(subject, status=value)
    elif name == "text":
        assert isinstance(value, str)
        subject = replace(subject, text=value)
    else:
        assert isinstance(value, tuple)
        subject = replace(subject, phase=value[0], parent_id=value[1])
    return plan(PARENT, subject)


def summary(name: str, value: object) -> object:
    """A conflict value as the table writes it: a whole task (for ``exists``) → its field."""
    return task_value(value, name) if isinstance(value, TaskState) else value


def row_of(name: str, conflict: Conflict) -> Row:
    return (
        conflict.type,
        conflict.field,
        conflict.task_id,
        summary(name, conflict.base),
        summary(name, conflict.markdown),
        summary(name, conflict.database),
    )


def observe(name: str, result: MergeResult) -> Outcome:
    def values(state: PlanState) -> dict[str, object]:
        if name in META_FIELDS:
            return {PLAN_KEY: state.meta[name]}
        return {key: task_value(t, name) for key, t in state.tasks.items() if key != PARENT.id}

    return Outcome(
        values(result.file_target),
        values(result.database_target),
        opened=[row_of(name, c) for c in result.opened],
        settled=[(row_of(name, c), r.take, r.value) for c, r in result.settled],
        renamed=dict(result.renamed),
    )


def run(strategy: str, name: str, letters: str) -> MergeResult:
    b, f, d = letters[0], letters[1], letters[2]
    return merge_plan(
        side(name, b, TASK),
        side(name, f, TASK if b != "-" else FILE_NEW),
        side(name, d, TASK if b != "-" else DATABASE_NEW),
        policy(strategy),
    )


def untouched_elsewhere(name: str, result: MergeResult) -> None:
    """Only the field under test moves: the other task and the other meta fields stay."""
    for target in (result.file_target, result.database_target):
        assert target.tasks[PARENT.id].text == PARENT.text
        assert target.tasks[PARENT.id].parent_id is None
        for key in META_FIELDS:
            if key != name:
                assert target.meta[key] == PLAN_META[key]
    assert result.held == []


COMBOS = ["".join(letters) for letters in product(LETTERS, repeat=3)]


@pytest.mark.parametrize("letters", COMBOS)
@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_every_combination_follows_the_table(strategy: str, name: str, letters: str) -> None:
    result = run(strategy, name, letters)
    want = expected(strategy, name, *(value_of(name, letter) for letter in letters))
    assert observe(name, result) == want
    untouched_elsewhere(name, result)


def test_the_table_is_exhaustive() -> None:
    assert len(COMBOS) == 64
    assert set(FIELDS) == {"status", "text", "place", *META_FIELDS}


# --- hand-checked key rows ----------------------------------------------------------------


@dataclass(frozen=True)
class KeyRow:
    """``letters``: base, file, database ('-' = absent). Targets in letters (or literal text)
    by task id; ``conflict``: 'opened <field>', 'settled <field> <take>' or ''."""

    why: str
    strategy: str
    name: str
    letters: str
    file: dict[str, str]
    database: dict[str, str]
    conflict: str = ""
    renamed: dict[str, str] = field(default_factory=dict)


KEY_ROWS = [
    KeyRow("same change on both sides", "manual", "status", "ABB", {"t": "B"}, {"t": "B"}),
    KeyRow(
        "same change, even with no base", "manual", "title", "-BB", {"plan": "B"}, {"plan": "B"}
    ),
    KeyRow("only the file changed", "manual", "status", "ABA", {"t": "B"}, {"t": "B"}),
    KeyRow("only the database changed", "manual", "text", "AAB", {"t": "B"}, {"t": "B"}),
    KeyRow(
        "both changed: manual keeps each side",
        "manual",
        "status",
        "ABC",
        {"t": "B"},
        {"t": "C"},
        "opened status",
    ),
    KeyRow(
        "both changed: markdown wins",
        "markdown-wins",
        "status",
        "ABC",
        {"t": "B"},
        {"t": "B"},
        "settled status markdown",
    ),
    KeyRow(
        "both changed: database wins",
        "database-wins",
        "place",
        "ABC",
        {"t": "C"},
        {"t": "C"},
        "settled place database",
    ),
    KeyRow(
        "status conflicts wait under auto-merge",
        "auto-merge",
        "status",
        "ABC",
        {"t": "B"},
        {"t": "C"},
        "opened status",
    ),
    KeyRow(
        "text edits apart merge word by word",
        "auto-merge",
        "text",
        "ABC",
        {"t": "Relire vite les tests du parseur."},
        {"t": "Relire vite les tests du parseur."},
        "settled text custom",
    ),
    KeyRow(
        "overlapping text edits wait",
        "auto-merge",
        "text",
        "BAC",
        {"t": "A"},
        {"t": "C"},
        "opened text",
    ),
    KeyRow("deleted in the file, untouched in the database", "manual", "text", "A-A", {}, {}),
    KeyRow(
        "deleted in the database, untouched in the file", "markdown-wins", "status", "AA-", {}, {}
    ),
    KeyRow("deleted on both sides", "manual", "status", "A--", {}, {}),
    KeyRow(
        "delete vs modify never deletes silently",
        "manual",
        "text",
        "A-B",
        {},
        {"t": "B"},
        "opened exists",
    ),
    KeyRow(
        "modify vs delete never deletes silently",
        "auto-merge",
        "status",
        "AB-",
        {"t": "B"},
        {},
        "opened exists",
    ),
    KeyRow(
        "delete vs modify, markdown (the deletion) wins",
        "markdown-wins",
        "text",
        "A-B",
        {},
        {},
        "settled exists markdown",
    ),
    KeyRow(
        "delete vs modify, database (the edit) wins",
        "database-wins",
        "text",
        "A-B",
        {"t": "B"},
        {"t": "B"},
        "settled exists database",
    ),
    KeyRow("created in the file only", "manual", "status", "-A-", {"t-md": "A"}, {"t-md": "A"}),
    KeyRow("created in the database only", "manual", "text", "--B", {"t-db": "B"}, {"t-db": "B"}),
    KeyRow(
        "create vs create, same task",
        "manual",
        "status",
        "-AA",
        {"t-db": "A"},
        {"t-db": "A"},
        renamed={"t-md": "t-db"},
    ),
    KeyRow(
        "create vs create, statuses differ",
        "manual",
        "status",
        "-AB",
        {"t-db": "A"},
        {"t-db": "B"},
        "opened status",
        {"t-md": "t-db"},
    ),
    KeyRow(
        "create vs create, markdown wins",
        "markdown-wins",
        "status",
        "-CB",
        {"t-db": "C"},
        {"t-db": "C"},
        "settled status markdown",
        {"t-md": "t-db"},
    ),
    KeyRow(
        "created with different texts: two tasks",
        "manual",
        "text",
        "-AB",
        {"t-md": "A", "t-db": "B"},
        {"t-md": "A", "t-db": "B"},
    ),
    KeyRow(
        "created in different phases: two tasks",
        "manual",
        "place",
        "-AC",
        {"t-md": "A", "t-db": "C"},
        {"t-md": "A", "t-db": "C"},
    ),
    KeyRow(
        "created under different parents: one task, a place conflict",
        "manual",
        "place",
        "-AB",
        {"t-db": "A"},
        {"t-db": "B"},
        "opened place",
        {"t-md": "t-db"},
    ),
    KeyRow(
        "a version removed in the file", "manual", "version", "A-A", {"plan": "-"}, {"plan": "-"}
    ),
    KeyRow(
        "a title set differently on both sides",
        "manual",
        "title",
        "-AB",
        {"plan": "A"},
        {"plan": "B"},
        "opened title",
    ),
    KeyRow(
        "metadata, database wins",
        "database-wins",
        "declared_progress",
        "ABC",
        {"plan": "C"},
        {"plan": "C"},
        "settled declared_progress database",
    ),
]


def letter(name: str, value: object) -> str:
    if value is None:
        return "-"
    if value in VALUES[name]:
        return "ABC"[VALUES[name].index(value)]
    assert isinstance(value, str)
    return value


def describe(
    name: str, outcome: Outcome
) -> tuple[dict[str, str], dict[str, str], str, dict[str, str]]:
    conflicts = [f"opened {row[1]}" for row in outcome.opened]
    conflicts += [f"settled {row[1]} {take}" for row, take, _ in outcome.settled]
    assert len(conflicts) <= 1
    return (
        {key: letter(name, value) for key, value in outcome.file.items()},
        {key: letter(name, value) for key, value in outcome.database.items()},
        "".join(conflicts),
        outcome.renamed,
    )


@pytest.mark.parametrize("row", KEY_ROWS, ids=[row.why for row in KEY_ROWS])
def test_key_rows_hold_for_the_merge_and_the_rule(row: KeyRow) -> None:
    want = (row.file, row.database, row.conflict, row.renamed)
    values = [value_of(row.name, each) for each in row.letters]
    assert describe(row.name, expected(row.strategy, row.name, *values)) == want
    assert describe(row.name, observe(row.name, run(row.strategy, row.name, row.letters))) == want


def test_a_delete_vs_modify_conflict_carries_the_whole_tasks() -> None:
    result = run("manual", "text", "A-B")
    (conflict,) = result.opened
    assert conflict.type is ConflictType.STRUCTURE
    assert conflict.field == "exists"
    assert conflict.severity == "high"
    assert isinstance(conflict.base, TaskState)
    assert conflict.base.text == TEXT_A
    assert conflict.markdown is None
    assert isinstance(conflict.database, TaskState)
    assert conflict.database.text == TEXT_B
