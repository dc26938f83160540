"""Moves made in the database (plain SQL and ``tasks move``) reach the file, against the real
embedded PostgreSQL and real files: only the moved lines change, sub-tasks go along, and
moves on both sides merge or wait for a person."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.integration.sample_root import PLAN, Root


def task(root: Root, label: str) -> dict[str, Any]:
    """The task of the plan whose text starts with the bold label ``label``."""
    tasks = root.ok("tasks", "list", "--plan", PLAN)
    return next(t for t in tasks if t["text"].startswith(f"**{label}**"))


def line_of(lines: list[str], label: str) -> int:
    """The 0-based index of the line of the task labelled ``label``."""
    return next(i for i, line in enumerate(lines) if f"**{label}**" in line)


def phase_id(root: Root, number: int) -> str:
    rows = root.sql(
        "SELECT ph.id FROM phases ph JOIN plans p ON p.id = ph.plan_id "
        "WHERE p.path = %s AND p.deleted_at IS NULL AND ph.number = %s",
        PLAN,
        number,
    )
    return str(rows[0][0])


def moved(lines: list[str], start: int, count: int, after: int) -> list[str]:
    """``lines`` with ``lines[start:start + count]`` put right after ``lines[after]``."""
    block = lines[start : start + count]
    rest = lines[:start] + lines[start + count :]
    at = after + 1 - (count if after >= start + count else 0)
    return rest[:at] + block + rest[at:]


def raw(root: Root) -> bytes:
    return (root.path / PLAN).read_bytes()


def assert_settled(root: Root) -> None:
    """A second sync changes nothing and every database edit was consumed."""
    before = raw(root)
    again = root.ok("sync")
    assert (again["written_back"], again["files_changed"], again["tasks_updated"]) == (0, 0, 0)
    assert (again["tasks_created"], again["tasks_deleted"], again["conflicts_opened"]) == (0, 0, 0)
    assert raw(root) == before
    assert root.sql("SELECT count(*) FROM change_log WHERE consumed_at IS NULL") == [(0,)]


def test_a_task_moved_to_another_phase_in_sql_moves_its_lines_and_subtasks(root: Root) -> None:
    moving = task(root, "2.2.3")
    before = root.lines()
    root.sql("UPDATE tasks SET phase_id = %s WHERE id = %s", phase_id(root, 3), moving["id"])
    report = root.ok("sync")
    assert report["written_back"] == 1
    # Out of phase 2 with its two sub-tasks, to the end of phase 3; every other line as it was.
    expected = moved(before, line_of(before, "2.2.3"), 3, line_of(before, "3.2.2.2"))
    assert root.lines() == expected
    assert raw(root) == ("\n".join(expected) + "\n").encode()
    shown = {t["text"].split("**")[1]: t for t in root.ok("tasks", "list", "--plan", PLAN)}
    assert [shown[label]["phase"] for label in ("2.2.3", "2.2.3.1", "2.2.3.2")] == [3, 3, 3]
    assert shown["2.2.3"]["line"] == line_of(expected, "2.2.3") + 1
    assert_settled(root)


def test_a_task_given_a_parent_in_sql_becomes_its_last_subtask(root: Root) -> None:
    parent = task(root, "2.2.3")
    moving = task(root, "3.1.3")
    before = root.lines()
    root.sql("UPDATE tasks SET parent_id = %s WHERE id = %s", parent["id"], moving["id"])
    root.ok("sync")
    at = line_of(before, "3.1.3")
    expected = moved(before, at, 1, line_of(before, "2.2.3.2"))
    expected[line_of(expected, "3.1.3")] = "  " + before[at]
    assert root.lines() == expected
    rows = root.sql("SELECT parent_id::text FROM tasks WHERE id = %s", moving["id"])
    assert rows == [(parent["id"],)]
    assert task(root, "3.1.3")["phase"] == 2
    assert_settled(root)


def test_a_task_given_its_previous_sibling_as_parent_is_indented_in_place(root: Root) -> None:
    before = root.lines()
    parent, moving = task(root, "2.1.3"), task(root, "2.1.4")
    root.sql("UPDATE tasks SET parent_id = %s WHERE id = %s", parent["id"], moving["id"])
    root.ok("sync")
    at = line_of(before, "2.1.4")
    assert root.lines() == [*before[:at], "  " + before[at], *before[at + 1 :]]
    assert_settled(root)


def test_a_task_reordered_in_sql_moves_alone(root: Root) -> None:
    before = root.lines()
    second, third = task(root, "3.1.2"), task(root, "3.1.3")
    # Right after 3.1.3: the position after it; at one position the moved task goes first.
    root.sql(
        "UPDATE tasks SET position = (SELECT position + 1 FROM tasks WHERE id = %s) WHERE id = %s",
        third["id"],
        second["id"],
    )
    root.ok("sync")
    at = line_of(before, "3.1.2")
    assert root.lines() == [*before[:at], before[at + 1], before[at], *before[at + 2 :]]
    assert_settled(root)


def test_a_task_moved_to_the_start_of_its_phase_goes_before_its_first_task(root: Root) -> None:
    before = root.lines()
    first, moving = task(root, "4.1.1"), task(root, "4.2.2")
    root.sql(
        "UPDATE tasks SET position = (SELECT position FROM tasks WHERE id = %s) WHERE id = %s",
        first["id"],
        moving["id"],
    )
    root.ok("sync")
    expected = moved(before, line_of(before, "4.2.2"), 1, line_of(before, "4.1.1") - 1)
    assert root.lines() == expected
    assert_settled(root)


def test_a_move_under_its_own_subtask_is_refused_by_the_database(root: Root) -> None:
    parent, child = task(root, "2.2.3"), task(root, "2.2.3.1")
    with pytest.raises(psycopg.errors.CheckViolation, match="under itself"):
        root.sql("UPDATE tasks SET parent_id = %s WHERE id = %s", child["id"], parent["id"])
    other = root.sql("SELECT id FROM plans WHERE path <> %s AND deleted_at IS NULL LIMIT 1", PLAN)[
        0
    ][0]
    foreign = root.sql("SELECT id FROM tasks WHERE plan_id = %s LIMIT 1", other)[0][0]
    with pytest.raises(psycopg.errors.CheckViolation, match="same plan"):
        root.sql("UPDATE tasks SET parent_id = %s WHERE id = %s", foreign, parent["id"])
    assert root.sql("SELECT count(*) FROM change_log") == [(0,)]


def test_tasks_move_from_the_command_line(root: Root) -> None:
    before = root.lines()
    moving, anchor = task(root, "2.1.4"), task(root, "3.2.1")
    shown = root.ok("tasks", "move", moving["id"][:8], "--after", anchor["id"])
    assert shown["phase"] == 3
    root.ok("sync")
    expected = moved(before, line_of(before, "2.1.4"), 1, line_of(before, "3.2.1"))
    assert root.lines() == expected
    assert_settled(root)

    # --parent, then --top: in and out again, at the end of the phase.
    parent = task(root, "3.2.2")
    root.ok("tasks", "move", moving["id"], "--parent", parent["id"])
    root.ok("sync")
    lines = root.lines()
    assert lines[line_of(lines, "3.2.2.2") + 1] == "  " + before[line_of(before, "2.1.4")]
    root.ok("tasks", "move", moving["id"], "--top")
    root.ok("sync")
    lines = root.lines()
    assert lines[line_of(lines, "3.2.2.2") + 1] == before[line_of(before, "2.1.4")]
    root.ok("tasks", "move", moving["id"], "--phase", "4")
    root.ok("sync")
    lines = root.lines()
    assert line_of(lines, "2.1.4") == line_of(lines, "4.2.2") + 1
    assert sorted(lines) == sorted(before)  # every line is still there, once
    assert_settled(root)
    audit = root.sql("SELECT action FROM audit_log WHERE action = 'task.move'")
    assert len(audit) == 4


def test_tasks_move_refuses_what_it_cannot_do(root: Root) -> None:
    moving, child = task(root, "2.2.3"), task(root, "2.2.3.1")
    assert root.run("tasks", "move", "00000000-0000", "--top")[0] == 1
    assert root.run("tasks", "move", moving["id"], "--parent", child["id"])[0] == 1
    assert root.run("tasks", "move", moving["id"], "--phase", "9")[0] == 1
    assert root.run("tasks", "move", moving["id"], "--phase", "3", "--after", child["id"])[0] == 2
    assert root.run("tasks", "move", moving["id"])[0] == 2
    assert root.sql("SELECT count(*) FROM change_log") == [(0,)]


def edit_file(root: Root, change: Any) -> None:
    lines = (root.path / PLAN).read_text("utf-8").splitlines(keepends=True)
    change(lines)
    (root.path / PLAN).write_text("".join(lines), encoding="utf-8")


def test_moves_to_different_places_on_both_sides_wait_for_a_person(root: Root) -> None:
    moving = task(root, "2.1.4")
    at = line_of(root.lines(), "2.1.4")

    def indent(lines: list[str]) -> None:  # under 2.1.3, in the file
        lines[at] = "  " + lines[at]

    edit_file(root, indent)
    root.ok("tasks", "move", moving["id"], "--phase", "3")
    person = raw(root)
    report = root.ok("sync")
    assert report["conflicts_opened"] == 1
    assert raw(root) == person  # the file keeps the person's place
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert (conflict["type"], conflict["field"]) == ("structure_change", "place")
    assert task(root, "2.1.4")["phase"] == 3  # the database its own
    assert root.sql("SELECT parent_id FROM tasks WHERE id = %s", moving["id"]) == [(None,)]
    assert root.run("tasks", "move", moving["id"], "--top")[0] == 1  # the place is held
    again = root.ok("sync")
    assert (again["conflicts_opened"], again["written_back"]) == (0, 0)
    assert task(root, "2.1.4")["phase"] == 3

    root.ok("conflicts", "resolve", conflict["id"], "--take", "database")
    root.ok("sync")
    lines = root.lines()
    assert line_of(lines, "2.1.4") == line_of(lines, "3.2.2.2") + 1
    assert lines[line_of(lines, "2.1.4")].startswith("- [ ] ")
    assert_settled(root)


def test_the_same_move_on_both_sides_is_no_conflict(root: Root) -> None:
    moving = task(root, "2.1.4")
    before = root.lines()
    expected = moved(before, line_of(before, "2.1.4"), 1, line_of(before, "3.2.2.2"))
    (root.path / PLAN).write_text("\n".join(expected) + "\n", encoding="utf-8")
    root.sql("UPDATE tasks SET phase_id = %s WHERE id = %s", phase_id(root, 3), moving["id"])
    report = root.ok("sync")
    assert (report["conflicts_opened"], report["written_back"]) == (0, 0)
    assert root.lines() == expected
    assert task(root, "2.1.4")["phase"] == 3
    assert root.ok("conflicts", "list") == []
    assert_settled(root)


def test_a_move_in_the_database_and_a_text_edit_in_the_file_merge(root: Root) -> None:
    moving = task(root, "2.2.4")
    at = line_of(root.lines(), "2.2.4")

    def reword(lines: list[str]) -> None:
        lines[at] = lines[at].replace("vers l'amont", "vers les services amont")

    edit_file(root, reword)
    edited = root.lines()
    root.sql("UPDATE tasks SET phase_id = %s WHERE id = %s", phase_id(root, 4), moving["id"])
    report = root.ok("sync")
    assert report["conflicts_opened"] == 0
    assert root.lines() == moved(edited, at, 1, line_of(edited, "4.2.2"))
    shown = task(root, "2.2.4")
    assert (shown["phase"], shown["text"].endswith("vers les services amont")) == (4, True)
    assert_settled(root)


def test_a_move_in_the_file_and_a_status_change_in_the_database_merge(root: Root) -> None:
    moving = task(root, "3.1.2")
    before = root.lines()
    expected = moved(before, line_of(before, "3.1.2"), 1, line_of(before, "4.1.3"))
    (root.path / PLAN).write_text("\n".join(expected) + "\n", encoding="utf-8")
    root.ok("tasks", "update", moving["id"], "--status", "done")
    root.ok("sync")
    expected[line_of(expected, "3.1.2")] = expected[line_of(expected, "3.1.2")].replace(
        "- [ ] ", "- [x] "
    )
    assert root.lines() == expected
    assert task(root, "3.1.2")["phase"] == 4
    assert_settled(root)


@pytest.mark.parametrize("deletion", ["DELETE FROM tasks", "UPDATE tasks SET deleted_at = now()"])
def test_a_subtask_moved_out_of_a_task_deleted_in_the_same_edit_lives_on(
    root: Root, deletion: str
) -> None:
    parent, kept, gone = task(root, "2.2.3"), task(root, "2.2.3.2"), task(root, "2.2.3.1")
    anchor = task(root, "2.2.4")
    before = root.lines()
    root.ok("tasks", "move", kept["id"], "--after", anchor["id"])
    root.sql(f"{deletion} WHERE id = %s", parent["id"])
    root.ok("sync")
    at = line_of(before, "2.2.3")
    expected = [*before[:at], before[at + 3], before[at + 2].lstrip(), *before[at + 4 :]]
    assert root.lines() == expected
    shown = root.ok("tasks", "show", kept["id"])
    assert (shown["phase"], shown["line"]) == (2, at + 2)
    assert root.run("tasks", "show", gone["id"])[0] == 1
    assert_settled(root)


def test_tasks_moved_under_a_task_added_in_the_same_edit_go_under_it(root: Root) -> None:
    before = root.lines()
    second, third = task(root, "3.1.2"), task(root, "3.1.3")
    with psycopg.connect(root.url) as connection:
        (group,) = (
            connection.execute(
                "INSERT INTO tasks (plan_id, phase_id, text) "
                "SELECT plan_id, phase_id, 'Regrouper les quotas' FROM tasks WHERE id = %s "
                "RETURNING id",
                (second["id"],),
            ).fetchone()
            or ()
        )
        for moving in (second, third):
            connection.execute(
                "UPDATE tasks SET parent_id = %s WHERE id = %s", (group, moving["id"])
            )
    root.ok("sync")
    at = line_of(before, "3.1.2")
    end = line_of(before, "3.2.2.2")
    expected = [
        *before[:at],
        *before[at + 2 : end + 1],
        "- [ ] Regrouper les quotas",
        "  " + before[at],
        "  " + before[at + 1],
        *before[end + 1 :],
    ]
    assert root.lines() == expected
    rows = root.sql(
        "SELECT parent_id::text FROM tasks WHERE id IN (%s, %s)", second["id"], third["id"]
    )
    assert rows == [(str(group),), (str(group),)]
    assert_settled(root)


def test_a_task_and_its_parent_swapped_under_a_new_task(root: Root) -> None:
    parent, child = task(root, "2.2.3"), task(root, "2.2.3.1")
    with psycopg.connect(root.url) as connection:
        (group,) = (
            connection.execute(
                "INSERT INTO tasks (plan_id, phase_id, text) "
                "SELECT plan_id, phase_id, 'Sessions' FROM tasks WHERE id = %s RETURNING id",
                (parent["id"],),
            ).fetchone()
            or ()
        )
        connection.execute("UPDATE tasks SET parent_id = %s WHERE id = %s", (group, child["id"]))
        connection.execute(
            "UPDATE tasks SET parent_id = %s WHERE id = %s", (child["id"], parent["id"])
        )
    root.ok("sync")
    lines = root.lines()
    at = lines.index("- [ ] Sessions")
    assert [line.split("**")[0] + line.split("**")[1] for line in lines[at + 1 : at + 4]] == [
        "  - [ ] 2.2.3.1",
        "    - [ ] 2.2.3",
        "      - [ ] 2.2.3.2",
    ]
    assert_settled(root)


def test_tasks_move_after_a_task_whose_parent_was_deleted_goes_to_the_live_level(
    root: Root,
) -> None:
    parent, child, moving = task(root, "2.2.3"), task(root, "2.2.3.1"), task(root, "3.1.2")
    root.sql("UPDATE tasks SET deleted_at = now() WHERE id = %s", parent["id"])
    shown = root.ok("tasks", "move", moving["id"], "--after", child["id"])
    assert shown["phase"] == 2
    assert root.sql("SELECT parent_id FROM tasks WHERE id = %s", moving["id"]) == [(None,)]
    before = root.lines()
    root.ok("sync")
    at = line_of(before, "2.2.3")
    # The deleted task goes with its sub-tasks; the moved one lands where they were.
    assert root.lines() == [
        *before[:at],
        before[line_of(before, "3.1.2")],
        *[line for line in before[at + 3 :] if "**3.1.2**" not in line],
    ]
    assert_settled(root)
