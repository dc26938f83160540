"""Files → database: bring the store in step with the plan files of one root.

Work is proportional to what changed: a file whose size, mtime and inode match the last
scan is not read (unless its mtime is too close to that scan to be trusted, or git says it
changed); a file whose bytes hash to the stored hash is not parsed. Each changed plan is
parsed, validated, matched task by task to the stored plan, and written in one transaction
with its new base snapshot. A plan written both ways records its database side as an
intent before its file is renamed; a sync interrupted before that side was committed is
finished from the intent by the next one (``_roll_forward``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field

from sync_engine.conflicts.policy import ConflictPolicy
from sync_engine.domain.status import StatusTable
from sync_engine.errors import PlanChangedDuringSyncError
from sync_engine.ports import FileStat, GitWorkTree, PendingWrite, PlanFiles, PlanStore
from sync_engine.ports.records import (
    GitAuthor,
    PlanChange,
    PlanSyncState,
    RootState,
    SkippedPlan,
    StoredPlanInfo,
    SyncCounts,
    TaskRow,
)
from sync_engine.rendering.document import RenderError
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
from sync_engine.services.two_way import (
    MergePlan,
    TwoWayPlanMerge,
    three_way_change,
    written_tasks,
)
from sync_engine.services.write_backs import CommitOutcome, WrittenBack, commit_write_backs
from sync_engine.validation.validator import PlanValidator

# An mtime this close to the last scan may hide a same-size rewrite in the same tick.
_RACY_WINDOW_NS = 2_000_000_000
# The per-plan guard only applies from this many deleted tasks.
_MIN_GUARDED_DELETIONS = 3
# Changed files are read and parsed this many at a time (bounds the memory of a cold sync).
_READ_WINDOW = 512
# Plan changes are written to the store in batches of about this many tasks.
_BATCH_TASKS = 5_000


# A file that shrank and was written less than this long ago is read again after a pause
# (up to so many times) before it is believed: it may be in the middle of a save.
_SETTLE_WINDOW_NS = 2_000_000_000
_SETTLE_PAUSE_S = 0.15
_SETTLE_READS = 10
# A plan whose file keeps changing under the sync is tried this many times.
_WRITE_ATTEMPTS = 3

DIRECTIONS = ("both", "to-db", "to-files")


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """``direction``: ``both``; ``to-db`` (files → database only: plans with database-side
    edits are left for a sync in both directions); ``to-files`` (database → files only:
    plans whose file changed are left for a sync in both directions). ``commit_author``:
    in a git work tree, commit the files written back, by this author (``None``: no
    commit)."""

    dry_run: bool = False
    allow_mass_delete: bool = False
    similarity_threshold: float = 0.6
    mass_delete_ratio: float = 0.5
    direction: str = "both"
    commit_author: GitAuthor | None = None


@dataclass(frozen=True, slots=True)
class SyncScope:
    """The plans a sync is limited to: those at ``paths`` (root-relative) and those with
    ``plan_ids`` (a running engine told by the file watcher or by the database's
    notifications which plans changed). Such a sync reads only these files, without
    listing the folder, and merges each of them as a full sync would; it does not count
    as a sync of the whole root (the next full sync still looks at every file)."""

    paths: frozenset[str] = frozenset()
    plan_ids: frozenset[str] = frozenset()


@dataclass(slots=True)
class SyncReport:
    """What a sync did (or, dry, would do). ``written``: the files written back;
    ``commit``: what became of their commit, when one was asked for; ``not_found``: the
    paths a scoped sync was given that are no plan of the root (no plan file there, and no
    plan stored at them)."""

    counts: SyncCounts = field(default_factory=SyncCounts)
    duration_s: float = 0.0
    changes: list[str] = field(default_factory=list)
    written: list[WrittenBack] = field(default_factory=list)
    commit: CommitOutcome | None = None
    not_found: list[str] = field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        failed_commit = self.commit is not None and self.commit.error is not None
        return bool(self.counts.skipped or self.counts.refused or failed_commit)


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
        policy: ConflictPolicy | None = None,
    ) -> None:
        self._store = store
        self._files = files
        self._analyser = analyser or PlanAnalyser(lambda: validator, table, workers=0)
        self._table = table
        self._policy = policy or ConflictPolicy.default()
        self._root_path = root_path
        self._git = git
        self._progress = progress
        # Helper threads, kept from run to run (one each, so that they hold at most one
        # pooled connection each; an executor starts its thread at its first task): the
        # folder's listing, and the reads of the database side of plans while they are
        # parsed.
        self._lister = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-lister")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-reader")

    def close(self) -> None:
        """Stop the helper threads; the sync runs no more."""
        self._lister.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    def run(self, options: SyncOptions, scope: SyncScope | None = None) -> SyncReport:
        """Sync the root's plans (``scope``: only those plans)."""
        started = time.perf_counter()
        report = SyncReport()
        root = self._store.ensure_root(self._root_path)
        with self._store.lock_root(root.id):
            if scope is None:
                self._run_locked(root, options, report)
            else:
                self._run_scoped(root, scope, options, report)
        report.duration_s = round(time.perf_counter() - started, 4)
        if not options.dry_run:
            status = "problems" if report.has_problems else "ok"
            self._store.record_operation(
                root.id, "files-to-db", status, report.counts, report.duration_s
            )
        return report

    def _run_locked(self, root: RootState, options: SyncOptions, report: SyncReport) -> None:
        # The folder is listed while the store is read (both mostly wait on the system).
        listing = self._lister.submit(self._files.list_plans)
        try:
            index = self._store.plan_index(root.id)
            # Plans with database-side edits or conflicts to settle are merged three ways,
            # and so are plans whose last sync was interrupted after recording its intent
            # (whatever their file's stat says: the file may hold the new content already).
            pending = self._store.pending_writes(root.id)
            merging = self._store.plans_needing_merge(root.id) | pending.keys()
        finally:
            listed = listing.result()
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
            or stored.id in merging
            or self._needs_read(stat, stored, last_scan_ns, git_changed)
        ]
        self._sync_listed(root, index, listed, to_read, merging, pending, options, report)
        self._delete_missing(root, index, {stat.path for stat in listed}, options, report)
        if not options.dry_run:
            self._store.set_root_synced(root.id, self._commit_written(head, options, report))

    def _run_scoped(
        self, root: RootState, scope: SyncScope, options: SyncOptions, report: SyncReport
    ) -> None:
        """A sync of the plans of ``scope`` alone: their files are read whatever their stat
        says (they were named as changed), and a stored plan whose file is gone is deleted
        (the mass-deletion guard weighs it against every plan of the root)."""
        named_plans = self._store.named_plans(root.id, scope.paths, scope.plan_ids)
        index, pending = named_plans.index, named_plans.pending
        merging = named_plans.merging | pending.keys()
        named = sorted(scope.paths | index.keys())
        listed = self._files.stat_plans(named)
        report.counts.files_scanned = len(listed)
        present = {stat.path for stat in listed}
        report.not_found = sorted(scope.paths - present - index.keys())
        to_read = list(enumerate(listed, start=1))
        self._sync_listed(root, index, listed, to_read, merging, pending, options, report)
        missing = index.keys() - present
        if missing:
            # Weighed against the whole root: a scoped sync is no "folder emptied" signal.
            every = self._store.plan_index(root.id)
            kept = {path for path in every if path not in missing}
            self._delete_missing(root, every, kept, options, report)
        self._commit_written(None, options, report)

    def _sync_listed(
        self,
        root: RootState,
        index: dict[str, StoredPlanInfo],
        listed: Sequence[FileStat],
        to_read: list[tuple[int, FileStat]],
        merging: set[str],
        pending: dict[str, PendingWrite],
        options: SyncOptions,
        report: SyncReport,
    ) -> None:
        """Read, analyse and sync the files of ``to_read`` (of the ``listed`` ones), then
        store the new stats of those whose content had not changed."""
        batch = _ChangeBatch(self._store, root.id, options.dry_run)
        try:
            unchanged_stats = self._read_and_sync(
                root, index, len(listed), to_read, merging, pending, options, report, batch
            )
            batch.flush()
        finally:
            batch.close()
        if unchanged_stats and not options.dry_run:
            self._store.refresh_stats(unchanged_stats)

    def _read_and_sync(
        self,
        root: RootState,
        index: dict[str, StoredPlanInfo],
        listed: int,
        to_read: list[tuple[int, FileStat]],
        merging: set[str],
        pending: dict[str, PendingWrite],
        options: SyncOptions,
        report: SyncReport,
        batch: _ChangeBatch,
    ) -> list[tuple[str, int, int, int]]:
        """Read the candidate files a window at a time, analyse the changed ones and sync
        them; return the stats of the ones whose content had not changed."""
        unchanged_stats: list[tuple[str, int, int, int]] = []
        for start in range(0, len(to_read), _READ_WINDOW):
            window = to_read[start : start + _READ_WINDOW]
            changed: list[tuple[int, bytes, FileStat, StoredPlanInfo | None]] = []
            read, left = self._settled_reads(window, index)
            for path in left:
                report.changes.append(f"leave {path}: it is being written; the next sync reads it")
            for position, data, stat, stored in read:
                if (
                    stored is not None
                    and not stored.skipped_reason
                    and stored.id not in merging
                    and hashlib.sha256(data).hexdigest() == stored.content_hash
                ):
                    # Read for its racy mtime alone, it has no new stat to store.
                    fresh = (stat.size, stat.mtime_ns, stat.inode)
                    if fresh != (stored.size, stored.mtime_ns, stored.inode):
                        unchanged_stats.append((stored.id, *fresh))
                    self._report_progress(position, listed)
                    continue
                changed.append((position, data, stat, stored))
            # The database side of the plans to merge is read while they are parsed (not
            # that of a plan with an intent: finishing it changes its base).
            to_merge = [
                stored.id
                for _, _, _, stored in changed
                if stored is not None and stored.id in merging and stored.id not in pending
            ]
            states = {
                plan_id: self._reader.submit(self._store.plan_sync_state, plan_id)
                for plan_id in to_merge
            }
            try:
                analyses = self._analyser.analyse_many(
                    (stat.path, data) for _, data, stat, _ in changed
                )
                for (position, data, stat, stored), analysis in zip(changed, analyses, strict=True):
                    if stored is not None and stored.id in pending:
                        intent = pending[stored.id]
                        rolled = self._roll_forward(
                            root, intent, data, stat, stored, options, report
                        )
                        if rolled is None:
                            self._report_progress(position, listed)
                            continue
                        stored = rolled
                    if stored is not None and stored.id in merging:
                        self._sync_three_way(
                            root,
                            data,
                            stat,
                            stored,
                            analysis,
                            options,
                            report,
                            states.get(stored.id),
                        )
                    else:
                        self._sync_plan(root, data, stat, stored, analysis, options, report, batch)
                    self._report_progress(position, listed)
            finally:
                # Reads not used (a plan left for the next sync) are not left running.
                for future in states.values():
                    future.cancel()
                wait_for(states.values())
        return unchanged_stats

    def _commit_written(
        self, head: str | None, options: SyncOptions, report: SyncReport
    ) -> str | None:
        """Commit the files written back when asked to; the HEAD to record for the next
        sync's diff. The engine's own commit is recorded when it was made right on top of
        the HEAD the sync started from: it changed only files whose new bytes the store
        already holds. (A HEAD that moved meanwhile is left for the next sync to diff.)"""
        if options.commit_author is None or not report.written:
            return head
        if self._git is None:
            report.changes.append("no commit: the plans root is not in a git work tree")
            return head
        outcome = commit_write_backs(self._git, report.written, options.commit_author)
        report.commit = outcome
        made = outcome.commit
        if made is None:
            report.changes.append(f"git commit failed: {outcome.error}")
            return head
        if made.commit is not None:
            report.changes.append(f"commit {made.commit[:12]}: {', '.join(made.committed)}")
        if made.left_out:
            report.changes.append(
                f"not committed (git's HEAD does not hold them): {', '.join(made.left_out)}"
            )
        if made.commit is not None and head is not None and made.parent == head:
            return made.commit
        return head

    def _settled_reads(
        self, window: list[tuple[int, FileStat]], index: dict[str, StoredPlanInfo]
    ) -> tuple[list[tuple[int, bytes, FileStat, StoredPlanInfo | None]], list[str]]:
        """Read a window of plans. A file that shrank and was written a moment ago may be
        caught in the middle of a save (truncated, then rewritten): such files are read
        again, all of them after one shared pause per round, until two reads agree or the
        file is whole again. Returns the reads, and the paths still changing after the last
        round (left for the next sync)."""
        reads: list[tuple[int, bytes, FileStat, StoredPlanInfo | None]] = []
        suspects: list[int] = []
        for position, listed_stat in window:
            stored = index.get(listed_stat.path)
            data, stat = self._files.read(listed_stat.path)
            if _maybe_mid_save(stat, stored):
                suspects.append(len(reads))
            reads.append((position, data, stat, stored))
        for _ in range(_SETTLE_READS):
            if not suspects:
                break
            time.sleep(_SETTLE_PAUSE_S)
            still = []
            for slot in suspects:
                position, data, stat, stored = reads[slot]
                again, again_stat = self._files.read(stat.path)
                reads[slot] = (position, again, again_stat, stored)
                if again != data and _maybe_mid_save(again_stat, stored):
                    still.append(slot)
            suspects = still
        left = set(suspects)
        return [read for slot, read in enumerate(reads) if slot not in left], [
            reads[slot][2].path for slot in suspects
        ]

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

    def _sync_three_way(
        self,
        root: RootState,
        data: bytes,
        stat: FileStat,
        stored: StoredPlanInfo,
        analysis: Analysis,
        options: SyncOptions,
        report: SyncReport,
        read_state: Future[PlanSyncState] | None = None,
    ) -> None:
        """Both directions for one plan: merge base / file / database, record the intent
        (the database side, made before the file is written), write the file, then the
        database (see ``two_way``). Retried when the file changes under the sync.
        ``read_state``: the plan's database side being read already (used first)."""
        path = stat.path
        merge = TwoWayPlanMerge(self._table, self._policy, options.similarity_threshold)
        for _ in range(_WRITE_ATTEMPTS):
            if analysis.parsed.plan.flags.skip_sync:
                self._sync_plan(root, data, stat, stored, analysis, options, report, None)
                return
            if read_state is not None:
                state, read_state = read_state.result(), None
            else:
                state = self._store.plan_sync_state(stored.id)
            read_hash = hashlib.sha256(data).hexdigest()
            file_changed = read_hash != stored.content_hash
            database_changed = state.pending_up_to is not None or bool(state.conflicts)
            if options.direction == "to-db" and database_changed:
                report.changes.append(
                    f"leave {path}: its database-side edits wait for --direction both"
                )
                return
            if options.direction == "to-files" and file_changed:
                report.changes.append(f"leave {path}: its file edits wait for --direction both")
                return
            try:
                merged = merge.merge(analysis, data, state)
            except RenderError as error:
                message = (
                    f"{path}: left as it is: the database asks for what the file cannot hold "
                    f"({error}); fix the task in the database"
                )
                report.counts.refused.append(message)
                report.changes.append(message)
                return
            removed = len(analysis.parsed.plan.tasks) - sum(
                1 for task_id in merged.file_ids if task_id in merged.result.file_target.tasks
            )
            if self._refuse(
                path, removed, len(analysis.parsed.plan.tasks), "the file", options, report
            ):
                return
            if options.dry_run:
                report.counts.conflicts_opened += len(merged.result.opened)
                report.changes.append(
                    f"merge {path}: {len(merged.edits)} line edits, "
                    f"{len(merged.result.opened)} conflicts"
                )
                diff = merged.diff(path, data)
                if diff:
                    report.changes.append(diff.rstrip("\n"))
                return
            new_data = merged.new_content if merged.new_content is not None else data
            written = analysis
            if merged.new_parse is not None:  # made with the new content
                written = self._analyser.analysed(path, new_data, merged.new_parse)
            # The database side is made before the file is written (only the new file's stat
            # comes from the write), so that it can be recorded as the write's intent.
            change = self._database_side(
                merge, merged, analysis, written, new_data, stat, state, options
            )
            if merged.new_content is not None:
                new_hash = hashlib.sha256(new_data).hexdigest()
                read_stat = (stat.size, stat.mtime_ns, stat.inode)
                self._store.record_pending_write(stored.id, new_hash, change, data, read_stat)
                try:
                    new_stat = self._files.write(path, new_data, read_hash)
                except PlanChangedDuringSyncError:
                    self._store.drop_pending_write(stored.id)
                    data, stat = self._files.read(path)
                    analysis = self._analyser.analyse(path, data)
                    continue
                change = _with_stat(change, new_stat)
                report.counts.written_back += 1
                report.written.append(WrittenBack(path, new_data, tuple(merged.edits)))
                report.changes.append(f"write {path}: {len(merged.edits)} line edits")
            try:
                self._store.apply_plan_change(root.id, change)
            except PlanChangedDuringSyncError:
                # Edited in the database meanwhile: merged again with that edit, the file
                # as it now is being the file side (its intent, if written, is replaced).
                data, stat = self._files.read(path)
                analysis = self._analyser.analyse(path, data)
                continue
            _count(report, change)
            report.changes.append(
                f"merge {path}: +{len(change.created)} ~{len(change.updated)} "
                f"-{len(change.deleted)} tasks, {len(change.conflicts)} conflicts"
            )
            return
        message = f"{path}: kept changing while it was being synced; it was left for the next sync"
        report.counts.refused.append(message)
        report.changes.append(message)

    def _database_side(
        self,
        merge: TwoWayPlanMerge,
        merged: MergePlan,
        analysis: Analysis,
        written: Analysis,
        new_data: bytes,
        stat: FileStat,
        state: PlanSyncState,
        options: SyncOptions,
    ) -> PlanChange:
        """The database side of a merge: the rows of the file as written (``written``, the
        analysis of ``new_data``), its tasks given the ids the merge meant, the database's
        own values kept where the merge says so. Its stat is ``stat`` until the file is
        written."""
        plan = written.parsed.plan
        stored_tasks = written_tasks(analysis.parsed.plan, merged, plan)
        match = match_tasks(plan, stored_tasks, options.similarity_threshold)
        rows = task_rows(plan, match.stored_for)
        base_change = self._plan_change(written, new_data, stat, state.plan_id, rows, [], [], [])
        return three_way_change(merge, merged, written, state, base_change)

    def _roll_forward(
        self,
        root: RootState,
        intent: PendingWrite,
        data: bytes,
        stat: FileStat,
        stored: StoredPlanInfo,
        options: SyncOptions,
        report: SyncReport,
    ) -> StoredPlanInfo | None:
        """Finish a plan's sync interrupted between recording its intent and committing its
        database side. Returns ``None`` when the plan's sync is done, else the stored plan to
        merge the file with as usual.

        The database was not edited since, and the file holds the intended content: the
        recorded change is applied as the interrupted sync would have (its stat taken from
        the file now), which converges exactly. The file holds that content edited again
        (see ``_edits_what_was_written``), or was replaced since it was read while no write
        was cut short before its rename (see ``_replaced_since_read``): the change is
        applied, then the file is merged with it as its base, so that every edit made since
        wins, even one taking a written value back. Otherwise the intent is dropped and the
        file merged against the base."""
        path = stat.path
        file_hash = hashlib.sha256(data).hexdigest()
        written = file_hash == intent.content_hash
        if not intent.edited_since and (
            written
            or (file_hash != stored.content_hash and self._edits_what_was_written(intent, data))
            or self._replaced_since_read(intent, stat)
        ):
            change = _with_stat(intent.change, stat)
            _count(report, change)
            report.changes.append(
                f"roll forward {path}: its last sync stopped after writing the file; "
                f"+{len(change.created)} ~{len(change.updated)} -{len(change.deleted)} tasks, "
                f"{len(change.conflicts)} conflicts"
                + ("" if written else "; then the edits made in the file since are merged")
            )
            if options.dry_run:
                return None
            self._store.apply_plan_change(root.id, change)  # deletes the intent
            return None if written else stored._replace(content_hash=intent.content_hash)
        # The file still holds the base (the sync stopped before the rename): nothing was
        # written, the plan is synced as usual. Else the file changed, but not from what was
        # written (the rename never happened), or the database was edited since it was read:
        # the recorded change no longer holds every edit, and the three-way merge against the
        # base (matching the file's tasks to it by text) sorts them out.
        if file_hash != stored.content_hash:
            since = "database was" if written else "file was"
            report.changes.append(
                f"merge {path} anew: its last sync stopped after writing the file, and the "
                f"{since} edited since"
            )
        if not options.dry_run:
            self._store.drop_pending_write(stored.id)
        return stored

    def _replaced_since_read(self, intent: PendingWrite, stat: FileStat) -> bool:
        """Whether the file was written since the interrupted sync read it (its size,
        modification time or inode differ) while no temp file of a write cut short before
        its rename is left: the rename happened, and what the file holds now was written
        over it — by a person who took back lines the sync wrote (all of them, or it only
        moved lines). Told wrong, the file's old values then counting as a person's: the
        sync killed after recording its intent and before making its temp file (a folder
        listing apart), or after its write was refused (the file had changed under it) and
        before dropping the intent (one round trip), then the file edited."""
        if intent.read_stat is None:
            return False
        now = (stat.size, stat.mtime_ns, stat.inode)
        return now != intent.read_stat and not self._files.unfinished_write(stat.path)

    @staticmethod
    def _edits_what_was_written(intent: PendingWrite, data: bytes) -> bool:
        """Whether the file is the content an interrupted sync wrote, edited since, rather
        than the file it read, edited (the rename never happened): it holds lines that the
        write put in (no one types the engine's very lines by chance), or, when the write
        only took lines out, it lacks every one of them. (An intent recorded without the
        file it read: no.)"""
        if intent.read_content is None:
            return False
        found, before, after = (
            Counter(text.splitlines())
            for text in (data, intent.read_content, intent.change.base_content)
        )
        added, removed = after - before, before - after
        if added:
            return any(found[line] > before[line] for line in added)
        return bool(removed) and all(found[line] < before[line] for line in removed)

    @staticmethod
    def _refuse(
        path: str, removed: int, total: int, side: str, options: SyncOptions, report: SyncReport
    ) -> bool:
        """The per-plan mass-deletion guard; reports a refusal."""
        if (
            options.allow_mass_delete
            or removed < _MIN_GUARDED_DELETIONS
            or removed <= options.mass_delete_ratio * total
        ):
            return False
        message = (
            f"{path}: refused to delete {removed} of {total} tasks from {side} "
            "(more than half); rerun with --allow-mass-delete if that is meant"
        )
        report.counts.refused.append(message)
        report.changes.append(message)
        return True

    def _plan_change(
        self,
        analysis: Analysis,
        data: bytes,
        stat: FileStat,
        plan_id: str | None,
        rows: list[TaskRow],
        created: list[str],
        updated: list[str],
        deleted: list[str],
    ) -> PlanChange:
        plan = analysis.parsed.plan
        return PlanChange(
            plan_id=plan_id,
            plan=plan_row(
                plan,
                analysis.validation,
                self._table,
                (stat.size, stat.mtime_ns, stat.inode),
                git_blob_hash(data),
            ),
            phases=phase_rows(plan, self._table),
            sections=section_rows(plan),
            tasks=rows,
            created=created,
            updated=updated,
            deleted=deleted,
            base_content=data,
            base_model=base_model(plan, rows),
        )

    def _sync_plan(
        self,
        root: RootState,
        data: bytes,
        stat: FileStat,
        stored: StoredPlanInfo | None,
        analysis: Analysis,
        options: SyncOptions,
        report: SyncReport,
        batch: _ChangeBatch | None,
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
        for task, row in zip(plan.tasks, rows, strict=True) if by_id else ():
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
        change = self._plan_change(
            analysis,
            data,
            stat,
            stored.id if stored is not None else None,
            rows,
            created,
            updated,
            match.deleted,
        )
        if batch is None:
            self._store.apply_plan_change(root.id, change)
            return
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


def _with_stat(change: PlanChange, stat: FileStat) -> PlanChange:
    """``change`` with the plan's stat taken from ``stat`` (the file as written)."""
    plan = dataclasses.replace(
        change.plan, size=stat.size, mtime_ns=stat.mtime_ns, inode=stat.inode
    )
    return dataclasses.replace(change, plan=plan)


def _count(report: SyncReport, change: PlanChange) -> None:
    """Add a plan change's database writes to the report's counts."""
    report.counts.tasks_created += len(change.created)
    report.counts.tasks_updated += len(change.updated)
    report.counts.tasks_deleted += len(change.deleted)
    report.counts.conflicts_opened += sum(
        1 for conflict in change.conflicts if conflict.status == "open"
    )


def _maybe_mid_save(stat: FileStat, stored: StoredPlanInfo | None) -> bool:
    """Whether a file may be caught in the middle of a save: it shrank since the last sync
    and was written a moment ago."""
    return (
        stored is not None
        and stat.size < stored.size
        and time.time_ns() - stat.mtime_ns <= _SETTLE_WINDOW_NS
    )


class _ChangeBatch:
    """Plan changes on their way to the store, written a batch at a time (one transaction
    each: a batch is all or nothing, so each plan still is).

    A batch is written on a thread of its own while the next one is prepared (the server
    ingests one while this process parses and matches the next); at most one is in flight,
    and ``flush`` returns when everything added is written. A failed write is raised by the
    next ``add`` or ``flush``."""

    def __init__(self, store: PlanStore, root_id: str, dry_run: bool) -> None:
        self._store = store
        self._root_id = root_id
        self._dry_run = dry_run
        self._changes: list[PlanChange] = []
        self._tasks = 0
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: Future[list[str | None]] | None = None

    def add(self, change: PlanChange) -> None:
        if self._dry_run:
            return
        self._changes.append(change)
        self._tasks += len(change.tasks) + 1
        if self._tasks >= _BATCH_TASKS:
            self._send()

    def flush(self) -> None:
        """Write what is left and wait for every write."""
        self._send()
        self._wait()

    def close(self) -> None:
        """Wait for the write in flight (even after an error elsewhere) and stop the thread."""
        try:
            self._wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None

    def _send(self) -> None:
        self._wait()
        if not self._changes:
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan-writes")
        changes, self._changes, self._tasks = self._changes, [], 0
        self._in_flight = self._writer.submit(
            self._store.apply_plan_changes, self._root_id, changes
        )

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()
