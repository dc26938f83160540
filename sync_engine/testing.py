"""In-memory implementations of the ports, for fast unit tests and deterministic simulation.
Never a substitute for the real adapters in integration tests."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sync_engine.ports import NamedPlans
from sync_engine.ports.pending import (
    PendingWrite,
    intent_to_json,
    plan_change_from_json,
    read_content_from_json,
    read_stat_from_json,
)
from sync_engine.ports.records import (
    PlanChange,
    PlanSyncState,
    RootState,
    StoredPlanInfo,
    StoredTask,
    SyncCounts,
    TaskRow,
)


@dataclass(slots=True)
class _Plan:
    info: StoredPlanInfo
    root_id: str
    phases: list[tuple[int | None, str]] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    base: bytes = b""
    base_model: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


class InMemoryPlanStore:
    """A :class:`~sync_engine.ports.PlanStore` held in dictionaries."""

    def __init__(self) -> None:
        self.roots: dict[str, RootState] = {}
        self.plans: dict[str, _Plan] = {}
        self.tombstones: dict[str, TaskRow] = {}
        self.operations: list[tuple[str, str, SyncCounts]] = []
        # Intents as the JSON text a real store keeps: plan id → (content hash, change).
        self.pending: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def ensure_root(self, path: str) -> RootState:
        for root in self.roots.values():
            if root.path == path:
                return root
        root = RootState(str(uuid.uuid4()), path, str(uuid.uuid4()))
        self.roots[root.id] = root
        return root

    @contextmanager
    def lock_root(self, root_id: str) -> Iterator[None]:
        with self._lock:
            yield

    def set_root_synced(self, root_id: str, git_head: str | None) -> None:
        self.roots[root_id] = replace(
            self.roots[root_id], git_head=git_head, last_sync_at=datetime.now(UTC)
        )

    def plan_index(self, root_id: str) -> dict[str, StoredPlanInfo]:
        return {
            plan.info.path: plan.info
            for plan in self.plans.values()
            if plan.root_id == root_id and not plan.deleted
        }

    def named_plans(
        self, root_id: str, paths: Collection[str], plan_ids: Collection[str]
    ) -> NamedPlans:
        index = {
            path: info
            for path, info in self.plan_index(root_id).items()
            if path in paths or info.id in plan_ids
        }
        ids = {info.id for info in index.values()}
        pending = {k: v for k, v in self.pending_writes(root_id).items() if k in ids}
        return NamedPlans(index, pending, self.plans_needing_merge(root_id) & ids)

    def plan_tasks(self, plan_id: str) -> list[StoredTask]:
        plan = self.plans[plan_id]
        return [
            StoredTask(
                id=row.id,
                position=row.position,
                parent_id=row.parent_id,
                phase_key=plan.phases[row.phase_position]
                if row.phase_position is not None
                else None,
                text=row.text,
                title=row.title,
                status=row.status,
                char=row.char,
                line=row.line,
                explicit_id=row.explicit_id,
                label=row.label,
            )
            for row in plan.tasks
        ]

    def apply_plan_change(self, root_id: str, change: PlanChange) -> str:
        plan_id = change.plan_id or str(uuid.uuid4())
        row = change.plan
        info = StoredPlanInfo(
            id=plan_id,
            path=row.path,
            content_hash=row.content_hash,
            size=row.size,
            mtime_ns=row.mtime_ns,
            inode=row.inode,
            git_blob=row.git_blob,
            task_count=len(change.tasks),
        )
        self.pending.pop(plan_id, None)
        old = self.plans.get(plan_id)
        if old is not None:
            for task in old.tasks:
                if task.id in change.deleted:
                    self.tombstones[task.id] = task
        self.plans[plan_id] = _Plan(
            info=info,
            root_id=root_id,
            phases=[(phase.number, phase.title) for phase in change.phases],
            tasks=list(change.tasks),
            base=change.base_content,
            base_model=dict(change.base_model),
        )
        return plan_id

    def plans_needing_merge(self, root_id: str) -> set[str]:
        return set()  # no database-side edits: nothing here writes but the sync

    def plan_sync_state(self, plan_id: str) -> PlanSyncState:
        plan = self.plans[plan_id]
        return PlanSyncState(
            plan_id=plan_id,
            base_content=plan.base,
            base_model=plan.base_model,
            tasks=self.plan_tasks(plan_id),
            pending_up_to=None,
            conflicts=[],
        )

    def record_pending_write(
        self,
        plan_id: str,
        content_hash: str,
        change: PlanChange,
        read_content: bytes | None = None,
        read_stat: tuple[int, int, int] | None = None,
    ) -> None:
        document = intent_to_json(change, read_content, read_stat)
        self.pending[plan_id] = (content_hash, json.dumps(document))

    def pending_writes(self, root_id: str) -> dict[str, PendingWrite]:
        found = {}
        for plan_id, (content_hash, text) in self.pending.items():
            if self.plans[plan_id].root_id != root_id or self.plans[plan_id].deleted:
                continue
            document = json.loads(text)
            found[plan_id] = PendingWrite(
                plan_id,
                content_hash,
                plan_change_from_json(document),
                read_content=read_content_from_json(document),
                read_stat=read_stat_from_json(document),
            )
        return found

    def drop_pending_write(self, plan_id: str) -> None:
        self.pending.pop(plan_id, None)

    def apply_plan_changes(self, root_id: str, changes: Sequence[PlanChange]) -> list[str | None]:
        return [self.apply_plan_change(root_id, change) for change in changes]

    def mark_skipped(self, root_id: str, path: str, reason: str | None) -> None:
        for plan in self.plans.values():
            if plan.root_id == root_id and plan.info.path == path and not plan.deleted:
                plan.info = plan.info._replace(skipped_reason=reason)
                return
        if reason is not None:
            plan_id = str(uuid.uuid4())
            info = StoredPlanInfo(plan_id, path, "", 0, 0, 0, skipped_reason=reason)
            self.plans[plan_id] = _Plan(info=info, root_id=root_id)

    def delete_plans(self, root_id: str, plan_ids: Sequence[str]) -> int:
        count = 0
        for plan_id in plan_ids:
            plan = self.plans[plan_id]
            plan.deleted = True
            count += len(plan.tasks)
            for task in plan.tasks:
                self.tombstones[task.id] = task
        return count

    def refresh_stats(self, stats: Sequence[tuple[str, int, int, int]]) -> None:
        for plan_id, size, mtime_ns, inode in stats:
            plan = self.plans[plan_id]
            plan.info = plan.info._replace(size=size, mtime_ns=mtime_ns, inode=inode)

    def record_operation(
        self, root_id: str, kind: str, status: str, counts: SyncCounts, duration_s: float
    ) -> None:
        self.operations.append((kind, status, counts))

    def live_tasks(self, root_id: str) -> list[tuple[str, TaskRow]]:
        """(plan path, task) of every live task — for assertions."""
        return [
            (plan.info.path, task)
            for plan in self.plans.values()
            if plan.root_id == root_id and not plan.deleted
            for task in plan.tasks
        ]
