"""Files → store with the in-memory store: task identities survive edits, insertions,
reorders, moves and renames; work is proportional to what changed; guards refuse mass
deletions; flagged plans are skipped with their last good state kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync_engine.adapters.filesystem import LocalPlanFiles
from sync_engine.domain import DEFAULT_STATUS_TABLE
from sync_engine.services.sync import FilesToDatabaseSync, SyncOptions, SyncReport
from sync_engine.testing import InMemoryPlanStore
from sync_engine.validation import PlanValidator

PLAN = """# Plan

## Phase 1: Départ

- [ ] **1.1** Écrire le parseur
- [x] **1.2** Écrire les tests
  - [ ] **1.2.1** Cas limites
- [ ] **1.3** Documenter

## Phase 2: Suite

- [ ] **2.1** Publier
"""


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = InMemoryPlanStore()
        self.files = LocalPlanFiles(root)

    def write(self, name: str, text: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        # Move the mtime out of the racy window so the fast path is what is tested.
        old = path.stat().st_mtime_ns - 10_000_000_000
        os.utime(path, ns=(old, old))

    def sync(self, **options: object) -> SyncReport:
        sync = FilesToDatabaseSync(
            self.store, self.files, PlanValidator(), DEFAULT_STATUS_TABLE, str(self.root)
        )
        return sync.run(SyncOptions(**options))  # type: ignore[arg-type]

    def ids(self) -> dict[str, str]:
        root = self.store.ensure_root(str(self.root))
        return {task.title: task.id for _, task in self.store.live_tasks(root.id)}


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_cold_sync_then_noop(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    first = harness.sync()
    assert (first.counts.files_changed, first.counts.tasks_created) == (1, 5)
    second = harness.sync()
    assert second.counts.files_changed == 0
    assert (second.counts.tasks_created, second.counts.tasks_updated) == (0, 0)


def test_edit_keeps_identity(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    harness.sync()
    before = harness.ids()
    harness.write(
        "plan.md",
        PLAN.replace("- [ ] **1.1** Écrire le parseur", "- [x] **1.1** Écrire le parseur Markdown"),
    )
    report = harness.sync()
    after = harness.ids()
    assert after["Écrire le parseur Markdown"] == before["Écrire le parseur"]
    assert (report.counts.tasks_updated, report.counts.tasks_created) == (1, 0)


def test_insert_above_and_renumber_keeps_identities(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    harness.sync()
    before = harness.ids()
    text = PLAN.replace(
        "- [ ] **1.1** Écrire le parseur",
        "- [ ] **1.1** Nouvelle tâche\n- [ ] **1.2** Écrire le parseur",
    )
    text = text.replace("**1.2** Écrire les tests", "**1.3** Écrire les tests")
    harness.write("plan.md", text)
    report = harness.sync()
    after = harness.ids()
    for title in ("Écrire le parseur", "Écrire les tests", "Cas limites", "Publier"):
        assert after[title] == before[title]
    assert report.counts.tasks_created == 1
    assert report.counts.tasks_deleted == 0


def test_reorder_and_move_across_phases(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    harness.sync()
    before = harness.ids()
    moved = PLAN.replace("- [ ] **1.3** Documenter\n", "").replace(
        "- [ ] **2.1** Publier", "- [ ] **2.1** Publier\n- [ ] **2.2** Documenter"
    )
    harness.write("plan.md", moved)
    report = harness.sync()
    assert harness.ids() == before
    assert report.counts.tasks_updated == 1  # its phase changed


def test_renamed_phase_keeps_task_identities(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    harness.sync()
    before = harness.ids()
    harness.write("plan.md", PLAN.replace("Phase 2: Suite", "Phase 2: Publication"))
    harness.sync()
    assert harness.ids() == before


def test_duplicate_texts_keep_their_own_ids(harness: Harness) -> None:
    text = "## Phase 1: A\n\n- [ ] Relire\n- [ ] Tester\n- [ ] Relire\n"
    harness.write("plan.md", text)
    harness.sync()
    root = harness.store.ensure_root(str(harness.root))
    first = [(t.line, t.id) for _, t in harness.store.live_tasks(root.id) if t.title == "Relire"]
    harness.write(
        "plan.md", text.replace("- [ ] Tester\n- [ ] Relire", "- [ ] Tester\n- [x] Relire")
    )
    report = harness.sync()
    second = [
        (t.line, t.id, t.status)
        for _, t in harness.store.live_tasks(root.id)
        if t.title == "Relire"
    ]
    assert [row[1] for row in second] == [row[1] for row in first]
    assert second[1][2] == "done"
    assert report.counts.tasks_updated == 1


def test_only_changed_files_are_parsed(harness: Harness) -> None:
    for index in range(20):
        harness.write(f"plans/p{index}.md", PLAN.replace("Plan", f"Plan {index}"))
    assert harness.sync().counts.files_changed == 20
    harness.write("plans/p7.md", PLAN.replace("[ ] **2.1**", "[x] **2.1**"))
    report = harness.sync()
    assert report.counts.files_scanned == 20
    assert report.counts.files_changed == 1
    assert report.counts.tasks_updated == 1


def test_same_size_rewrite_in_the_same_tick_is_caught(harness: Harness) -> None:
    path = harness.root / "plan.md"
    path.write_text(PLAN, encoding="utf-8")
    harness.sync()
    stat = path.stat()
    path.write_text(PLAN.replace("[ ] **1.3**", "[x] **1.3**"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    assert harness.sync().counts.tasks_updated == 1


def test_empty_file_mid_save_is_refused_not_read_as_all_deleted(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    harness.sync()
    harness.write("plan.md", "")
    report = harness.sync()
    assert report.counts.refused
    assert report.has_problems
    assert report.counts.tasks_deleted == 0
    assert len(harness.ids()) == 5
    harness.write("plan.md", PLAN)
    assert harness.sync().counts.tasks_deleted == 0


def test_mass_deletion_of_plans_is_refused_unless_allowed(harness: Harness) -> None:
    for index in range(4):
        harness.write(f"p{index}.md", PLAN)
    harness.sync()
    for index in range(3):
        (harness.root / f"p{index}.md").unlink()
    refused = harness.sync()
    assert refused.counts.refused
    assert refused.counts.plans_deleted == 0
    allowed = harness.sync(allow_mass_delete=True)
    assert allowed.counts.plans_deleted == 3
    assert allowed.counts.tasks_deleted == 15


def test_flagged_plans_are_skipped_keeping_their_last_good_state(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    harness.sync()
    harness.write("plan.md", PLAN + "<<<<<<< HEAD\n- [ ] a\n=======\n- [ ] b\n>>>>>>> x\n")
    report = harness.sync()
    assert [skip.path for skip in report.counts.skipped] == ["plan.md"]
    assert len(harness.ids()) == 5
    harness.write("plan.md", PLAN + "- [ ] réparé\n")
    report = harness.sync()
    assert not report.counts.skipped
    assert report.counts.tasks_created == 1


def test_dry_run_changes_nothing(harness: Harness) -> None:
    harness.write("plan.md", PLAN)
    report = harness.sync(dry_run=True)
    assert report.counts.tasks_created == 5
    assert report.changes == ["add plan.md: +5 ~0 -0 tasks"]
    assert harness.store.plans == {}


def test_symlinks_out_of_the_root_and_state_folder_are_ignored(
    harness: Harness, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.md").write_text("- [ ] secret\n", encoding="utf-8")
    (harness.root / "link.md").symlink_to(outside / "secret.md")
    harness.write(".sync-engine/notes.md", "- [ ] state\n")
    harness.write("node_modules/pkg/readme.md", "- [ ] dep\n")
    harness.write("plan.md", PLAN)
    assert [stat.path for stat in harness.files.list_plans()] == ["plan.md"]
    with pytest.raises(ValueError, match="outside the plans root"):
        harness.files.read("../outside/secret.md")
