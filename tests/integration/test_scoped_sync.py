"""A sync told which plans changed (``sync PLAN...`` on the command line, ``SyncScope`` for a
running engine) against the real embedded PostgreSQL and real files: it syncs those plans
as a full sync would, and leaves every other plan, and the root's last sync, alone."""

from __future__ import annotations

import os
from typing import Any

import pytest

from sync_engine import bootstrap
from sync_engine.config import load_settings
from sync_engine.entrypoints.cli import main
from sync_engine.services.sync import SyncReport, SyncScope
from tests.integration.sample_root import PLAN, Root

OTHER = "roadmap-mobile-app.md"


def tick_first_todo(root: Root, name: str) -> tuple[int, dict[str, Any]]:
    """Mark the plan's first to-do task done by plain SQL; its line and the task."""
    line = next(i for i, text in enumerate(root.lines(name), 1) if text.startswith("- [ ] "))
    task = root.task_at(line, name)
    root.sql("UPDATE tasks SET status = 'done' WHERE id = %s", task["id"])
    return line, task


def pending_plans(root: Root) -> set[str]:
    rows = root.sql(
        "SELECT DISTINCT p.path FROM change_log AS c JOIN plans AS p ON p.id = c.plan_id "
        "WHERE c.consumed_at IS NULL"
    )
    return {path for (path,) in rows}


def last_sync(root: Root) -> object:
    return root.sql("SELECT last_sync_at FROM roots")[0][0]


def test_a_scoped_sync_writes_back_its_plans_and_leaves_the_others(root: Root) -> None:
    line, _ = tick_first_todo(root, PLAN)
    other_line, _ = tick_first_todo(root, OTHER)
    other_before = (root.path / OTHER).read_bytes()
    synced_at = last_sync(root)
    report = root.ok("sync", PLAN)
    assert (report["files_scanned"], report["written_back"], report["not_found"]) == (1, 1, [])
    assert root.lines()[line - 1].startswith("- [x] ")
    assert (root.path / OTHER).read_bytes() == other_before
    assert pending_plans(root) == {OTHER}
    assert last_sync(root) == synced_at  # not a sync of the whole root
    # The next full sync writes the other plan back, and nothing twice.
    report = root.ok("sync")
    assert (report["written_back"], report["files_changed"]) == (1, 0)
    assert root.lines(OTHER)[other_line - 1].startswith("- [x] ")
    assert pending_plans(root) == set()
    assert last_sync(root) != synced_at


def test_a_scoped_sync_reads_its_files_and_no_other(root: Root) -> None:
    for name in (PLAN, OTHER):
        with (root.path / name).open("a", encoding="utf-8") as file:
            file.write("\n- [ ] Ajoutée dans le fichier\n")
    report = root.ok("sync", str(root.path / OTHER))  # an absolute path
    assert (report["files_scanned"], report["files_changed"], report["tasks_created"]) == (
        1,
        1,
        1,
    )
    texts = [task["text"] for task in root.ok("tasks", "list", "--plan", PLAN)]
    assert "Ajoutée dans le fichier" not in texts
    assert root.ok("sync")["tasks_created"] == 1  # the plan left alone


def test_a_scoped_sync_adds_a_new_plan_and_deletes_a_gone_one(root: Root) -> None:
    (root.path / "lot").mkdir()
    (root.path / "lot" / "nouveau.md").write_text("# Nouveau\n\n- [ ] Une tâche\n", "utf-8")
    tasks = len(root.ok("tasks", "list", "--plan", OTHER))
    (root.path / OTHER).unlink()
    report = root.ok("sync", "lot/nouveau.md", OTHER)
    assert (report["files_scanned"], report["tasks_created"]) == (1, 1)
    assert (report["plans_deleted"], report["tasks_deleted"]) == (1, tasks)
    assert root.ok("tasks", "list", "--plan", OTHER) == []
    assert [task["text"] for task in root.ok("tasks", "list", "--plan", "lot/nouveau.md")] == [
        "Une tâche"
    ]
    again = root.ok("sync")
    assert (again["files_changed"], again["plans_deleted"], again["tasks_created"]) == (0, 0, 0)


def test_a_scoped_sync_weighs_deletions_against_the_whole_root(root: Root) -> None:
    names = sorted(path.name for path in root.path.glob("*.md"))
    for name in names[:5]:  # five of eight plans: more than half
        (root.path / name).unlink()
    code, report = root.run("sync", *names[:5])
    assert code == 1
    assert report["plans_deleted"] == 0
    assert "refused to delete 5 of 8 plans" in report["refused"][0]
    assert root.ok("sync", names[0])["plans_deleted"] == 1  # one of eight is no mass deletion


def test_a_path_that_is_no_plan_is_reported(root: Root) -> None:
    code, report = root.run("sync", "absent.md", PLAN)
    assert code == 1
    assert (report["not_found"], report["files_scanned"]) == (["absent.md"], 1)


@pytest.mark.parametrize("path", ["../outside.md", "/tmp/elsewhere.md"])
def test_a_path_outside_the_root_is_bad_usage(
    root: Root, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sync", path, "--root", str(root.path), "--database-url", root.url])
    assert code == 2
    assert "not inside the plans root" in capsys.readouterr().err


def test_a_path_from_the_working_folder_inside_the_root(
    root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    tick_first_todo(root, PLAN)
    monkeypatch.chdir(root.path.parent)
    report = root.ok("sync", f"{root.path.name}/{PLAN}")
    assert (report["files_scanned"], report["written_back"]) == (1, 1)


def test_a_running_engine_syncs_the_plans_the_database_names(root: Root) -> None:
    """The service as a long-running engine calls it, told the plan ids that the database's
    notifications carry."""
    line, task = tick_first_todo(root, PLAN)
    tick_first_todo(root, OTHER)
    (plan_id,) = root.sql("SELECT plan_id::text FROM tasks WHERE id = %s", task["id"])[0]
    settings = load_settings(root.path, {"database_url": root.url})
    with (
        bootstrap.open_store(settings) as store,
        bootstrap.plan_analyser(settings) as analyser,
    ):
        sync = bootstrap.build_files_sync(settings, store, None, analyser)
        options = bootstrap.sync_options(settings, dry_run=False, allow_mass_delete=False)
        try:
            report: SyncReport = sync.run(options, SyncScope(plan_ids=frozenset({plan_id})))
            assert (report.counts.files_scanned, report.counts.written_back) == (1, 1)
            assert root.lines()[line - 1].startswith("- [x] ")
            assert pending_plans(root) == {OTHER}
            # Told of a plan whose file is unchanged and holds no database edit: nothing.
            again = sync.run(options, SyncScope(plan_ids=frozenset({plan_id})))
            assert (again.counts.files_changed, again.counts.written_back) == (0, 0)
        finally:
            sync.close()


def test_a_dry_scoped_sync_changes_nothing(root: Root) -> None:
    tick_first_todo(root, PLAN)
    before = {path.name: path.read_bytes() for path in root.path.glob("*.md")}
    stat = os.stat(root.path / PLAN)
    report = root.ok("sync", PLAN, "--dry-run")
    assert any(change.startswith("merge ") for change in report["changes"])
    assert {path.name: path.read_bytes() for path in root.path.glob("*.md")} == before
    assert os.stat(root.path / PLAN).st_mtime_ns == stat.st_mtime_ns
    assert pending_plans(root) == {PLAN}


def test_the_named_plans_paths_are_root_relative(root: Root) -> None:
    report = root.ok("sync", f"./{PLAN}", f"lot/../{PLAN}")
    assert report["files_scanned"] == 1
