"""Files → database: bring the store in step with the plan files of one root.

Work is proportional to what changed: a file whose size, mtime and inode match the last
scan is not read (unless its mtime is too close to that scan to be trusted, or git says it
changed); a file whose bytes hash to the stored hash is not parsed. Each changed plan is
parsed, validated, matched task by task to the stored plan, and written in one transaction
with its new base snapshot.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sync_engine.domain.status import StatusTable
from sync_engine.ports import FileStat, GitWorkTree, PlanFiles, PlanStore
from sync_engine.ports.records import (
    PlanChange,
    RootState,
    SkippedPlan,
    StoredPlanInfo,
    SyncCounts,
)
from sync_engine.services.analysis import Analysis, PlanAnalyser
from sync_engine.services.matching import match_tasks
from sync_engine.services.snapshot import (
    base_model,
    content_changed,
    phase_rows,
    plan_row,
    section_rows,
    task_rows,
)
from sync_engine.validation.validator import PlanValidator

# An mtime this close to the last scan may hide a same-size rewrite in the same tick.
_RACY_WINDOW_NS = 2_000_000_000
# The per-plan guard only applies from this many deleted tasks.
_MIN_GUARDED_DELETIONS = 3
# Changed files are read and parsed this many at a time (bounds the memory of a cold sync).
_READ_WINDOW = 512
# Plan changes are written to the store in batches of about this many tasks.
_BATCH_TASKS = 20_000


@dataclass(frozen=True, slots=True)
class SyncOptions:
    dry_run: bool = False
    allow_mass_delete: bool = False
    similarity_threshold: float = 0.6
    mass_delete_ratio: float = 0.5


@dataclass(slots=True)
class SyncReport:
    """What a sync did (or, dry, would do)."""

    counts: SyncCounts = field(default_factory=SyncCounts)
    duration_s: float = 0.0
    changes: list[str] = field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        return bool(self.counts.skipped or self.counts.refused)


def git_blob_hash(data: bytes) -> str:
    """The object id git gives these bytes (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class FilesToDatabaseSync:
    """Syncs one root's plan files into the store."""

    def __init__(
        self,
        store: PlanStore,
        files: PlanFiles,
        validator: PlanValidator,
        table: StatusTable,
        root_path: str,
        git: GitWorkTree | None = None,
        progress: Callable[[int, int], None] | None = None,
        analyser: PlanAnalyser | None = None,
    ) -> None:
        self._store = store
        self._files = files
        self._analyser = analyser or PlanAnalyser(lambda: validator, table, workers=0)
        self._table = table
        self._root_path = root_path
        self._git = git
        self._progress = progress

    def run(self, options: SyncOptions) -> SyncReport:
        started = time.perf_counter()
        report = SyncReport()
        root = self._store.ensure_root(self._root_path)
        with self._store.lock_root(root.id):
            self._run_locked(root, options, report)
        report.duration_s = round(time.perf_counter() - started, 4)
        if not options.dry_run:
            status = "problems" if report.has_problems else "ok"
            self._store.record_operation(
                root.id, "files-to-db", status, report.counts, report.duration_s
            )
        return report

    def _run_locked(self, root: RootState, options: SyncOptions, report: SyncReport) -> None:
        index = self._store.plan_index(root.id)
        listed = self._files.list_plans()
        report.counts.files_scanned = len(listed)
        head = self._git.head() if self._git is not None else None
        git_changed: set[str] = set()
        if self._git is not None and head and root.git_head and head != root.git_head:
            git_changed = self._git.changed_between(root.git_head, head) or set()
        last_scan_ns = int(root.last_sync_at.timestamp() * 1e9) if root.last_sync_at else 0
        to_read = [
            (position, stat)
            for position, stat in enumerate(listed, start=1)
            if (stored := index.get(stat.path)) is None
            or self._needs_read(stat, stored, last_scan_ns, git_changed)
        ]
        batch = _ChangeBatch(self._store, root.id, options.dry_run)
        unchanged_stats: list[tuple[str, int, int, int]] = []
        for start in range(0, len(to_read), _READ_WINDOW):
            window = to_read[start : start + _READ_WINDOW]
            changed: list[tuple[int, bytes, FileStat, StoredPlanInfo | None]] = []
            for position, listed_stat in window:
                stored = index.get(listed_stat.path)
                data, stat = self._files.read(listed_stat.path)
                if (
                    stored is not None
                    and not stored.skipped_reason
                    and hashlib.sha256(data).hexdigest() == stored.content_hash
                ):
                    unchanged_stats.append((stored.id, stat.size, stat.mtime_ns, stat.inode))
                    self._report_progress(position, len(listed))
                    continue
                changed.append((position, data, stat, stored))
            analyses = self._analyser.analyse_many(
                (stat.path, data) for _, data, stat, _ in changed
            )
            for (position, data, stat, stored), analysis in zip(changed, analyses, strict=True):
                self._sync_plan(root, data, stat, stored, analysis, options, report, batch)
                self._report_progress(position, len(listed))
        batch.flush()
        if unchanged_stats and not options.dry_run:
            self._store.refresh_stats(unchanged_stats)
        self._delete_missing(root, index, {stat.path for stat in listed}, options, report)
        if not options.dry_run:
            self._store.set_root_synced(root.id, head)

    def _report_progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(done, total)

    @staticmethod
    def _needs_read(
        stat: FileStat, stored: StoredPlanInfo, last_scan_ns: int, git_changed: set[str]
    ) -> bool:
        if stat.path in git_changed or stored.skipped_reason:
            return True
        if (stat.size, stat.mtime_ns, stat.inode) != (stored.size, stored.mtime_ns, stored.inode):
            return True
        return stat.mtime_ns >= last_scan_ns - _RACY_WINDOW_NS

    def _sync_plan(
        self,
        root: RootState,
        data: bytes,
        stat: FileStat,
        stored: StoredPlanInfo | None,
        analysis: Analysis,
        options: SyncOptions,
        report: SyncReport,
        batch: _ChangeBatch,
    ) -> None:
        path = stat.path
        report.counts.files_changed += 1
        plan = analysis.parsed.plan
        if plan.flags.skip_sync:
            reason = "holds " + " and ".join(plan.flags.reasons())
            report.counts.skipped.append(SkippedPlan(path, reason))
            report.changes.append(f"skip {path}: {reason}")
            if not options.dry_run:
                self._store.mark_skipped(root.id, path, reason)
            return
        validation = analysis.validation
        stored_tasks = self._store.plan_tasks(stored.id) if stored is not None else []
        match = match_tasks(plan, stored_tasks, options.similarity_threshold)
        if (
            not options.allow_mass_delete
            and len(match.deleted) >= _MIN_GUARDED_DELETIONS
            and len(match.deleted) > options.mass_delete_ratio * len(stored_tasks)
        ):
            message = (
                f"{path}: refused to delete {len(match.deleted)} of {len(stored_tasks)} tasks "
                "(more than half); rerun with --allow-mass-delete if that is meant"
            )
            report.counts.refused.append(message)
            report.changes.append(message)
            return
        rows = task_rows(plan, match.stored_for)
        by_id = {task.id: task for task in stored_tasks}
        created = [row.id for row, old in zip(rows, match.stored_for, strict=True) if old is None]
        updated = []
        for task, row in zip(plan.tasks, rows, strict=True):
            old = by_id.get(row.id)
            phase = plan.phases[task.phase] if task.phase is not None else None
            key = (phase.number, phase.title) if phase is not None else None
            if old is not None and content_changed(row, old, key):
                updated.append(row.id)
        report.counts.tasks_created += len(created)
        report.counts.tasks_updated += len(updated)
        report.counts.tasks_deleted += len(match.deleted)
        report.changes.append(
            f"{'add' if stored is None else 'update'} {path}: +{len(created)} "
            f"~{len(updated)} -{len(match.deleted)} tasks"
        )
        if options.dry_run:
            return
        change = PlanChange(
            plan_id=stored.id if stored is not None else None,
            plan=plan_row(
                plan,
                validation,
                self._table,
                (stat.size, stat.mtime_ns, stat.inode),
                git_blob_hash(data),
            ),
            phases=phase_rows(plan, self._table),
            sections=section_rows(plan),
            tasks=rows,
            created=created,
            updated=updated,
            deleted=match.deleted,
            base_content=data,
            base_model=base_model(plan, rows),
        )
        batch.add(change)

    def _delete_missing(
        self,
        root: RootState,
        index: dict[str, StoredPlanInfo],
        present: set[str],
        options: SyncOptions,
        report: SyncReport,
    ) -> None:
        missing = [info for path, info in index.items() if path not in present]
        if not missing:
            return
        if not options.allow_mass_delete and len(missing) > options.mass_delete_ratio * len(index):
            message = (
                f"refused to delete {len(missing)} of {len(index)} plans (more than half: an "
                "empty or unmounted folder, a fresh clone?); rerun with --allow-mass-delete "
                "if that is meant"
            )
            report.counts.refused.append(message)
            report.changes.append(message)
            return
        for info in missing:
            report.changes.append(f"delete {info.path}: -{info.task_count} tasks")
        report.counts.plans_deleted += len(missing)
        report.counts.tasks_deleted += sum(info.task_count for info in missing)
        if not options.dry_run:
            self._store.delete_plans(root.id, [info.id for info in missing])


class _ChangeBatch:
    """Plan changes on their way to the store, written a batch at a time (one transaction
    each: a batch is all or nothing, so each plan still is)."""

    def __init__(self, store: PlanStore, root_id: str, dry_run: bool) -> None:
        self._store = store
        self._root_id = root_id
        self._dry_run = dry_run
        self._changes: list[PlanChange] = []
        self._tasks = 0

    def add(self, change: PlanChange) -> None:
        if self._dry_run:
            return
        self._changes.append(change)
        self._tasks += len(change.tasks) + 1
        if self._tasks >= _BATCH_TASKS:
            self.flush()

    def flush(self) -> None:
        if self._changes:
            self._store.apply_plan_changes(self._root_id, self._changes)
        self._changes = []
        self._tasks = 0
