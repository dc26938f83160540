"""A plan's pending write (the intent a both-ways sync records before renaming the file):
its JSON round trip, and the next sync rolling it forward, or dropping it when the file does
not hold the intended content, with the in-memory store."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from sync_engine.adapters.filesystem import LocalPlanFiles
from sync_engine.domain import DEFAULT_STATUS_TABLE
from sync_engine.ports.pending import plan_change_from_json, plan_change_to_json
from sync_engine.ports.records import ConflictWrite, PlanChange
from sync_engine.services.sync import FilesToDatabaseSync, SyncOptions, SyncReport
from sync_engine.testing import InMemoryPlanStore
from sync_engine.validation import PlanValidator

PLAN = """---
owner: équipe plateforme
reviewers: [ana, bob]
---
# Plan

**Version 1.2 - 2026-01-05**

## Phase 1: Départ (50%)

- [ ] **1.1** Écrire le parseur 🚀 #parseur ⏫ 📅 2026-02-01
- [x] **1.2** Écrire les tests
  - [/] **1.2.1** Cas limites 🆔 limites

## Phase 2: Suite

- [ ] **2.1** Publier
"""

EDITED = PLAN.replace("- [ ] **2.1** Publier", "- [x] **2.1** Publier\n- [ ] **2.2** Annoncer")


class CapturingStore(InMemoryPlanStore):
    """The in-memory store, which keeps the plan changes it is given and, while ``hold`` is
    set, does not apply them (as a sync killed before its database transaction)."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[PlanChange] = []
        self.hold = False

    def apply_plan_change(self, root_id: str, change: PlanChange) -> str:
        self.changes.append(change)
        if self.hold:
            return change.plan_id or ""
        return super().apply_plan_change(root_id, change)

    def apply_plan_changes(self, root_id: str, changes: Sequence[PlanChange]) -> list[str]:
        return [self.apply_plan_change(root_id, change) for change in changes]


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = CapturingStore()
        self.path = root / "plan.md"

    def write(self, text: str) -> bytes:
        self.path.write_text(text, encoding="utf-8")
        old = self.path.stat().st_mtime_ns - 10_000_000_000  # out of the racy window
        os.utime(self.path, ns=(old, old))
        return self.path.read_bytes()

    def sync(self, **options: object) -> SyncReport:
        sync = FilesToDatabaseSync(
            self.store,
            LocalPlanFiles(self.root),
            PlanValidator(),
            DEFAULT_STATUS_TABLE,
            str(self.root),
        )
        return sync.run(SyncOptions(**options))  # type: ignore[arg-type]

    def plan_id(self) -> str:
        (plan_id,) = self.store.plans
        return plan_id

    def interrupted(self, text: str, read: str | None = None) -> PlanChange:
        """The state a sync killed right after renaming the file leaves: the file holds
        ``text``, the store its intent, the database side is not applied. ``read``: the file
        the sync read, when it wrote ``text`` over it (else it read ``text``; ``""``: an
        intent recorded without it)."""
        self.store.hold = True
        data = self.write(text)
        self.sync()
        self.store.hold = False
        change = self.store.changes[-1]
        assert change.plan_id == self.plan_id()
        content = data if read is None else read.encode() or None
        self.store.record_pending_write(
            change.plan_id, hashlib.sha256(data).hexdigest(), change, content
        )
        return change


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    harness.write(PLAN)
    harness.sync()
    return harness


def test_a_plan_change_round_trips_through_json(harness: Harness) -> None:
    synced = harness.store.changes[-1]
    assert synced.tasks[0].fields  # a task with inline fields, a front matter, a base
    task_id = synced.tasks[0].id
    change = dataclasses.replace(
        synced,
        plan_id="0b6c2a4e-7f7e-4c43-9a8e-1f0f5d0c9b11",
        base_content=b"\xef\xbb\xbf# Plan\r\n\r\n- [ ] \xc3\xa9t\xc3\xa9 \t \r\n",
        consumed_up_to=42,
        conflicts=[
            ConflictWrite(task_id, "status_divergence", "high", "status", "todo", "done", "x"),
            ConflictWrite(
                None,
                "structure_change",
                "medium",
                "place",
                {"parent_id": None, "phase": [1, "Départ"]},
                {"parent_id": task_id, "phase": None},
                None,
                status="resolved",
                resolved_by="markdown-wins",
                resolution={"take": "markdown"},
            ),
        ],
        refreshed=[("5d1c8f0e-0000-4000-8000-000000000001", "a", ["b", 2], {"c": None})],
        applied=["5d1c8f0e-0000-4000-8000-000000000002"],
        tombstones=[dataclasses.replace(synced.tasks[1], id="5d1c8f0e-0000-4000-8000-000003")],
    )
    # Every field is set here: one the JSON forgot would not come back.
    for item in dataclasses.fields(PlanChange):
        default = (
            item.default_factory()
            if item.default_factory is not dataclasses.MISSING
            else item.default
        )
        assert getattr(change, item.name) not in (None, default), item.name

    stored = json.loads(json.dumps(plan_change_to_json(change)))

    assert plan_change_from_json(stored) == change
    assert plan_change_from_json(stored).base_content == change.base_content


def test_an_intent_of_another_version_is_refused(harness: Harness) -> None:
    data = plan_change_to_json(harness.store.changes[-1]) | {"version": 99}
    with pytest.raises(ValueError, match="version 99"):
        plan_change_from_json(data)


def test_the_next_sync_applies_the_intent_when_the_file_holds_its_content(
    harness: Harness,
) -> None:
    change = harness.interrupted(EDITED)
    assert harness.store.plans[harness.plan_id()].base != harness.path.read_bytes()

    report = harness.sync()

    assert any(line.startswith("roll forward plan.md:") for line in report.changes)
    assert harness.store.pending == {}
    plan = harness.store.plans[harness.plan_id()]
    assert plan.tasks == change.tasks  # the recorded rows, ids and all
    assert plan.base == harness.path.read_bytes()
    stat = harness.path.stat()
    assert (plan.info.size, plan.info.mtime_ns, plan.info.inode) == (
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ino,
    )
    again = harness.sync()
    assert (again.counts.tasks_created, again.counts.tasks_updated) == (0, 0)


def test_a_dry_run_leaves_the_intent(harness: Harness) -> None:
    harness.interrupted(EDITED)

    report = harness.sync(dry_run=True)

    assert any(line.startswith("roll forward plan.md:") for line in report.changes)
    assert list(harness.store.pending) == [harness.plan_id()]


def test_an_intent_whose_file_was_not_renamed_is_dropped(harness: Harness) -> None:
    harness.interrupted(EDITED)
    harness.write(PLAN)  # the file still holds the base: the rename never happened

    report = harness.sync()

    assert not any("roll forward" in line for line in report.changes)
    assert harness.store.pending == {}
    titles = [task.title for task in harness.store.plans[harness.plan_id()].tasks]
    assert "Annoncer" not in titles


# The engine wrote EDITED over PLAN (as a write-back of database edits would), then a person
# edited the file: unticked what it ticked, added a task.
EDITED_AGAIN = EDITED.replace("- [x] **2.1** Publier", "- [ ] **2.1** Publier") + "- [ ] Fêter\n"


def test_an_intent_whose_file_was_edited_since_is_applied_then_merged(harness: Harness) -> None:
    change = harness.interrupted(EDITED, read=PLAN)
    harness.write(EDITED_AGAIN)

    report = harness.sync()

    assert any(
        line.startswith("roll forward plan.md:") and line.endswith("since are merged")
        for line in report.changes
    ), report.changes
    assert harness.store.pending == {}
    tasks = harness.store.plans[harness.plan_id()].tasks
    assert [task.title for task in tasks][-3:] == ["Publier", "Annoncer", "Fêter"]
    assert tasks[-3].status == "todo"  # the person's untick, though it is the base's value
    assert [task.id for task in tasks][:-1] == [task.id for task in change.tasks]
    assert harness.sync().counts.tasks_updated == 0


@pytest.mark.parametrize(
    ("read", "now"),
    [
        pytest.param(PLAN, PLAN + "- [ ] Fêter\n", id="the rename never happened"),
        pytest.param(EDITED, EDITED_AGAIN, id="the sync wrote nothing of its own"),
        pytest.param("", EDITED_AGAIN, id="an intent recorded without the file read"),
    ],
)
def test_an_intent_whose_file_holds_no_line_of_its_write_is_dropped(
    harness: Harness, read: str, now: str
) -> None:
    harness.interrupted(EDITED, read=read)
    harness.write(now)

    report = harness.sync()

    assert any(line.startswith("merge plan.md anew:") for line in report.changes)
    assert harness.store.pending == {}
    titles = [task.title for task in harness.store.plans[harness.plan_id()].tasks]
    assert titles[-1] == "Fêter"
